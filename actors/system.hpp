// The actor system configuration every Civic Attest process uses.
#pragma once

#include <caf/actor_system_config.hpp>

#include <chrono>
#include <cstddef>

namespace civic::actors {

struct system_options {
    /// Run on CAF's deterministic test coordinator (virtual time, no threads):
    /// the simulator and the tests.
    bool deterministic = false;
    /// BASP heartbeats, off by default in CAF 0.17: how a hung peer is detected.
    std::chrono::milliseconds heartbeat_interval{1000};
    std::chrono::milliseconds connection_timeout{5000};
    unsigned worker_threads = 0; // 0: CAF's default (number of cores)
    /// An idle CAF worker spins briefly, then (by default) polls its queue 500
    /// times with a 50 us sleep in between, then waits on a condition variable
    /// that the next enqueue signals. Those 20,000 wake-ups a second per idle
    /// worker cost more than they save on 2 cores: with none, signing with a
    /// replica ran 40% faster and a single node 8% (docs/PERFORMANCE.md).
    std::size_t moderate_poll_attempts = 0;
    /// TLS between nodes (caf::openssl): this node's certificate and key and the
    /// network's CA. With a CA, both sides must present a certificate it signed;
    /// without any, nodes cannot connect at all (CAF would fall back to an
    /// anonymous cipher, which we never allow: see `insecure_dev`).
    std::string tls_certificate = {};
    std::string tls_key = {};
    std::string tls_ca = {};
};

/// A config with the project's type ID block, the io middleman (and, with TLS
/// files, the openssl module) loaded, heartbeats on.
class system_config : public caf::actor_system_config {
public:
    explicit system_config(const system_options& options = {});
};

} // namespace civic::actors
