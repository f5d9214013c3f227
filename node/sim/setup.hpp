// Building a simulated network from a topology: a fresh work directory with
// each node's data directory, the log's and the witnesses' keys (derived from
// the seed), the policy, and the nodes' options (with any planted bug).
#pragma once

#include "node/sim/nodes.hpp"
#include "protocol/ed25519.hpp"
#include "protocol/note.hpp"
#include "protocol/policy.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace civic::node::sim {

struct prepared_setup {
    std::filesystem::path dir; // the work directory, removed after the run
    topology topo;             // paths rewritten into the work directory
    std::string log_vkey, policy_text;
    std::unique_ptr<policy_verifier> policy; // nothing when the topology has no policy
    std::string quorum;                      // the policy's quorum, as written
    /// The leader's first admin token: the workload's, also through replicas.
    std::string admin_token;
    std::uint64_t seed = 0; // the run's: what keys derive from
    /// The policy's outside witnesses, modelled (node/sim/outside.hpp), with
    /// keys of the simulation's in place of their real ones.
    std::vector<outside_witness_model> outside;
};

/// Makes the work directory and its files, and one (not yet started) node per
/// node of the topology into `nodes`.
status prepare(const simulation_options& options, prepared_setup& setup, node_list& nodes);

/// Removes the work directory (the nodes' storage with it).
void remove_work_directory(prepared_setup& setup);

/// A key derived from the seed: the same seed gives the same keys.
ed25519::secret_key derived_key(std::uint64_t seed, const std::string& name);

/// An outside witness's key in the simulation: the policy line's key is
/// replaced by this one's verifier key, so its model can cosign.
note::cosigner outside_witness_key(std::uint64_t seed, const std::string& name);

/// Writes `content` to `path`, readable by the owner only (keys).
status write_private_file(const std::filesystem::path& path, const std::string& content);

} // namespace civic::node::sim
