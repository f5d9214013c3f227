// How an actor that commits to a store rides out a full disk (the ledger and
// the replica; see their interfaces in actors.hpp): a commit that found no
// room makes it read-only instead of stopping it, and it probes the store on
// its own clock, with backoff, until a write goes through.
#pragma once

#include "actors/actors.hpp"
#include "actors/log.hpp"

#include <caf/error.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace civic::actors {

struct read_only_config {
    /// The first probe this long after a commit found no room, then twice as
    /// long after each probe that finds none, up to `retry_max`.
    std::chrono::milliseconds retry{1000};
    std::chrono::milliseconds retry_max{30000};
    /// Called on the actor's thread when it becomes read-only (the reason), when
    /// it takes writes again (empty), and at its start (empty): metrics and log
    /// only, must not call back into actors.
    std::function<void(const std::string& reason)> on_change;
    /// Called on the actor's thread for each failed commit (or probe), with the
    /// reason's label (storage::shortage_label: "no_space", "quota", "map_full",
    /// "other").
    std::function<void(const char* reason)> on_commit_failed;
};

/// One actor's read-only state.
class read_only_mode {
public:
    void configure(read_only_config config);
    bool active() const { return !reason_.empty(); }
    /// Why writes are refused (empty while they are not).
    const std::string& reason() const { return reason_; }
    /// A commit or probe failed with `err` (`bytes`: what it tried to write).
    /// Counts it; when the store found no room, the actor is read-only from
    /// now on (reported once) and this returns true; otherwise false.
    bool failed(const caf::error& err, std::uint64_t bytes);
    /// How long to wait before the next probe (each call doubles the next one).
    std::chrono::milliseconds next_probe_delay();
    /// How many bytes the next probe writes: about what the failed commit needed.
    std::uint64_t probe_bytes() const { return probe_bytes_; }
    /// A probe went through: writes are taken again (reported once).
    void leave();
    /// The error a write gets while read-only; `who` names the actor ("ledger").
    caf::error refusal(const std::string& who) const;

private:
    read_only_config config_;
    std::string reason_;
    std::chrono::milliseconds next_delay_{0};
    std::uint64_t probe_bytes_ = 0;
};

/// Probes smaller than this say little; larger ones cost a full batch's fsync.
constexpr std::uint64_t min_probe_bytes = 64 * 1024;
constexpr std::uint64_t max_probe_bytes = 8 * 1024 * 1024;

} // namespace civic::actors
