// The node's side of api::operations: its store, its actors (asked through the
// bridges), its trust policies, metrics and key files.
#pragma once

#include "actors/actors.hpp"
#include "actors/directory.hpp"
#include "node/api/operations.hpp"
#include "protocol/policy.hpp"
#include "storage/ledger_store.hpp"
#include "storage/witness_store.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace civic::node {

class metrics;

/// What the operations reach; each outlives them (service::impl owns it all).
struct node_parts {
    api::node_facts facts;
    std::string data_dir;
    std::shared_ptr<storage::ledger_store> store; // null on a node that is only a witness
    std::shared_ptr<const actors::directory> directory;
    std::vector<actors::bridge_actor> bridges;
    const policy_verifier* trust = nullptr;         // this log's key alone
    const policy_verifier* network_trust = nullptr; // the network's policy, if any
    metrics* stats = nullptr;
    std::shared_ptr<storage::witness_store> witness_store; // evidence caught as a witness
    std::shared_ptr<storage::witness_store> gossip_store;  // evidence caught by gossip
    /// Why the store refuses writes now, as its actor last reported.
    std::function<std::optional<std::string>()> read_only_reason;
};

std::unique_ptr<api::operations> make_node_operations(node_parts parts);

} // namespace civic::node
