// The simulated node processes: each node's actor system (test coordinator,
// test multiplexer) and its supervision tree, started, killed and restarted
// with its storage kept.
#pragma once

#include "actors/bridge.hpp"
#include "actors/gateway.hpp"
#include "actors/supervisor.hpp"
#include "actors/system.hpp"
#include "node/service/node_tree.hpp"
#include "node/sim/virtual_clock.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/network/test_multiplexer.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

namespace civic::node::sim {

/// A node: its actor system and its tree, and what the simulator keeps about it.
struct sim_node {
    const node_spec* spec = nullptr;
    int index = 0;
    service_options options;
    bool up = false;
    int generation = 0; // the incarnation: a restarted node has new connections
    std::unique_ptr<actors::system_config> cfg;
    std::unique_ptr<caf::actor_system> sys;
    caf::scheduler::test_coordinator* sched = nullptr;
    caf::io::network::test_multiplexer* mpx = nullptr;
    caf::resumable* middleman_job = nullptr;
    std::optional<opened_ledger> ledger;
    node_tree tree;
    actors::supervisor_actor root;
    actors::gateway_actor gateway;
    actors::bridge_actor bridge;
    caf::io::accept_handle acceptor;
    /// The connection handle provided for the next connect to each peer (by
    /// the peer's index).
    std::map<int, caf::io::connection_handle> provided;
    /// Live connection ends of this incarnation: handle id -> link id.
    std::map<std::int64_t, std::size_t> ends;
    std::size_t lag_cursor = 0; // replicas: leader batches already counted
    bool silenced = false;      // witnesses: the witness actor hangs
    /// The node's blocking writers (committer, witness-writer, gossip-writer):
    /// each message they take waits for the disk first.
    std::set<caf::resumable*> writers;
    std::map<caf::resumable*, time_point> disk_ready; // a writer's next message may run
    caf::resumable* silenced_job = nullptr;
    log::logger_ptr logger = log::logger::none(); // every incarnation's

    bool holds_ledger() const { return options.holds_ledger; }
    bool is_witness() const { return options.witness.enabled; }
    /// Whether `generation` is the incarnation running now.
    bool alive(int incarnation) const { return up && generation == incarnation; }
};

/// Every node, by index (the topology's order).
using node_list = std::vector<std::unique_ptr<sim_node>>;

/// The leading node (nothing when the topology has none).
sim_node* leader_of(const node_list& nodes);

class network;
class outside_witnesses;
class run_report;
class invariants;

/// Starts and stops node processes.
class node_processes {
public:
    node_processes(const simulation_options& options, const virtual_clock& clock, network& net,
                   outside_witnesses& outside, run_report& report, invariants& checks)
        : options_(options), clock_(clock), net_(net), outside_(outside), report_(report),
          checks_(checks) {}

    /// Starts a new incarnation of `n` on its storage.
    status boot(sim_node& n);
    /// The process dies: its actors are killed, its actor system destroyed.
    void tear_down(sim_node& n);

private:
    /// What the node's tree reports back to the simulator, for this incarnation.
    node_runtime runtime_for(sim_node& n);
    /// Counts the node's blocking writers as the supervisor starts them.
    void watch_writers(sim_node& n);
    /// Spawns the gateway and the bridge, and publishes the gateway.
    void start_gateway(sim_node& n);

    const simulation_options& options_;
    const virtual_clock& clock_;
    network& net_;
    outside_witnesses& outside_;
    run_report& report_;
    invariants& checks_;
};

} // namespace civic::node::sim
