// A node's log: one logger per node, lines of key=value fields (or one JSON
// object each) on stderr, for what an operator asks about after an incident:
// restarts, reconnections, failed commits, witnesses that time out or refuse,
// fencing, stepping down, evidence, and what a node found at start.
//
// Every line names its node and the actor (or part) that wrote it:
//
//   2026-12-02T05:20:01.123Z warning node=leader actor=collector msg="witness timed out" witness=w2
//   after_ms=5000
//   {"time":"2026-12-02T05:20:01.123Z","level":"warning","node":"leader","actor":"collector","msg":"witness
//   timed out","witness":"w2","after_ms":5000}
//
// Values are escaped (a peer's or client's text cannot forge a line), and
// nothing secret is ever a field: no key, no token, no request body.
// Logging is a side effect only: an actor behaves the same at any level, so
// the simulator (which logs nothing unless asked) runs the same code.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace spdlog {
class logger;
} // namespace spdlog

namespace civic::log {

enum class level { debug, info, warning, error, off };
enum class format { text, json };

/// "debug", "info", "warning" (or "warn"), "error", "off"; nothing else.
std::optional<level> parse_level(std::string_view name);
/// "text" or "json"; nothing else.
std::optional<format> parse_format(std::string_view name);

/// One field of a line: a key and its value (a string, quoted as needed, or a
/// number or boolean, bare).
struct field {
    field(std::string_view k, std::string_view v) : key(k), value(v), is_text(true) {}
    field(std::string_view k, const std::string& v) : field(k, std::string_view(v)) {}
    field(std::string_view k, const char* v) : field(k, std::string_view(v)) {}
    field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), is_text(false) {}
    template <class T, class = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
    field(std::string_view k, T v) : key(k), value(std::to_string(v)), is_text(false) {}
    field(std::string_view k, double v);

    std::string_view key;
    std::string value;
    bool is_text;
};

struct options {
    level min_level = level::info;
    format style = format::text;
    /// Where lines go: empty for stderr, else appended to this file (tests, the
    /// simulator).
    std::string file = {};
};

/// A node's logger. Thread-safe; cheap to copy by shared pointer into actors.
class logger {
public:
    /// Lines for node `node` as `opts` says.
    static std::shared_ptr<const logger> make(std::string node, const options& opts);
    /// A logger that writes nothing (the default of every actor's config).
    static std::shared_ptr<const logger> none();

    bool enabled(level l) const { return sink_ && l >= min_level_; }

    void write(level l, std::string_view actor, std::string_view message,
               std::initializer_list<field> fields = {}) const;
    void debug(std::string_view actor, std::string_view message,
               std::initializer_list<field> fields = {}) const {
        write(level::debug, actor, message, fields);
    }
    void info(std::string_view actor, std::string_view message,
              std::initializer_list<field> fields = {}) const {
        write(level::info, actor, message, fields);
    }
    void warn(std::string_view actor, std::string_view message,
              std::initializer_list<field> fields = {}) const {
        write(level::warning, actor, message, fields);
    }
    void error(std::string_view actor, std::string_view message,
               std::initializer_list<field> fields = {}) const {
        write(level::error, actor, message, fields);
    }

    const std::string& node() const { return node_; }

    logger(std::string node, level min, format style, std::shared_ptr<spdlog::logger> sink);

private:
    std::string node_;
    level min_level_;
    format style_;
    std::shared_ptr<spdlog::logger> sink_;
};

using logger_ptr = std::shared_ptr<const logger>;

/// The fields of one line as text ("node=a actor=b msg=\"...\" k=v"), or as
/// the members of a JSON object without its braces; for the logger and tests.
std::string render(format style, std::string_view node, std::string_view actor,
                   std::string_view message, std::initializer_list<field> fields);

} // namespace civic::log
