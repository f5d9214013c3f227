#include "node/sim/nodes.hpp"

#include "actors/signer.hpp"
#include "node/sim/invariants.hpp"
#include "node/sim/network.hpp"
#include "node/sim/outside.hpp"
#include "node/sim/report.hpp"

#include <iostream>

namespace civic::node::sim {

sim_node* leader_of(const node_list& nodes) {
    for (const auto& n : nodes)
        if (n->options.network.leading) return n.get();
    return nullptr;
}

node_runtime node_processes::runtime_for(sim_node& n) {
    node_runtime rt;
    rt.deterministic = true;
    rt.unix_offset = sim_epoch_unix;
    if (auto it = options_.faults.clock_skew.find(n.spec->name);
        it != options_.faults.clock_skew.end())
        rt.unix_offset += std::chrono::duration_cast<std::chrono::milliseconds>(it->second);
    // What this incarnation reports stops with it: a dead process says nothing.
    auto alive = [node = &n, generation = n.generation] { return node->alive(generation); };
    auto* report = &report_;
    auto* checks = &checks_;
    rt.on_commit = [report, alive](const actors::batch_report& r) {
        if (alive()) report->leader_committed(r.tree_size);
    };
    rt.on_replica_durable = [report, node = &n, alive](std::uint64_t size) {
        if (alive()) report->replica_durable(node->lag_cursor, size);
    };
    // The moment a checkpoint meets the quorum: what a witnessed answer waits for.
    rt.on_witnessed = [report, alive](const std::string& checkpoint) {
        if (alive()) report->witnessed(checkpoint);
    };
    rt.on_cosign_round = [report, checks, alive](std::optional<std::chrono::microseconds> ttq,
                                                 const std::string& published) {
        if (!alive()) return;
        // Invariant: a round that claims the quorum carries the cosignatures.
        if (report->cosign_round(ttq, published)) checks->check_quorum_claim(published);
    };
    rt.on_cosigned = [report, checks, name = n.spec->name, alive](const std::string& text,
                                                                  std::uint64_t timestamp) {
        if (!alive()) return;
        if (checks->witness_cosigned(name, text)) report->witness_timestamp(timestamp);
    };
    rt.on_evidence = [](const storage::evidence_record&) {};
    // The policy's outside witnesses, asked over the simulated network's HTTP.
    rt.spawn_outside_witness = [outside = &outside_, region = n.spec->region,
                                timeout = n.options.network.witness_timeout * 9 /
                                          10](caf::actor_system& sys,
                                              const actors::outside_witness_spec& spec) {
        return outside->spawn(sys, spec, region, timeout);
    };
    rt.logger = n.logger;
    if (options_.faults.equivocate_at)
        rt.equivocate_from = time_point{} + *options_.faults.equivocate_at;
    return rt;
}

void node_processes::watch_writers(sim_node& n) {
    n.writers.clear();
    n.disk_ready.clear();
    auto record = n.tree.config.on_start;
    auto* node = &n;
    n.tree.config.on_start = [record, node](const std::string& name, const caf::actor& handle) {
        record(name, handle);
        if (name == actors::slots::committer.name || name == actors::slots::witness_writer.name ||
            name == actors::slots::gossip_writer.name)
            node->writers.insert(
                dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(handle)));
    };
}

void node_processes::start_gateway(sim_node& n) {
    // No peer directory: the simulator's network has no TLS front, and every
    // sender is a node of it.
    actors::gateway_config gateway_config;
    gateway_config.node_name = n.spec->name;
    gateway_config.leading = n.options.network.leading;
    gateway_config.epoch = n.ledger ? storage::stored_epoch(*n.ledger->store) : 0;
    n.gateway = n.sys->spawn(actors::gateway, std::move(gateway_config),
                             n.ledger ? n.ledger->store : nullptr,
                             std::shared_ptr<const actors::directory>(n.tree.directory));
    n.bridge = n.sys->spawn(actors::bridge, std::chrono::milliseconds(10000));
    net_.listen(n);
    // Published through the middleman actor (its blocking API would wait on a
    // scheduler that only this loop runs); connects before it is done are refused.
    auto mm = n.sys->middleman().actor_handle();
    auto gateway_ptr = caf::actor_cast<caf::strong_actor_ptr>(n.gateway);
    auto sigs = n.sys->message_types(n.gateway);
    auto port = n.spec->caf_port;
    auto* report = &report_;
    auto name = n.spec->name;
    caf::anon_send(n.bridge, actors::bridge_job{[=](actors::bridge_pointer b) {
                       actors::bridge_request<std::uint16_t>(
                           b, mm, [](std::uint16_t) {},
                           [report, name](const caf::error& e) {
                               report->violation(
                                   "node " + name +
                                   " could not publish its gateway: " + caf::to_string(e));
                           },
                           caf::publish_atom::value, port, gateway_ptr, sigs, std::string{}, false);
                   }});
}

status node_processes::boot(sim_node& n) {
    ++n.generation;
    n.cfg = std::make_unique<actors::system_config>(n.options.network.system);
    n.sys = std::make_unique<caf::actor_system>(*n.cfg);
    n.sched = &dynamic_cast<caf::scheduler::test_coordinator&>(n.sys->scheduler());
    n.mpx = &dynamic_cast<caf::io::network::test_multiplexer&>(n.sys->middleman().backend());
    n.sched->clock().current_time = clock_.now();
    n.middleman_job = dynamic_cast<caf::resumable*>(
        caf::actor_cast<caf::abstract_actor*>(n.sys->middleman().actor_handle()));
    n.up = true;
    n.ends.clear();
    n.provided.clear();
    n.lag_cursor = 0;
    opened_ledger* ledger = nullptr;
    if (n.holds_ledger()) {
        auto opened = open_ledger(n.options.data_dir);
        if (!opened) return opened.err();
        n.ledger = std::move(*opened);
        CIVIC_TRY(load_log_keys(*n.ledger, n.options));
        ledger = &*n.ledger;
        // Lag counts only batches the leader commits after this (re)start.
        n.lag_cursor = report_.leader_batches();
    }
    auto tree = build_node_tree(n.options, ledger, runtime_for(n));
    if (!tree) return tree.err();
    n.tree = std::move(*tree);
    watch_writers(n);
    n.root = n.sys->spawn(actors::supervisor, n.tree.config);
    start_gateway(n);
    net_.prepare_connects(n);
    return {};
}

void node_processes::tear_down(sim_node& n) {
    // The process dies: nothing it sends from now on leaves it.
    n.up = false;
    caf::anon_send_exit(n.root, caf::exit_reason::kill);
    caf::anon_send_exit(n.gateway, caf::exit_reason::kill);
    caf::anon_send_exit(n.bridge, caf::exit_reason::kill);
    n.root = nullptr;
    n.gateway = nullptr;
    n.bridge = nullptr;
    for (const auto& child : n.tree.config.children)
        if (auto handle = n.tree.directory->find(child.name))
            caf::anon_send_exit(handle, caf::exit_reason::kill);
    n.tree.directory->clear();
    for (int rounds = 0; rounds < 1000; ++rounds) {
        bool busy = n.sched->run() > 0;
        n.mpx->flush_runnables();
        busy = n.sched->run() > 0 || busy;
        if (!busy) break;
    }
    if (auto left = n.sys->registry().running(); left > 0)
        std::cerr << "simulation: node " << n.spec->name << ": " << left << " actors still run\n";
    n.tree = node_tree{};
    n.ledger.reset();
    n.sys.reset();
    n.cfg.reset();
    n.sched = nullptr;
    n.mpx = nullptr;
    n.middleman_job = nullptr;
}

} // namespace civic::node::sim
