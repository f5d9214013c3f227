// Topology files: one YAML file describes a whole network (the log origin,
// regions and the latency between them, the nodes and their roles, replication
// settings, the witness policy). Validated on load; every error names the file,
// the line and the field. The format is documented in docs/TOPOLOGY.md.
#pragma once

#include "protocol/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace civic::node {

/// Limits on what a topology may hold (a file is input like any other).
constexpr std::size_t max_topology_bytes = 1 << 20;
constexpr std::size_t max_topology_nodes = 256;
constexpr std::size_t max_topology_regions = 64;

enum class node_role { leader, replica, witness };
const char* to_string(node_role role);

struct region_spec {
    std::string name;
    double local_ms = 0.5; // one-way latency between two nodes of this region
    double local_jitter_ms = 0.1;
};

/// One-way latency from one region to another (the same both ways unless the
/// file gives the reverse direction too).
struct latency_spec {
    std::string from, to;
    double ms = 0;
    double jitter_ms = 0;
};

struct node_spec {
    std::string name;
    std::string region;
    std::string host = "127.0.0.1";
    std::uint16_t caf_port = 0;
    std::uint16_t http_port = 0;
    std::vector<node_role> roles;
    bool may_lead = false;   // may be promoted to leader (the leader may always lead)
    std::string data;        // data directory
    std::string log_key;     // the log's signing key: the leader and may_lead nodes
    std::string witness_key; // the witness's cosigning key: witnesses
    /// A log list (logs/v0) of other logs a witness cosigns beside its
    /// network's: witnesses, optional.
    std::string witness_logs;

    bool has(node_role r) const;
};

struct replication_spec {
    std::size_t acks = 0;                       // replica acknowledgements a write waits for
    std::uint32_t heartbeat_ms = 1000;          // BASP heartbeats between nodes
    std::uint32_t connection_timeout_ms = 5000; // a peer silent this long is dead
    std::uint32_t reconnect_initial_ms = 100;   // reconnection backoff: first delay,
    std::uint32_t reconnect_max_ms = 10000;     // capped at this, with jitter
};

/// How the leader collects cosignatures (when the policy names witnesses).
struct witnessing_spec {
    std::uint32_t interval_ms = 1000; // at most one round per interval, when the tree grew
    std::uint32_t timeout_ms = 5000;  // per request to one witness
    /// CA certificates (PEM) that outside witnesses' HTTPS certificates must
    /// chain to, instead of the system's roots (a private witness network, tests).
    std::string outside_ca_file;
};

/// How the simulator models one of the policy's outside witnesses (a line
/// `witness NAME VKEY URL` with no node): where it runs and what it allows. A
/// node ignores this and asks the URL.
struct outside_witness_model {
    std::string name;
    std::string region;
    std::uint32_t qpd = 0; // add-checkpoint requests a day it allows this log (0: no limit)
    double service_ms = 2; // checking, persisting and cosigning one request
    bool tls = true;       // HTTPS: a new connection takes two round trips, not one
};

/// Gossip between all nodes (split-view detection).
struct gossip_spec {
    std::uint32_t period_ms = 1000; // one exchange round per period
    std::uint32_t fanout = 2;       // peers per round
};

/// Every node's background check of its own store (docs/SECURITY.md).
struct scrub_spec {
    std::uint64_t entries_per_second = 50000; // 0: no scrub
    std::uint32_t pass_interval_ms = 60000;   // a pass starts at most this often
};

struct topology {
    std::string file; // where it was read from, for messages
    std::string origin;
    std::vector<region_spec> regions;
    std::vector<latency_spec> latencies;
    std::vector<node_spec> nodes;
    replication_spec replication;
    witnessing_spec witnessing;
    gossip_spec gossip;
    scrub_spec scrub;
    /// Where `civic-attest certs` puts the network's CA (ca.crt) and each node's
    /// certificate and key (NAME.crt, NAME.key).
    std::string tls_dir = "certs";
    /// The log's verifier key (note format), which replicas check every
    /// checkpoint against; `civic-attest logkey` writes it with the key.
    std::string log_vkey = "log.vkey";
    /// The policy with every key filled in (tlog-policy), which `civic-attest
    /// keys` writes: the leader collects cosignatures by it, clients verify by it.
    std::string policy_file = "policy.txt";
    /// tlog-policy text. `witness NAME` lines without a key name a witness node
    /// of this topology, whose key is filled in from its key file.
    std::string policy;
    /// Where the policy's outside witnesses are, for the simulator.
    std::vector<outside_witness_model> outside_witnesses;

    const node_spec* find(const std::string& name) const;
    const node_spec* leader() const;
    /// One-way latency between two regions (mean, jitter).
    std::pair<double, double> latency(const std::string& from, const std::string& to) const;
};

/// A line of a topology's policy text split into its first words: the
/// keyword, the name, and for `witness` lines the key and URL when given (what
/// decides whether it names a node, an outside witness, or neither).
struct policy_line_words {
    std::string keyword, name, key, url;
};
policy_line_words split_policy_line(const std::string& line);

/// Parses and validates a topology; `file` names it in error messages.
result<topology> parse_topology(const std::string& text, const std::string& file);
/// Reads, parses and validates a topology file.
result<topology> load_topology(const std::string& path);

/// The single-node topology `serve` runs (topologies/single.yaml, built in).
const std::string& embedded_single_topology();

} // namespace civic::node
