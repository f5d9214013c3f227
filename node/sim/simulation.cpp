// The simulator's entry points and its run loop. The loop owns the parts of a
// run (setup.hpp, nodes.hpp, network.hpp, outside.hpp, scheduler.hpp,
// workload.hpp, faults.hpp, invariants.hpp, report.hpp), which share one virtual clock and
// one seeded source of randomness.
#include "node/sim/simulation.hpp"

#include "node/sim/faults.hpp"
#include "node/sim/invariants.hpp"
#include "node/sim/network.hpp"
#include "node/sim/nodes.hpp"
#include "node/sim/outside.hpp"
#include "node/sim/report.hpp"
#include "node/sim/scheduler.hpp"
#include "node/sim/seeded_random.hpp"
#include "node/sim/setup.hpp"
#include "node/sim/virtual_clock.hpp"
#include "node/sim/workload.hpp"

#include <algorithm>
#include <map>

namespace civic::node {

result<sim_plant> parse_plant(const std::string& name) {
    static const std::map<std::string, sim_plant> names = {
        {"none", sim_plant::none},
        {"careless-witness", sim_plant::careless_witness},
        {"quorum-lie", sim_plant::quorum_lie},
        {"lost-ack", sim_plant::lost_ack},
        {"stale-replica", sim_plant::stale_replica},
        {"silent-gossip", sim_plant::silent_gossip}};
    auto it = names.find(name);
    if (it == names.end())
        return make_error("unknown planted bug '" + name +
                          "' (careless-witness, quorum-lie, lost-ack, stale-replica, "
                          "silent-gossip)");
    return it->second;
}

namespace sim {

/// One run: its parts, and the loop that advances virtual time between them.
class simulation {
public:
    explicit simulation(const simulation_options& options)
        : options_(options), random_(options.seed), report_(options, clock_),
          checks_(setup_, nodes_, report_),
          network_(options, setup_, clock_, random_, nodes_, report_),
          outside_(setup_, clock_, random_, network_, report_, checks_),
          processes_(options, clock_, network_, outside_, report_, checks_),
          scheduler_(options, clock_, random_, nodes_, network_),
          workload_(options, setup_, clock_, random_, nodes_, report_, checks_),
          faults_(options, setup_, clock_, nodes_, processes_, network_, report_, checks_) {}

    ~simulation() {
        for (auto& n : nodes_)
            if (n->up) processes_.tear_down(*n);
        remove_work_directory(setup_);
    }

    simulation(const simulation&) = delete;
    simulation& operator=(const simulation&) = delete;

    result<simulation_report> run();

private:
    /// Builds and starts the network, and schedules the workload, the faults
    /// and the invariant checks.
    status start(time_point end, time_point stop);
    /// Runs jobs, then the next timer or event, until nothing is due before `stop`.
    void run_until(time_point stop);

    const simulation_options& options_;
    seeded_random random_;
    virtual_clock clock_;
    prepared_setup setup_;
    node_list nodes_;
    run_report report_;
    invariants checks_;
    network network_;
    outside_witnesses outside_;
    node_processes processes_;
    scheduler scheduler_;
    workload workload_;
    fault_injector faults_;
};

status simulation::start(time_point end, time_point stop) {
    CIVIC_TRY(prepare(options_, setup_, nodes_));
    CIVIC_TRY(outside_.start());
    auto& summary = report_.summary();
    summary.outside_witnesses = setup_.outside.size();
    summary.quorum = setup_.quorum;
    summary.topology_file = options_.topo.file;
    summary.seed = options_.seed;
    summary.nodes = nodes_.size();
    summary.witnesses = static_cast<std::size_t>(
        std::count_if(nodes_.begin(), nodes_.end(), [](const auto& n) { return n->is_witness(); }));
    for (auto& n : nodes_)
        CIVIC_TRY(processes_.boot(*n));
    // The workload's identity, registered through the leader's signer.
    CIVIC_TRY(workload_.register_identity());
    workload_.start(time_point{} + std::chrono::milliseconds(500), end);
    faults_.schedule();
    for (auto t = time_point{} + options_.check_every; t < stop; t += options_.check_every)
        clock_.at(t, [this] { checks_.check(false); });
    // After the run: every crashed node back, for the settle period.
    faults_.restart_all_at(end);
    return {};
}

void simulation::run_until(time_point stop) {
    for (;;) {
        scheduler_.run_until_quiet();
        auto next = scheduler_.next_timer();
        if (auto event = clock_.next_event(); event && (!next || *event <= *next)) next = event;
        if (!next || *next > stop) break;
        scheduler_.advance_to(std::max(*next, clock_.now()));
        while (auto due = clock_.take_due()) {
            (*due)();
            scheduler_.run_until_quiet();
        }
    }
}

result<simulation_report> simulation::run() {
    // Wall time only for the report's speed line: nothing the run decides reads it.
    auto wall_start = std::chrono::steady_clock::now();
    auto end = time_point{} + options_.duration;
    auto stop = end + options_.settle;
    CIVIC_TRY(start(end, stop));
    run_until(stop);
    clock_.set(stop);
    checks_.check(true);
    report_.finish(leader_of(nodes_), stop);
    for (auto& n : nodes_)
        if (n->up) processes_.tear_down(*n);
    auto& summary = report_.summary();
    summary.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    return summary;
}

} // namespace sim

result<simulation_report> simulate(const simulation_options& options) {
    sim::simulation run(options);
    return run.run();
}

} // namespace civic::node
