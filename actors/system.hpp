// The actor system configuration every Civic Attest process uses.
#pragma once

#include <caf/actor_system_config.hpp>

#include <chrono>

namespace civic::actors {

struct system_options {
    /// Run on CAF's deterministic test coordinator (virtual time, no threads):
    /// the simulator and the tests.
    bool deterministic = false;
    /// BASP heartbeats, off by default in CAF 0.17: how a hung peer is detected.
    std::chrono::milliseconds heartbeat_interval{1000};
    std::chrono::milliseconds connection_timeout{5000};
    unsigned worker_threads = 0; // 0: CAF's default (number of cores)
};

/// A config with the project's type ID block, the io middleman loaded, heartbeats on.
class system_config : public caf::actor_system_config {
public:
    explicit system_config(const system_options& options = {});
};

} // namespace civic::actors
