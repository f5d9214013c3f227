// The invariants checked during a run and at its end: no acknowledged entry
// lost, replicas hold a prefix of the leader's tree (all of it at the end), no
// witness cosigns two inconsistent checkpoints, a round that claims the quorum
// carries the cosignatures, and every split view is detected.
#pragma once

#include "node/sim/nodes.hpp"
#include "protocol/sha256.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace civic::node::sim {

struct prepared_setup;
class run_report;

class invariants {
public:
    invariants(const prepared_setup& setup, node_list& nodes, run_report& report)
        : setup_(setup), nodes_(nodes), report_(report) {}

    /// The leader acknowledged entry `index` with this hash.
    void acknowledged(std::uint64_t index, const hash& entry_hash) { acked_[index] = entry_hash; }
    /// Witness `witness` cosigned `checkpoint`; false when it is not one.
    bool witness_cosigned(const std::string& witness, const std::string& checkpoint);
    /// A round claimed its quorum with this published checkpoint.
    void check_quorum_claim(const std::string& published);
    /// From now on, every node must come to hold evidence of a split view.
    void leader_equivocates() { equivocating_ = true; }
    /// Checks what can be checked now; `final`: after the settle period, when
    /// the replicas must have converged.
    void check(bool final);

private:
    struct cosigned {
        std::uint64_t size;
        hash root;
    };
    void check_cosignatures();
    void check_acknowledged(storage::ledger_store& store, bool final);
    void check_replicas(const sim_node& lead, bool final);
    void check_split_views(const sim_node& lead);

    const prepared_setup& setup_;
    node_list& nodes_;
    run_report& report_;
    std::map<std::uint64_t, hash> acked_; // index -> the acknowledged entry's hash
    std::uint64_t acked_checked_ = 0;     // acknowledged entries checked so far
    std::map<std::string, std::vector<cosigned>> cosigned_; // by witness
    std::map<std::string, std::size_t> cosigned_checked_;
    bool equivocating_ = false;
};

} // namespace civic::node::sim
