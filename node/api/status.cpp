// What a node says about itself: /api/status, /metrics and /healthz.
#include "node/api/handlers.hpp"

namespace civic::node::api {
namespace {

json scrub_json(const actors::scrub_status& s) {
    return {{"entries_per_second", s.entries_per_second},
            {"position", s.position},
            {"passes", s.passes},
            {"last_pass_seconds", static_cast<double>(s.last_pass_ms) / 1000.0},
            {"entries_checked", s.entries_checked},
            {"damage_found", s.damage_found},
            {"healed", s.healed},
            {"damaged_ranges", s.damaged_ranges},
            {"damaged", s.damaged}};
}

json witnessing_json(const actors::collector_status& c) {
    json witnesses = json::array();
    for (const auto& w : c.witnesses) {
        json one{{"name", w.name},
                 {"kind", w.url.empty() ? "network" : "outside"},
                 {"connected", w.connected},
                 {"cosigned_size", w.known_size},
                 {"cosigned", w.cosigned},
                 {"failures", w.failures},
                 {"throttled", w.throttled},
                 {"last_latency_us", w.last_latency_us},
                 {"last_cosignature_time", w.last_cosignature_time}};
        if (!w.url.empty()) one["url"] = w.url;
        if (!w.last_error.empty()) one["last_error"] = w.last_error;
        witnesses.push_back(std::move(one));
    }
    return {{"published_size", c.published_size},
            {"quorum", c.quorum},
            {"cosigners", c.cosigners},
            {"rounds", c.rounds},
            {"quorum_rounds", c.quorum_rounds},
            {"time_to_quorum_p50_us", c.time_to_quorum_p50_us},
            {"time_to_quorum_p95_us", c.time_to_quorum_p95_us},
            {"demand_rounds", c.demand_rounds},
            {"witnesses", witnesses}};
}

json ledger_json(const actors::ledger_status& s) {
    json out{{"size", s.size},
             {"committed_size", s.committed_size},
             {"replicated_size", s.replicated_size},
             {"pending", s.pending},
             {"batches", s.batches},
             {"last_batch_size", s.last_batch_size},
             {"last_commit_us", s.last_commit_us},
             {"replicas", s.replicas},
             {"replica_lag_p50_us", s.replica_lag_p50_us},
             {"replica_lag_p95_us", s.replica_lag_p95_us},
             {"writable", s.read_only_reason.empty()}};
    if (!s.read_only_reason.empty()) out["read_only_reason"] = s.read_only_reason;
    return out;
}

/// Answers `out` with the scrubber's status added as "scrub".
void respond_with_scrub(operations& ops, json out, http_respond respond) {
    ops.scrub_status(
        [respond, out](const actors::scrub_status& s) {
            auto with = out;
            with["scrub"] = scrub_json(s);
            respond(json_ok(with));
        },
        [respond, out](const failure& f) {
            auto with = out;
            with["scrub"] = {{"error", f.message}};
            respond(json_ok(with));
        });
}

void leader_status(operations& ops, json node, http_respond respond) {
    auto* owner = &ops;
    ops.ledger_status(
        [owner, respond, node](const actors::ledger_status& s) {
            auto out = node;
            out.update(ledger_json(s));
            if (!owner->facts().collecting) return respond_with_scrub(*owner, out, respond);
            owner->collector_status(
                [owner, respond, out](const actors::collector_status& c) {
                    auto with = out;
                    with["witnessing"] = witnessing_json(c);
                    respond_with_scrub(*owner, with, respond);
                },
                [owner, respond, out](const failure& f) {
                    auto with = out;
                    with["witnessing"] = {{"error", f.message}};
                    respond_with_scrub(*owner, with, respond);
                });
        },
        [respond](const failure& f) { respond(failure_response(f)); });
}

/// A replica: its own size, and how far behind the leader it is.
void replica_status(operations& ops, json node, http_respond respond) {
    auto size = ops.stored_size();
    auto why = ops.read_only_reason();
    node["writable"] = !why;
    if (why) node["read_only_reason"] = *why;
    auto* owner = &ops;
    ops.link_status(
        [owner, respond, node, size](const actors::link_status& link) {
            auto out = node;
            out.update({{"size", size},
                        {"committed_size", size},
                        {"leader",
                         {{"joined", link.joined},
                          {"name", link.leader},
                          {"size", link.leader_size},
                          {"polled_ms_ago", link.polled_ms_ago},
                          {"last_failure", link.last_failure}}},
                        {"behind", link.leader_size > size ? link.leader_size - size : 0}});
            respond_with_scrub(*owner, out, respond);
        },
        [respond](const failure& f) { respond(failure_response(f)); });
}

} // namespace

void node_status(context& cx, const call&, http_respond respond) {
    const auto& facts = cx.ops.facts();
    json node{{"node", facts.node_name},
              {"role", facts.leading ? "leader" : "replica"},
              {"epoch", cx.ops.epoch()}};
    if (!facts.identity_keys.is_null()) node["identity_keys"] = facts.identity_keys;
    if (facts.leading) return leader_status(cx.ops, std::move(node), std::move(respond));
    replica_status(cx.ops, std::move(node), std::move(respond));
}

http_response serve_metrics(context& cx, const call&) {
    http_response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = cx.ops.metrics_text();
    return r;
}

http_response serve_health(context& cx, const call&) {
    if (!cx.ops.facts().holds_ledger) return json_ok({{"status", "ok"}});
    return json_ok({{"status", "ok"}, {"size", cx.ops.stored_size()}});
}

} // namespace civic::node::api
