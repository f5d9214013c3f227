#include "actors/log.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdio>

namespace civic::log {
namespace {

spdlog::level::level_enum to_spdlog(level l) {
    switch (l) {
    case level::debug:
        return spdlog::level::debug;
    case level::info:
        return spdlog::level::info;
    case level::warning:
        return spdlog::level::warn;
    case level::error:
        return spdlog::level::err;
    case level::off:
        break;
    }
    return spdlog::level::off;
}

// The length of the valid UTF-8 sequence at text[i], or 0.
std::size_t utf8_length(std::string_view text, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char c = byte(i);
    std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (n == 0 || i + n > text.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((byte(i + k) & 0xc0) != 0x80) return 0;
    // Overlong three- and four-byte forms, surrogates, beyond U+10FFFF.
    if (n == 3 && ((c == 0xe0 && byte(i + 1) < 0xa0) || (c == 0xed && byte(i + 1) >= 0xa0)))
        return 0;
    if (n == 4 && ((c == 0xf0 && byte(i + 1) < 0x90) || (c == 0xf4 && byte(i + 1) >= 0x90)))
        return 0;
    return n;
}

// `text` between double quotes, escaped so that no byte of it can end the
// value or the line: quotes, backslashes, control characters and bytes that
// are not UTF-8. JSON and text lines escape alike, but for the form of an
// arbitrary byte (\u00XX is a valid JSON escape; \xXX reads better in text).
void append_quoted(std::string& out, std::string_view text, format style) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (std::size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            if (auto n = utf8_length(text, i)) {
                out.append(text.substr(i, n));
                i += n;
                continue;
            }
        }
        ++i;
        switch (c) {
        case '"':
            out += "\\\"";
            continue;
        case '\\':
            out += "\\\\";
            continue;
        case '\n':
            out += "\\n";
            continue;
        case '\r':
            out += "\\r";
            continue;
        case '\t':
            out += "\\t";
            continue;
        default:
            break;
        }
        if (c < 0x20 || c >= 0x7f) {
            out += style == format::json ? "\\u00" : "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
            continue;
        }
        out += static_cast<char>(c);
    }
    out += '"';
}

// A text value goes bare when nothing in it could be read as a separator.
bool bare_in_text(std::string_view v) {
    if (v.empty()) return false;
    for (unsigned char c : v) {
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-' || c == '.' || c == ':' || c == '/' || c == '@' ||
                     c == '+' || c == ',';
        if (!plain) return false;
    }
    return true;
}

void append_field(std::string& out, format style, std::string_view key, std::string_view value,
                  bool is_text) {
    if (style == format::json) {
        if (!out.empty()) out += ',';
        append_quoted(out, key, style);
        out += ':';
        if (is_text)
            append_quoted(out, value, style);
        else
            out.append(value);
        return;
    }
    if (!out.empty()) out += ' ';
    out.append(key);
    out += '=';
    if (is_text && !bare_in_text(value))
        append_quoted(out, value, style);
    else
        out.append(value);
}

std::shared_ptr<spdlog::logger> make_sink(const std::string& node, const options& opts) {
    std::shared_ptr<spdlog::sinks::sink> sink;
    if (opts.file.empty())
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    else
        sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(opts.file);
    // Not in spdlog's registry: several nodes (tests, the simulator) may run in
    // one process, each with its own logger.
    auto out = std::make_shared<spdlog::logger>(node, std::move(sink));
    out->set_pattern(opts.style == format::json
                         ? R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})"
                         : "%Y-%m-%dT%H:%M:%S.%eZ %l %v",
                     spdlog::pattern_time_type::utc);
    out->set_level(to_spdlog(opts.min_level));
    out->flush_on(spdlog::level::debug); // a line is on disk before the next event
    return out;
}

} // namespace

std::optional<level> parse_level(std::string_view name) {
    if (name == "debug") return level::debug;
    if (name == "info") return level::info;
    if (name == "warning" || name == "warn") return level::warning;
    if (name == "error") return level::error;
    if (name == "off") return level::off;
    return std::nullopt;
}

std::optional<format> parse_format(std::string_view name) {
    if (name == "text") return format::text;
    if (name == "json") return format::json;
    return std::nullopt;
}

field::field(std::string_view k, double v) : key(k), is_text(false) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    value = buf;
}

logger::logger(std::string node, level min, format style, std::shared_ptr<spdlog::logger> sink)
    : node_(std::move(node)), min_level_(min), style_(style), sink_(std::move(sink)) {}

logger_ptr logger::make(std::string node, const options& opts) {
    if (opts.min_level == level::off) return none();
    auto sink = make_sink(node, opts);
    return std::make_shared<const logger>(std::move(node), opts.min_level, opts.style,
                                          std::move(sink));
}

logger_ptr logger::none() {
    static const logger_ptr silent =
        std::make_shared<const logger>(std::string{}, level::off, format::text, nullptr);
    return silent;
}

void logger::write(level l, std::string_view actor, std::string_view message,
                   std::initializer_list<field> fields) const {
    if (!enabled(l)) return;
    auto line = render(style_, node_, actor, message, fields);
    sink_->log(to_spdlog(l), spdlog::string_view_t(line.data(), line.size()));
}

std::string render(format style, std::string_view node, std::string_view actor,
                   std::string_view message, std::initializer_list<field> fields) {
    std::string out;
    out.reserve(96 + message.size());
    append_field(out, style, "node", node, true);
    append_field(out, style, "actor", actor, true);
    // The message is always quoted in text: it reads as one value.
    if (style == format::json) {
        append_field(out, style, "msg", message, true);
    } else {
        out += " msg=";
        append_quoted(out, message, style);
    }
    for (const auto& f : fields)
        append_field(out, style, f.key, f.value, f.is_text);
    return out;
}

} // namespace civic::log
