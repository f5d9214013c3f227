// One Civic Attest node: its data directory and ledger store, its actors under a
// supervision tree, its gateway for peers (over CAF, with TLS) and the HTTP API.
// A leader sequences and signs; a replica holds a verified copy of the leader's
// ledger, serves every read from it and forwards sign requests to the leader.
// `serve` runs the embedded single-node default: a leader with no peers.
#pragma once

#include "node/config/options.hpp"
#include "node/system/data_dir.hpp"
#include "protocol/result.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace civic::node {

class service {
public:
    /// Opens the data directory, checks the stored tree against the latest signed
    /// checkpoint (refusing to start, with the reason, when they disagree),
    /// starts the actors and the HTTP server.
    static result<std::unique_ptr<service>> start(const service_options& options);
    ~service();
    std::uint16_t http_port() const;
    /// Where peers reach the gateway (0: not published).
    std::uint16_t caf_port() const;
    /// Whether it leads now (its store may override the topology: promoted, deposed).
    bool leading() const;
    /// "leader", "replica", "witness", or such joined with '+' ("replica+witness").
    std::string role_name() const;
    /// The HTTP server's connection limits in force.
    const http_options& http_limits() const;
    /// Why the role differs from the one asked for, or empty.
    const std::string& role_note() const;
    /// Why the node's supervision tree gave up (restarts did not help), or
    /// nothing while it runs: the process should then exit non-zero, for its
    /// service manager to start it again.
    std::optional<std::string> failure() const;
    /// Stops one of the node's supervised actors abruptly (tests and drills:
    /// the supervisor must bring it back). False when no such actor runs.
    bool kill_actor(const std::string& name);
    /// Reads the witness's log list again and makes it the one in force (a
    /// witness restarted later starts with it): how many logs it trusts now.
    /// A list that cannot be read leaves the old one in force.
    result<std::size_t> reload_witness_logs();
    void stop();

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

} // namespace civic::node
