#include "node/sim/invariants.hpp"

#include "node/sim/report.hpp"
#include "node/sim/setup.hpp"
#include "protocol/checkpoint.hpp"

#include <algorithm>

namespace civic::node::sim {

bool invariants::witness_cosigned(const std::string& witness, const std::string& checkpoint) {
    auto cp = parse_signed_checkpoint(checkpoint);
    if (!cp) return false;
    cosigned_[witness].push_back({cp->body.size, cp->body.root});
    check_cosignatures();
    return true;
}

void invariants::check_quorum_claim(const std::string& published) {
    if (!setup_.policy) return;
    auto verdict = setup_.policy->verify(published);
    if (!verdict || !verdict->quorum)
        report_.violation(
            "quorum claimed without the cosignatures: the checkpoint published "
            "as witnessed does not meet the policy (" +
            (verdict ? std::string("too few valid cosignatures") : verdict.message()) + ")");
}

void invariants::check_cosignatures() {
    // No witness cosigns two inconsistent checkpoints: each checkpoint a
    // witness cosigns and the one it cosigned before are checked against the
    // leader's tree as it is then (a correct witness needs a consistency proof
    // between them): both must be that tree at their sizes.
    auto* lead = leader_of(nodes_);
    if (!lead || !lead->up || !lead->ledger) return;
    auto& store = *lead->ledger->store;
    auto size = store.stored_size();
    auto on_tree = [&](const cosigned& c) {
        auto text = store.checkpoint_at(c.size);
        if (!text || !*text) return false;
        auto cp = parse_signed_checkpoint(**text);
        return cp && cp->body.root == c.root;
    };
    for (auto& [witness, list] : cosigned_) {
        auto& checked = cosigned_checked_[witness];
        for (; checked < list.size(); ++checked) {
            const auto& c = list[checked];
            if (checked == 0) continue; // its first: nothing to be consistent with
            const auto& before = list[checked - 1];
            if (std::max(c.size, before.size) > size) break; // the leader does not hold it yet
            bool same = c.size == before.size && c.root == before.root;
            if (same || (on_tree(before) && on_tree(c))) continue;
            report_.violation("witness " + witness +
                              " cosigned two inconsistent checkpoints (size " +
                              std::to_string(before.size) + ", then size " +
                              std::to_string(c.size) + " of another tree)");
            checked = list.size();
            break;
        }
    }
}

void invariants::check_acknowledged(storage::ledger_store& store, bool final) {
    // No acknowledged entry lost: the leader holds each one at its index.
    auto size = store.stored_size();
    for (auto it = acked_.lower_bound(final ? 0 : acked_checked_); it != acked_.end(); ++it) {
        if (it->first >= size) {
            report_.violation("acknowledged entry " + std::to_string(it->first) +
                              " lost: the leader's tree has only " + std::to_string(size) +
                              " entries");
            break;
        }
        auto e = store.entry(it->first);
        if (!e || !*e || sha256(byte_view(**e)) != it->second) {
            report_.violation("acknowledged entry " + std::to_string(it->first) +
                              " lost: the leader holds another entry at that index");
            break;
        }
        acked_checked_ = it->first + 1;
    }
}

void invariants::check_replicas(const sim_node& lead, bool final) {
    // Replicas hold a prefix of the leader's tree; at the end, all of it.
    auto& store = *lead.ledger->store;
    auto size = store.stored_size();
    for (auto& n : nodes_) {
        if (n.get() == &lead || !n->up || !n->ledger) continue;
        auto latest = n->ledger->store->latest_checkpoint();
        if (latest && *latest) {
            auto contradiction = storage::contradiction(store, **latest);
            if (contradiction)
                report_.violation("replica " + n->spec->name + " holds a tree the leader does not");
        }
        if (final && n->ledger->store->stored_size() != size)
            report_.violation("replica " + n->spec->name + " did not converge: it holds " +
                              std::to_string(n->ledger->store->stored_size()) +
                              " entries, the leader " + std::to_string(size));
    }
}

void invariants::check_split_views(const sim_node& lead) {
    // Every split view is detected: once the leader equivocated long enough
    // ago, every node holds evidence of it.
    std::uint64_t holding = 0;
    for (auto& n : nodes_) {
        if (!n->up) continue;
        std::uint64_t held = 0;
        if (n->tree.gossip_store) held += n->tree.gossip_store->evidence_count();
        if (n->tree.witness_store) held += n->tree.witness_store->evidence_count();
        if (held > 0)
            ++holding;
        else if (n.get() != &lead)
            report_.violation("split view undetected: node " + n->spec->name +
                              " holds no evidence of the leader's two histories");
    }
    report_.summary().split_views_detected = holding;
}

void invariants::check(bool final) {
    auto* lead = leader_of(nodes_);
    if (!lead || !lead->up || !lead->ledger) return;
    check_acknowledged(*lead->ledger->store, final);
    check_replicas(*lead, final);
    check_cosignatures();
    if (final && equivocating_) check_split_views(*lead);
}

} // namespace civic::node::sim
