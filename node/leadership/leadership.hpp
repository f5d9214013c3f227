// Leadership: which node of a network leads, and how another takes over when
// it fails. Failover is manual: an operator promotes a replica; the old leader
// steps down by itself when it comes back.
//
// Epochs. Every store keeps the leadership epoch its node knows of
// (storage::epoch_setting, written by storage::store_epoch): 0 for the first
// leader, one more with each promotion. A leader stamps its epoch on every
// batch it replicates (actors/ledger.cpp). A replica (actors/replica.cpp)
// refuses a batch from an older epoch with errc::not_leader, so a deposed
// leader gets no acknowledgement and commits nothing more; a batch from a
// newer epoch, once its checkpoint is signed by the log key, makes the replica
// store that epoch durably before it accepts anything of it, so that the old
// leader is still refused after a restart. A replica's uplink (actors/uplink.cpp)
// joins only a candidate that says it leads under at least the newest epoch it
// knows, passing over a deposed leader that still thinks it leads. And a
// leader signs no batch while fewer replicas than its acknowledgement count
// have joined it (the ledger's fencing): one cut off from them, perhaps
// deposed meanwhile, cannot sign checkpoints of a history nobody else holds.
//
// Roles. A node's role is what its topology says, unless storage::role_setting
// in its store says otherwise: "leader" after a promotion, "replica" after a
// step-down.
//
// Promote (`civic-attest promote`, promote() below). The candidate is a stopped
// replica that may lead and holds the log key. Safe by default: it is refused
// while another node answers as the leader, or when another node holds more
// entries (the candidate may lack acknowledged ones); `force` overrides both.
// The log key is checked against the network's verifier key and copied into
// the candidate's data directory; identity keys and API tokens may be copied
// from the old leader's data directory (or a backup), so that identities keep
// signing and clients keep their tokens. Then the candidate stores the newest
// epoch any answering node knows, plus one, and the role "leader"; started
// again, it leads under that epoch, and the replicas follow it.
//
// Step-down (step_down.cpp, called by service::start). A leader with peers
// asks them for their epochs before it signs anything. When one knows a newer
// epoch, the leader was deposed while away: its ledger, which may end in a
// batch no replica got, is set aside (ledger.deposed-epoch-N, kept for
// inspection, never served), and it starts again as an empty replica of the
// new leader, with the newer epoch and the role "replica" in a fresh store.
#pragma once

#include "node/config/options.hpp"
#include "node/config/topology.hpp"
#include "protocol/result.hpp"
#include "storage/ledger_store.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace caf {
class actor_system;
}

namespace civic::node::leadership {

/// The replica to promote, and the network it belongs to.
struct candidate {
    topology network;
    node_spec node; // a copy of its entry in network.nodes
};

/// Loads the topology and finds `name` in it: a node that may lead, with a
/// log key. Its errors are the caller's (a wrong file or name), not the network's.
result<candidate> find_candidate(const std::string& topology_file, const std::string& name);

struct promotion_request {
    candidate target;
    /// The old leader's data directory or a backup of it, to copy identity keys
    /// and API tokens from.
    std::optional<std::string> secrets_from;
    /// Promote even if another node answers as the leader or holds more entries.
    bool force = false;
};

struct promotion {
    std::uint64_t epoch = 0;   // the new leader's
    std::uint64_t entries = 0; // what it holds, and leads with
    std::size_t identity_keys_copied = 0;
    std::size_t tokens_copied = 0;
};

/// Gets one line per other node asked (its role, epoch and size, or that it is down).
using progress_callback = std::function<void(const std::string&)>;

/// Promotes request.target (stopped) to leader under a new epoch; see above.
/// An error leaves the candidate's role as it was (the epoch and the role are
/// written last), though copied keys and tokens may remain.
result<promotion> promote(const promotion_request& request, const progress_callback& progress);

/// The newest epoch the reachable peers know of, and which peer knows it
/// (0 when none answers).
struct peer_epoch {
    std::uint64_t epoch = 0;
    std::string name;
};

/// Asks each peer's gateway in turn, within the connection timeout; peers
/// that are down do not count. Blocks: for the start, before the node's
/// actors run.
peer_epoch newest_peer_epoch(caf::actor_system& sys, const network_options& net);

struct stepped_down {
    std::shared_ptr<storage::ledger_store> store; // fresh: the origin, the newer epoch, "replica"
    std::string set_aside;                        // where the old ledger went
};

/// Sets `data_dir`/ledger aside (ledger.deposed-epoch-<own_epoch>) and makes a
/// fresh store that knows `origin`, `newer`'s epoch and the role "replica".
/// Every handle of the old store must be closed first.
result<stepped_down> step_down(const std::string& data_dir, const std::string& origin,
                               std::uint64_t own_epoch, const peer_epoch& newer);

} // namespace civic::node::leadership
