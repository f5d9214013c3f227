// Process-wide resource limits a node sets for itself at start.
#pragma once

#include <cstdint>
#include <string>

namespace civic::node {

struct descriptor_limit {
    std::uint64_t before = 0; // the soft limit the process was started with
    std::uint64_t now = 0;    // the soft limit in force
    std::uint64_t hard = 0;
};

/// Raises the soft limit on open descriptors to the hard one: a node's
/// connection caps are sized from it, and a low default (1024) would make them
/// needlessly small. Never lowers it; on failure leaves it as it was.
descriptor_limit raise_descriptor_limit();

/// "descriptor limit 1024 -> 524288 (hard 524288)", for the start-up log.
std::string describe(const descriptor_limit& limit);

} // namespace civic::node
