#include "node/cli/audit/report.hpp"

#include "node/cli/commands.hpp"
#include "protocol/note.hpp"

#include <ostream>

namespace civic::node::audit {

std::string printable(std::string_view text) { return cli_detail::printable(text, 200); }

void violations::print(const std::string& line) {
    if (++count_ <= max_printed) out_ << "violation " << line << "\n" << std::flush;
}

void violations::at_entry(std::uint64_t index, const std::string& identity,
                          const std::string& message) {
    print("index=" + std::to_string(index) + " identity=" +
          (identity.empty() ? std::string("-") : printable(identity)) + ": " + message);
}

void violations::at_tile(const std::string& path, const std::string& message) {
    print("tile=" + path + ": " + message);
}

void violations::security_error(const std::string& message) {
    ++count_;
    out_ << "SECURITY ERROR: " << message << "\n" << std::flush;
}

void violations::finish() {
    if (count_ > max_printed)
        out_ << "violations: " << count_ - max_printed << " more not shown (" << count_
             << " in all)\n";
}

progress_line::progress_line(std::ostream* tty, std::uint64_t total) : tty_(tty), total_(total) {}

void progress_line::update(std::uint64_t done) {
    if (!tty_) return;
    auto now = clock::now();
    if (!started_) {
        started_ = true;
        first_ = done;
        begun_ = drawn_ = now;
        return;
    }
    if (now - drawn_ < std::chrono::milliseconds(100) && done != total_) return;
    drawn_ = now;
    auto seconds = std::chrono::duration<double>(now - begun_).count();
    auto rate = seconds > 0 ? static_cast<double>(done - first_) / seconds : 0.0;
    *tty_ << "\raudit: " << done << "/" << total_ << " entries, "
          << static_cast<std::uint64_t>(rate) << " entries/s   " << std::flush;
}

void progress_line::finish() {
    if (tty_ && started_) *tty_ << "\n";
    started_ = false;
}

} // namespace civic::node::audit
