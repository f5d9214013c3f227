// The simulation's one clock: virtual time, and what is due at which time.
// Nothing in the simulator reads a wall clock for what it decides.
#pragma once

#include "node/sim/simulation.hpp"

#include <caf/actor_clock.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

namespace civic::node::sim {

using time_point = caf::actor_clock::time_point;

/// Unix time at the simulation's virtual zero (2026-01-01T00:00:00Z): fixed, so
/// that timestamps, and so the report, do not depend on when it runs.
constexpr std::chrono::milliseconds sim_epoch_unix{1767225600000};

/// A duration in milliseconds, as reports count.
inline double ms(sim_duration d) { return static_cast<double>(d.count()) / 1000.0; }

class virtual_clock {
public:
    time_point now() const { return now_; }
    void set(time_point t) { now_ = t; }
    /// Virtual milliseconds since the start (for log lines).
    std::int64_t milliseconds() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(now_.time_since_epoch())
            .count();
    }
    /// Virtual seconds since the start.
    double seconds() const {
        return std::chrono::duration<double>(now_.time_since_epoch()).count();
    }

    /// Runs `f` at `t`; events due at the same time run in the order they were added.
    void at(time_point t, std::function<void()> f) {
        events_.emplace(std::make_pair(t, sequence_++), std::move(f));
    }
    /// When the next event is due (nothing when none is).
    std::optional<time_point> next_event() const {
        if (events_.empty()) return std::nullopt;
        return events_.begin()->first.first;
    }
    /// The next event due by now, taken off the queue (nothing when none is due).
    std::optional<std::function<void()>> take_due() {
        if (events_.empty() || events_.begin()->first.first > now_) return std::nullopt;
        auto f = std::move(events_.begin()->second);
        events_.erase(events_.begin());
        return f;
    }

private:
    time_point now_{};
    std::multimap<std::pair<time_point, std::uint64_t>, std::function<void()>> events_;
    std::uint64_t sequence_ = 0;
};

} // namespace civic::node::sim
