// What an audit tells: violations on stdout, one a line (the first
// max_printed of them, then a count), and a progress line on a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace civic::node::audit {

class violations {
public:
    static constexpr std::uint64_t max_printed = 1000;
    explicit violations(std::ostream& out) : out_(out) {}

    /// "violation index=I identity=NAME: message" (NAME "-" when unknown).
    void at_entry(std::uint64_t index, const std::string& identity, const std::string& message);
    /// "violation tile=PATH: message" (PATH is what the log serves, or "checkpoint").
    void at_tile(const std::string& path, const std::string& message);
    /// "SECURITY ERROR: message": the log showed two histories, or went back
    /// on one. Always printed.
    void security_error(const std::string& message);
    /// Prints how many were not shown, if any.
    void finish();
    std::uint64_t count() const { return count_; }

private:
    void print(const std::string& line);
    std::ostream& out_;
    std::uint64_t count_ = 0;
};

/// "audit: 123456/1000000 entries, 41234 entries/s" redrawn on one terminal
/// line at most ten times a second; silent when `tty` is null.
class progress_line {
public:
    progress_line(std::ostream* tty, std::uint64_t total);
    void update(std::uint64_t done);
    /// Ends the line (if one was drawn).
    void finish();

private:
    using clock = std::chrono::steady_clock;
    std::ostream* tty_;
    std::uint64_t total_;
    std::uint64_t first_ = 0;
    bool started_ = false;
    clock::time_point begun_, drawn_;
};

/// Text from the log (an identity, a message) safe on a terminal: control
/// characters and invalid UTF-8 become '?', cut to 200 characters.
std::string printable(std::string_view text);

} // namespace civic::node::audit
