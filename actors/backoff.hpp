// Reconnection backoff shared by the actors that keep links to peers.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace civic::actors {

/// The delay before retry number `failures` (1, 2, ...): initial * 2^(failures-1),
/// capped at `max`, then scaled by a factor drawn from [0.5, 1.5) so that peers
/// that lost a node together do not all come back at the same moment.
inline std::chrono::milliseconds backoff_delay(std::chrono::milliseconds initial,
                                               std::chrono::milliseconds max,
                                               std::uint32_t failures, std::minstd_rand& jitter) {
    auto exponent = std::min<std::uint32_t>(failures > 0 ? failures - 1 : 0, 30);
    auto base = std::min<std::int64_t>(initial.count() << exponent, max.count());
    std::uniform_real_distribution<double> factor(0.5, 1.5);
    auto delay = static_cast<std::int64_t>(static_cast<double>(base) * factor(jitter));
    return std::chrono::milliseconds(std::clamp<std::int64_t>(delay, 1, max.count()));
}

} // namespace civic::actors
