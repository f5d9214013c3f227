// What a node runs with: where it stands in its network, its roles, its HTTP,
// ledger and scrub settings, and its log. Made from a topology
// (config/from_topology.hpp) or from `serve`'s flags (cli/run.cpp), read by
// the node (service/service.hpp) and the simulator alike.
#pragma once

#include "actors/collector.hpp"
#include "actors/ledger.hpp"
#include "actors/log.hpp"
#include "actors/peer_link.hpp"
#include "actors/scrubber.hpp"
#include "actors/system.hpp"
#include "node/http/server.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace civic::node {

/// Where a node stands in its network. The defaults are a single node that
/// leads and that no peer can reach (`serve`).
struct network_options {
    std::string node_name = "single";
    bool leading = true;
    std::string caf_host = "127.0.0.1";
    std::uint16_t caf_port = 0; // where the gateway is published (0: nowhere)
    /// Replicas: the gateways of the nodes that may lead (the replica follows
    /// the one that leads under the newest epoch), and the log's verifier key
    /// (note format), against which every batch's checkpoint is checked.
    std::vector<std::pair<std::string, std::uint16_t>> leader_candidates;
    std::string log_vkey;
    /// Every other node's gateway: a leader asks them for their epoch at start,
    /// and steps down if one knows a newer one (it was deposed while away).
    std::vector<std::pair<std::string, std::uint16_t>> peers;
    actors::system_options system; // TLS material, heartbeats
    /// Publish and connect without TLS. Only for development on one machine:
    /// anyone who can reach the port can then join or forward requests.
    bool insecure_dev = false;
    std::chrono::milliseconds reconnect_initial{100};
    std::chrono::milliseconds reconnect_max{10000};
    std::uint64_t seed = 1; // reconnection jitter
    /// The network's policy, every key filled in (tlog-policy text). A leader
    /// collects cosignatures from the `witnesses` it names (their gateways);
    /// every node tells in bundles which witnesses cosigned.
    std::string policy_text;
    std::vector<actors::witness_endpoint> witnesses;
    /// The policy's witnesses outside the network (a URL in the policy, no node
    /// of the topology): asked over tlog-witness HTTP(S).
    std::vector<actors::outside_witness_spec> outside_witnesses;
    /// CA certificates (PEM) that outside witnesses' HTTPS certificates must
    /// chain to instead of the system's roots; empty: the system's.
    std::string outside_witness_ca_file;
    std::chrono::milliseconds cosign_interval{1000}; // at most one cosigning round per interval
    std::chrono::milliseconds witness_timeout{5000}; // per request to a witness
    /// Gossip: the peers this node opens exchanges with (`gossip_fanout` of them
    /// every `gossip_period`); every node answers the exchanges others open.
    std::vector<actors::peer_endpoint> gossip_peers;
    std::chrono::milliseconds gossip_period{1000};
    std::size_t gossip_fanout = 2;
    /// Every other node of the topology by its peer endpoint (host, port): the
    /// name its TLS certificate must carry, whichever side opens the connection.
    std::map<std::pair<std::string, std::uint16_t>, std::string> peer_names;
    /// The other nodes that may join as replicas (those that hold the log: a
    /// deposed leader follows the new one), and those that may lead (and so ask
    /// witnesses for cosignatures): the gateway holds authenticated senders to
    /// their roles.
    std::set<std::string> replica_names, log_node_names;
    /// How long connecting to a peer may take (0: the connection timeout, at
    /// least 1 s). Through the peer port's TLS front a connection takes three TLS
    /// handshakes, so a node with the front gives it longer (service.cpp).
    std::chrono::milliseconds connect_timeout{0};
    /// The peer port's caps (process only: see peer_tls.hpp).
    std::size_t max_peer_connections = 0; // 0: from the descriptor limit
    std::size_t max_peer_connections_per_address = 64;
};

/// The witness role (C2SP tlog-witness): cosigns the log's checkpoints, which
/// it checks against the log's verifier key (network_options::log_vkey).
struct witness_options {
    bool enabled = false;
    std::string key_file; // its cosigning key (signer key format, type 0x04)
    /// A log list (logs/v0) of other logs it cosigns, each within its qpd;
    /// re-read on reload (SIGHUP). Empty: only the network's log.
    std::string logs_file;
    /// Fault injection for tests: called after a round of cosignatures is
    /// durable and before any of it is answered.
    std::function<void()> after_persist;
    /// The simulator's planted bug (see actors::witness_config): never set by
    /// a topology or a node flag.
    bool test_skip_consistency_check = false;
};

struct service_options {
    std::string data_dir;
    /// Whether the node holds the ledger (a leader or a replica). A node that
    /// is only a witness has none: its data directory holds its witness store.
    bool holds_ledger = true;
    witness_options witness;
    /// Test mode only: a leader that equivocates (gossips another tree of the
    /// same size to every second peer), to show that the network catches it.
    bool test_equivocate = false;
    http_options http;
    actors::ledger_config ledger;
    actors::scrubber_config scrub;                  // the background check of the store
    std::chrono::milliseconds actor_timeout{10000}; // every request from the HTTP side
    network_options network;
    log::options log; // --log-level, --log-format; stderr
};

} // namespace civic::node
