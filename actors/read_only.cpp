#include "actors/read_only.hpp"

#include "actors/errors.hpp"
#include "storage/lmdb.hpp"

#include <algorithm>

namespace civic::actors {

void read_only_mode::configure(read_only_config config) {
    config_ = std::move(config);
    if (config_.on_change) config_.on_change({});
}

bool read_only_mode::failed(const caf::error& err, std::uint64_t bytes) {
    auto message = message_of(err);
    auto shortage = code_of(err) == static_cast<std::uint8_t>(errc::no_space)
                        ? storage::shortage_of(civic::make_error(message))
                        : storage::space_shortage::none;
    if (config_.on_commit_failed) config_.on_commit_failed(storage::shortage_label(shortage));
    if (shortage == storage::space_shortage::none) return false;
    probe_bytes_ = std::clamp(std::max(bytes, probe_bytes_), min_probe_bytes, max_probe_bytes);
    if (active()) return true; // a probe that still found no room
    reason_ = std::move(message);
    next_delay_ = config_.retry;
    if (config_.on_change) config_.on_change(reason_);
    return true;
}

std::chrono::milliseconds read_only_mode::next_probe_delay() {
    auto delay = std::max(next_delay_, std::chrono::milliseconds(1));
    next_delay_ = std::min(delay * 2, std::max(config_.retry_max, config_.retry));
    return delay;
}

void read_only_mode::leave() {
    if (!active()) return;
    reason_.clear();
    probe_bytes_ = 0;
    if (config_.on_change) config_.on_change({});
}

caf::error read_only_mode::refusal(const std::string& who) const {
    return make_error(errc::no_space, "the " + who + " is read-only: " + reason_ +
                                          "; writes resume by themselves once the store has room");
}

} // namespace civic::actors
