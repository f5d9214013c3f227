#include "node/sim/faults.hpp"

#include "actors/signer.hpp"
#include "node/sim/invariants.hpp"
#include "node/sim/network.hpp"
#include "node/sim/report.hpp"
#include "node/sim/setup.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/note.hpp"
#include "protocol/sha256.hpp"

#include <algorithm>
#include <filesystem>
#include <vector>

namespace civic::node::sim {

sim_node* fault_injector::find(const std::string& name) {
    auto it = std::find_if(nodes_.begin(), nodes_.end(),
                           [&](const auto& n) { return n->spec->name == name; });
    return it == nodes_.end() ? nullptr : it->get();
}

void fault_injector::crash(sim_node& n) {
    ++report_.summary().crashes;
    n.logger->warn("simulator", "process killed", {{"virtual_time_ms", clock_.milliseconds()}});
    net_.reset_connections(n);
    processes_.tear_down(n);
}

void fault_injector::restart(sim_node& n) {
    auto ok = processes_.boot(n);
    if (!ok) {
        n.logger->error("simulator", "process did not restart",
                        {{"virtual_time_ms", clock_.milliseconds()}, {"reason", ok.message()}});
        report_.violation("node " + n.spec->name + " did not restart: " + ok.message());
        return;
    }
    n.logger->info("simulator", "process restarted",
                   {{"virtual_time_ms", clock_.milliseconds()}, {"incarnation", n.generation}});
}

void fault_injector::schedule_crash(const sim_faults::crash& c) {
    namespace fs = std::filesystem;
    auto* n = find(c.node);
    if (!n) return;
    auto base = time_point{};
    bool lost_ack = options_.plant == sim_plant::lost_ack;
    if (lost_ack && n->options.network.leading) {
        // The planted bug: the leader's disk acknowledged writes it never
        // made. Its ledger comes back as it was 3 s before the crash.
        auto snapshot_at =
            c.at > std::chrono::seconds(3) ? c.at - std::chrono::seconds(3) : sim_duration(0);
        clock_.at(base + snapshot_at, [n] {
            auto dir = fs::path(n->options.data_dir);
            std::error_code ec;
            fs::remove_all(dir / "ledger.snapshot", ec);
            fs::copy(dir / "ledger", dir / "ledger.snapshot", fs::copy_options::recursive, ec);
        });
    }
    clock_.at(base + c.at, [this, n, lost_ack] {
        if (!n->up) return;
        crash(*n);
        auto dir = fs::path(n->options.data_dir);
        std::error_code ec;
        if (lost_ack && fs::exists(dir / "ledger.snapshot", ec)) {
            fs::remove_all(dir / "ledger", ec);
            fs::rename(dir / "ledger.snapshot", dir / "ledger", ec);
        }
    });
    clock_.at(base + c.at + c.down_for, [this, n] {
        if (!n->up) restart(*n);
    });
}

void fault_injector::schedule() {
    auto base = time_point{};
    for (const auto& c : options_.faults.crashes)
        schedule_crash(c);
    for (const auto& s : options_.faults.silences) {
        auto* n = find(s.witness);
        if (!n) continue;
        clock_.at(base + s.from, [n] { n->silenced = true; });
        clock_.at(base + s.until, [n] { n->silenced = false; });
    }
    if (options_.faults.equivocate_at)
        clock_.at(base + *options_.faults.equivocate_at, [this] {
            checks_.leader_equivocates();
            equivocate();
        });
}

void fault_injector::restart_all_at(time_point t) {
    clock_.at(t, [this] {
        for (auto& n : nodes_)
            if (!n->up) restart(*n);
    });
}

void fault_injector::equivocate() {
    // Half the witnesses (the first, the third, ...) are asked to cosign another tree
    // of the size they last cosigned: the leader shows them another history.
    auto* lead = leader_of(nodes_);
    if (!lead || !lead->up || !lead->ledger) return;
    const auto& origin = setup_.topo.origin;
    note::ed25519_signer log_signer(origin, derived_key(options_.seed, "log"));
    std::vector<sim_node*> witnesses;
    for (auto& n : nodes_)
        if (n->is_witness() && n->up) witnesses.push_back(n.get());
    for (std::size_t i = 0; i < witnesses.size(); i += 2) {
        auto& w = *witnesses[i];
        if (!w.tree.witness_store) continue;
        auto latest = w.tree.witness_store->states();
        if (!latest) continue;
        auto it = latest->find(origin);
        if (it == latest->end() || it->second.checkpoint.empty()) continue;
        auto cp = parse_signed_checkpoint(it->second.checkpoint);
        if (!cp) continue;
        auto body = cp->body;
        body.root = sha256(byte_view(body.root));
        note::note forged{body.text(), {log_signer.sign(body.text())}};
        actors::cosign_request request{body.size, {}, note::serialize(forged)};
        actors::ask_actor<actors::cosign_answer>(
            w.bridge, w.tree.directory, actors::slots::witness, [](const actors::cosign_answer&) {},
            [](const caf::error&) {}, atoms::add_atom_v, request);
    }
}

} // namespace civic::node::sim
