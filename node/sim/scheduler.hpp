// Runs the nodes' actors: every node's test coordinator and test multiplexer,
// one job at a time, the seed choosing which runnable job goes next; a blocking
// writer's next message waits for its fsync, a silenced witness never runs.
#pragma once

#include "node/sim/nodes.hpp"
#include "node/sim/seeded_random.hpp"
#include "node/sim/virtual_clock.hpp"

#include <optional>

namespace civic::node::sim {

class network;

class scheduler {
public:
    scheduler(const simulation_options& options, virtual_clock& clock, seeded_random& random,
              node_list& nodes, network& net)
        : options_(options), clock_(clock), random_(random), nodes_(nodes), net_(net) {}

    /// Runs jobs and I/O of every live node until none can run at this time.
    void run_until_quiet();
    /// The earliest timer of a live node's actors.
    std::optional<time_point> next_timer() const;
    /// Moves virtual time, and every live node's actor clock, to `t`.
    void advance_to(time_point t);

private:
    /// Runs one job or one I/O event of `n`; false when it had none to run.
    bool step(sim_node& n);
    /// Runs the runnable job the seed picks (`runnable` of them).
    void run_job(sim_node& n, std::size_t runnable);
    /// Whether `job` must wait (a hung witness, a writer waiting for its disk).
    bool is_stalled(sim_node& n, caf::resumable* job);

    const simulation_options& options_;
    virtual_clock& clock_;
    seeded_random& random_;
    node_list& nodes_;
    network& net_;
};

} // namespace civic::node::sim
