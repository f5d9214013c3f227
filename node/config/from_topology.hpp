// How a topology maps to the options of one of its nodes: shared by `civic-attest
// node` (a process per node) and the simulator (every node in one process).
#pragma once

#include "node/config/options.hpp"
#include "node/config/topology.hpp"
#include "protocol/result.hpp"

#include <string>

namespace civic::node {

/// The node's service options from its topology: roles, ports, TLS files (none
/// with `insecure`), the leader to follow, its gossip peers, the witnesses to
/// ask. A new data directory is made on first start.
result<service_options> node_options(const topology& t, const node_spec& self, bool insecure);

/// The topology's policy with every key filled in: the log's line from its
/// verifier key, and each `witness NAME` line of a witness node from its key.
result<std::string> expanded_policy(const topology& t, const std::string& log_vkey);

} // namespace civic::node
