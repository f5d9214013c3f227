// The workload: one identity, registered through the leader's signer, then
// submissions at the given rate (exponential gaps) to random nodes that hold
// the ledger; a replica's uplink forwards them to the leader with the
// workload's admin token.
#pragma once

#include "actors/actors.hpp"
#include "node/sim/nodes.hpp"
#include "node/sim/seeded_random.hpp"
#include "node/sim/virtual_clock.hpp"

#include <string>

namespace civic::node::sim {

struct prepared_setup;
class run_report;
class invariants;

class workload {
public:
    workload(const simulation_options& options, const prepared_setup& setup, virtual_clock& clock,
             seeded_random& random, node_list& nodes, run_report& report, invariants& checks)
        : options_(options), setup_(setup), clock_(clock), random_(random), nodes_(nodes),
          report_(report), checks_(checks) {}

    /// Writes the identity's key into the leader's keys and registers it (once
    /// the leader's signer runs). Nothing without a leader.
    status register_identity();
    /// Submissions from `first` until `end`.
    void start(time_point first, time_point end) {
        end_ = end;
        schedule_submission(first);
    }

private:
    void try_register(actors::new_identity_key request, int attempt);
    void schedule_submission(time_point t);
    void submit(sim_node& n);

    const simulation_options& options_;
    const prepared_setup& setup_;
    virtual_clock& clock_;
    seeded_random& random_;
    node_list& nodes_;
    run_report& report_;
    invariants& checks_;
    std::string identity_ = "sim/civic-body";
    bool registered_ = false;
    std::uint64_t content_counter_ = 0;
    time_point end_{};
};

} // namespace civic::node::sim
