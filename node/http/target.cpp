#include "node/http/target.hpp"

namespace civic::node {
namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool is_unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/// The byte that `text[at..at+2]` ("%XX") stands for, or nothing.
std::optional<unsigned char> escaped_byte(std::string_view text, std::size_t at) {
    if (at + 2 >= text.size()) return std::nullopt;
    int hi = hex_digit(text[at + 1]), lo = hex_digit(text[at + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    return static_cast<unsigned char>(hi * 16 + lo);
}

/// The path, decoding only escapes of unreserved characters.
result<std::string> decode_path(std::string_view path) {
    std::string out;
    out.reserve(path.size());
    for (std::size_t i = 0; i < path.size(); ++i) {
        auto c = static_cast<unsigned char>(path[i]);
        if (is_control(c)) return make_error("a control character in the path");
        if (c != '%') {
            out.push_back(path[i]);
            continue;
        }
        auto byte = escaped_byte(path, i);
        if (!byte) return make_error("a malformed %-escape in the path");
        if (is_unreserved(*byte))
            out.push_back(static_cast<char>(*byte));
        else
            out.append(path.substr(i, 3));
        i += 2;
    }
    return out;
}

} // namespace

result<std::string> percent_decode(std::string_view text, bool plus_is_space) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c == '+' && plus_is_space) {
            out.push_back(' ');
            continue;
        }
        if (c == '%') {
            auto byte = escaped_byte(text, i);
            if (!byte) return make_error("a malformed %-escape");
            c = *byte;
            i += 2;
        }
        if (is_control(c)) return make_error("a control character");
        out.push_back(static_cast<char>(c));
    }
    return out;
}

result<request_target> parse_target(std::string_view raw) {
    if (raw.empty() || raw.front() != '/') return make_error("the target must start with '/'");
    auto q = raw.find('?');
    request_target t;
    auto path = decode_path(raw.substr(0, q));
    if (!path) return path.err();
    t.path = std::move(*path);
    if (q == std::string_view::npos) return t;
    auto rest = raw.substr(q + 1);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        auto pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (pair.empty()) continue; // "a=1&&b=2" and a trailing '&'
        if (t.query.size() == max_query_params)
            return make_error("more than " + std::to_string(max_query_params) +
                              " query parameters");
        auto eq = pair.find('=');
        auto name = percent_decode(pair.substr(0, eq), true);
        if (!name) return make_error("query parameter name: " + name.message());
        auto value = percent_decode(
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!value) return make_error("query parameter '" + *name + "': " + value.message());
        if (!t.query.emplace(std::move(*name), std::move(*value)).second)
            return make_error("query parameter '" + std::string(pair.substr(0, eq)) +
                              "' given twice");
    }
    return t;
}

} // namespace civic::node
