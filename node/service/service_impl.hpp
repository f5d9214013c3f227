// Internal to node/service/: the state of one running node, shared by
// service.cpp (start, the peer port, the gateway, the HTTP API, stop) and
// reports.cpp (what it logs and counts: read-only changes, damage, identity
// keys, the start-up summary, the actors' runtime hooks).
#pragma once

#include "actors/bridge.hpp"
#include "actors/directory.hpp"
#include "actors/gateway.hpp"
#include "actors/log.hpp"
#include "actors/peer_directory.hpp"
#include "actors/system.hpp"
#include "node/api/node_api.hpp"
#include "node/http/server.hpp"
#include "node/peer/peer_tls.hpp"
#include "node/service/metrics.hpp"
#include "node/service/node_tree.hpp"
#include "node/service/operations.hpp"
#include "node/service/service.hpp"
#include "protocol/policy.hpp"
#include "storage/ledger_store.hpp"
#include "storage/witness_store.hpp"

#include <caf/actor_system.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace civic::node {

using json = nlohmann::json;

struct service::impl {
    service_options options;
    log::logger_ptr logger = log::logger::none(); // the node's one log
    std::string origin;
    std::shared_ptr<storage::ledger_store> store;
    std::unique_ptr<actors::system_config> cfg;
    std::unique_ptr<caf::actor_system> sys;
    /// The current handles of the supervised actors: "committer", then "ledger"
    /// and "signer" on a leader, "replica" and "uplink" on a replica.
    std::shared_ptr<actors::directory> directory = std::make_shared<actors::directory>();
    actors::supervisor_actor supervision_root;
    actors::gateway_actor gateway;
    std::uint16_t published_port = 0;
    std::string role_note;     // why the role differs from the topology's, if it does
    json identity_keys_report; // a leader's identity keys at start (null elsewhere)
    mutable std::mutex failure_mutex;
    std::optional<std::string> failure;
    std::vector<actors::bridge_actor> bridges;
    /// What the HTTP API reaches the node through, and the API itself (both
    /// before `http`: the server is stopped and gone first).
    std::unique_ptr<api::operations> operations;
    std::unique_ptr<api::node_api> api;
    std::unique_ptr<http_server> http;
    std::unique_ptr<peer_tls> peer_front; // the peer port, on a TLS network
    /// Remote CAF nodes by the names their certificates carry (filled by the front).
    std::shared_ptr<actors::peer_directory> peers;
    /// The gateway's actor id, for the front's receiver check (0 until spawned).
    std::atomic<std::uint64_t> gateway_id{0};
    std::unique_ptr<policy_verifier> trust; // this log's key; caches checkpoint verdicts
    /// The network's policy (when it has one): which witnesses cosigned a checkpoint.
    std::unique_ptr<policy_verifier> network_trust;
    bool collecting = false;           // a leader with witnesses to ask
    std::size_t evidence_at_start = 0; // split-view evidence held, for the start-up line
    std::unique_ptr<metrics> stats;    // outlives the actors and the HTTP server
    std::shared_ptr<storage::witness_store> witness_store; // witnesses only
    std::shared_ptr<storage::witness_store> gossip_store;  // split-view evidence
    std::shared_ptr<witness_logs_holder> witness_logs;     // witnesses only
    /// Why a store refuses writes, as its actor last reported; empty while it
    /// takes them. Guarded: set on an actor's thread, read on HTTP ones.
    struct read_only_report {
        std::string reason;
        std::chrono::steady_clock::time_point since{};
    };
    mutable std::mutex read_only_mutex;
    read_only_report read_only_store;   // the ledger's or the replica's
    read_only_report read_only_witness; // the witness's

    /// The ledger, replica or witness (`role`) reported a change (see
    /// node_runtime::on_read_only): logged and shown in the metrics once per
    /// change, not once per request.
    void set_read_only(read_only_report& report, const char* role, const std::string& reason);
    /// Why writes are refused now, or nothing.
    std::optional<std::string> read_only_now() const {
        std::lock_guard lock(read_only_mutex);
        if (read_only_store.reason.empty()) return std::nullopt;
        return read_only_store.reason;
    }
    /// Spawns the supervision tree and waits until its last child runs.
    civic::status start_tree(actors::supervisor_config tree);
    /// Logs what disables identities at start and keeps it for /api/status.
    void report_identity_keys(const opened_ledger& ledger);
    /// On a TLS network: binds the peer port behind its TLS front and points every
    /// peer endpoint at the front's forwarder for it (see peer_tls.hpp).
    civic::status start_peer_front();
    /// Spawns the gateway and publishes it on the CAF port (TLS unless insecure_dev).
    civic::status publish_gateway();
    /// Starts the HTTP server on the routes of this node.
    civic::status start_http();
    node_parts api_parts() const;
    /// A leader with peers asks them for the newest epoch before it signs
    /// anything, and steps down when one knows a newer one (leadership.hpp).
    civic::status step_down_if_deposed(opened_ledger& opened);
    /// The log's key alone, and the network's policy if it has one.
    civic::status load_trust(const std::string& log_vkey);
    /// How this node's actors run in a process, reporting to its metrics.
    node_runtime runtime();
    /// Builds and starts the supervision tree (`ledger`: null on a node that is
    /// only a witness) and publishes the gateway.
    civic::status start_actors(const opened_ledger* ledger);

    /// One line of what the node found at start: its role, tree, epoch and
    /// what is wrong with its store or keys.
    void log_start_summary() const;
    /// Logs each range the store newly finds damaged, once, and counts it.
    void watch_damage();
};

} // namespace civic::node
