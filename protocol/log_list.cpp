#include "protocol/log_list.hpp"

#include <map>

namespace civic::witness {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

/// A line's key and value: "key VALUE" (the value may be empty for a bad line).
struct key_value {
    std::string_view key, value;
};

key_value split(std::string_view line) {
    auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos) return {line, {}};
    return {line.substr(0, space), trim(line.substr(space + 1))};
}

result<std::uint32_t> parse_qpd(std::string_view text) {
    auto bad = [] {
        return make_error("qpd must be a decimal number from 1 to 2147483647 without leading "
                          "zeroes");
    };
    if (text.empty() || text.size() > 10 || text[0] == '0') return bad();
    std::uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return bad();
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > max_qpd) return bad();
    return static_cast<std::uint32_t>(v);
}

/// The list's meaningful lines: trimmed, without blanks and comments, with
/// their line numbers.
struct numbered_line {
    std::size_t number;
    std::string_view text;
};

std::vector<numbered_line> meaningful_lines(std::string_view text) {
    std::vector<numbered_line> out;
    std::size_t number = 0, pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        ++number;
        auto line = trim(text.substr(pos, end - pos));
        pos = end + 1;
        if (line.empty() || line.front() == '#') continue;
        out.push_back({number, line});
    }
    return out;
}

} // namespace

result<log_list> parse_log_list(std::string_view text) {
    if (text.size() > max_log_list_size)
        return make_error("the list is larger than " + std::to_string(max_log_list_size) +
                          " bytes");
    auto lines = meaningful_lines(text);
    if (lines.empty() || lines.front().text != "logs/v0")
        return make_error(lines.empty() ? std::string("the list is empty: no 'logs/v0' line")
                                        : "line " + std::to_string(lines.front().number) +
                                              ": expected the header 'logs/v0'");
    log_list out;
    std::map<std::string, std::size_t> first_line_of; // origin -> its item's vkey line
    std::size_t i = 1;
    auto problem = [&out](std::size_t line, std::string message) {
        out.problems.push_back({line, std::move(message)});
    };
    // Skips to the next vkey line after a bad item.
    auto skip_item = [&lines, &i] {
        while (i < lines.size() && split(lines[i].text).key != "vkey")
            ++i;
    };
    while (i < lines.size()) {
        const auto& first = lines[i];
        auto kv = split(first.text);
        if (kv.key != "vkey") {
            problem(first.number, "expected 'vkey VKEY' to start a log, got '" +
                                      std::string(kv.key.substr(0, 40)) + "'");
            ++i;
            skip_item();
            continue;
        }
        ++i;
        listed_log item;
        item.line = first.number;
        auto key = note::parse_vkey(kv.value);
        if (!key || key->type != note::type_ed25519) {
            problem(first.number, key ? "the vkey is not an Ed25519 (alg 1) key" : key.message());
            skip_item();
            continue;
        }
        item.key = std::move(*key);
        item.origin = item.key.name;
        // Strict order: [origin], qpd, contact.
        auto expect = [&](std::string_view name) -> const numbered_line* {
            if (i >= lines.size()) {
                problem(lines.back().number, "the log of line " + std::to_string(item.line) +
                                                 " ends without '" + std::string(name) + "'");
                return nullptr;
            }
            if (split(lines[i].text).key != name) {
                problem(lines[i].number, "expected '" + std::string(name) +
                                             "' for the log of line " + std::to_string(item.line));
                return nullptr;
            }
            return &lines[i++];
        };
        if (i < lines.size() && split(lines[i].text).key == "origin") {
            auto origin = split(lines[i].text).value;
            if (origin.empty() || origin.size() > note::max_note_size) {
                problem(lines[i].number, "the origin is empty or too long");
                skip_item();
                continue;
            }
            item.origin = std::string(origin);
            ++i;
        }
        const auto* qpd_line = expect("qpd");
        if (!qpd_line) {
            skip_item();
            continue;
        }
        auto qpd = parse_qpd(split(qpd_line->text).value);
        if (!qpd) {
            problem(qpd_line->number, qpd.message());
            skip_item();
            continue;
        }
        item.qpd = *qpd;
        const auto* contact_line = expect("contact");
        if (!contact_line) {
            skip_item();
            continue;
        }
        item.contact = std::string(split(contact_line->text).value);
        if (auto seen = first_line_of.find(item.origin); seen != first_line_of.end()) {
            problem(item.line, "the origin '" + item.origin.substr(0, 200) +
                                   "' is listed already, at line " + std::to_string(seen->second));
            continue;
        }
        if (out.logs.size() == max_listed_logs) {
            problem(item.line, "more than " + std::to_string(max_listed_logs) +
                                   " logs: this one and the rest are ignored");
            break;
        }
        first_line_of.emplace(item.origin, item.line);
        out.logs.push_back(std::move(item));
    }
    return out;
}

} // namespace civic::witness
