// The faults a run injects at their times: crashes and restarts, silenced
// witnesses, an equivocating leader; and after the run, every crashed node
// back. Partitions, delay spikes and loss act when messages are sent (network.hpp).
#pragma once

#include "node/sim/nodes.hpp"
#include "node/sim/virtual_clock.hpp"

namespace civic::node::sim {

struct prepared_setup;
class run_report;
class invariants;

class fault_injector {
public:
    fault_injector(const simulation_options& options, const prepared_setup& setup,
                   virtual_clock& clock, node_list& nodes, node_processes& processes, network& net,
                   run_report& report, invariants& checks)
        : options_(options), setup_(setup), clock_(clock), nodes_(nodes), processes_(processes),
          net_(net), report_(report), checks_(checks) {}

    /// Schedules every fault of the options.
    void schedule();
    /// At `t` (the end of the run), restarts every node that is down.
    void restart_all_at(time_point t);

private:
    void schedule_crash(const sim_faults::crash& c);
    /// The process of `n` dies; its peers see their connections reset.
    void crash(sim_node& n);
    /// Starts `n` again (a failure to is a violation).
    void restart(sim_node& n);
    /// The leader shows another history to half the witnesses.
    void equivocate();
    sim_node* find(const std::string& name);

    const simulation_options& options_;
    const prepared_setup& setup_;
    virtual_clock& clock_;
    node_list& nodes_;
    node_processes& processes_;
    network& net_;
    run_report& report_;
    invariants& checks_;
};

} // namespace civic::node::sim
