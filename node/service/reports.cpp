// What a node logs and counts about itself (see service_impl.hpp).
#include "node/peer/outside_witness.hpp"
#include "node/service/service_impl.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/tiles.hpp"

namespace civic::node {

void service::impl::set_read_only(read_only_report& report, const char* role,
                                  const std::string& reason) {
    std::chrono::steady_clock::time_point since;
    {
        std::lock_guard lock(read_only_mutex);
        if (reason == report.reason) return;
        since = report.since;
        report.reason = reason;
        report.since = std::chrono::steady_clock::now();
    }
    const bool witness = &report == &read_only_witness;
    if (witness)
        stats->set_witness_read_only(!reason.empty());
    else
        stats->set_read_only(!reason.empty());
    if (!reason.empty()) {
        auto kind = storage::shortage_label(storage::shortage_of(make_error(reason)));
        logger->error(role, std::string("read-only ") + role,
                      {{"kind", kind},
                       {"reason", reason},
                       {"meanwhile", witness ? "checkpoints answered 503, nothing cosigned that "
                                               "is not durable; each round tries the store again"
                                             : "writes answered 503 read_only; reads go on; it "
                                               "probes the store and takes writes again once it "
                                               "has room"}});
        return;
    }
    auto held_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - since)
                       .count();
    logger->info(role, std::string("writable ") + role + " again",
                 {{"read_only_ms", held_ms}, {"why", "the store took a write again"}});
}

void service::impl::watch_damage() {
    auto* counters = stats.get();
    auto out = logger;
    std::weak_ptr<storage::ledger_store> weak = store;
    store->on_damage(
        [counters, out, weak](const storage::damaged_range& r, const std::string& what) {
            // The first index the damage names ("index N"), else the range's first.
            std::string index = std::to_string(r.entries ? r.index * tiles::tile_width : 0);
            if (auto at = what.find("index "); at != std::string::npos) {
                auto digits = what.substr(at + 6);
                index = digits.substr(0, digits.find_first_not_of("0123456789"));
            }
            auto held = weak.lock();
            counters->damaged_range_found(held ? held->damaged_ranges().size() : 0);
            out->error("store", "store damage",
                       {{"index", index},
                        {"range", r.name()},
                        {"what", what},
                        {"meanwhile", "every read of the range answered 503 until healed; check "
                                      "with 'civic-attest fsck'"}});
        });
}

void service::impl::report_identity_keys(const opened_ledger& ledger) {
    json disabled = json::array();
    for (const auto& p : ledger.identity_key_problems) {
        disabled.push_back({{"identity", p.identity}, {"file", p.file}, {"reason", p.reason}});
        // One line each (at most identity_keys::max_problems): an operator must
        // learn at start which identities cannot sign, and why.
        logger->error("keys",
                      p.identity.empty() ? "an unreadable identity key file"
                                         : "an identity cannot sign until its key file is fixed",
                      {{"identity", p.identity.empty() ? "-" : p.identity},
                       {"file", options.data_dir + "/" + p.file},
                       {"problem", p.reason}});
    }
    if (ledger.identity_key_problem_count > ledger.identity_key_problems.size())
        logger->error(
            "keys", "more identity key problems (see /api/status)",
            {{"more", ledger.identity_key_problem_count - ledger.identity_key_problems.size()}});
    identity_keys_report = {{"loaded", ledger.identity_keys_loaded},
                            {"problems", ledger.identity_key_problem_count},
                            {"disabled", disabled}};
}

node_runtime service::impl::runtime() {
    node_runtime rt;
    rt.peers = peers;
    rt.unix_offset = actors::unix_offset_now();
    auto* counters = stats.get();
    rt.on_commit = [counters](const actors::batch_report& r) { counters->batch_committed(r); };
    rt.on_witness_answer = [counters](const std::string& w, std::chrono::microseconds latency,
                                      bool ok) { counters->witness_answered(w, latency, ok); };
    rt.on_cosign_round = [counters](std::optional<std::chrono::microseconds> ttq,
                                    const std::string&) { counters->cosign_round(ttq); };
    rt.on_witness_view = [counters](const actors::witness_link& w) { counters->witness_view(w); };
    outside_witness_options outside;
    // Below the collector's own timeout, so that it hears why a request failed.
    outside.timeout = options.network.witness_timeout * 9 / 10;
    outside.session.ca_file = options.network.outside_witness_ca_file;
    rt.spawn_outside_witness = [outside](caf::actor_system& system,
                                         const actors::outside_witness_spec& spec) {
        return spawn_outside_witness(system, spec, outside);
    };
    rt.on_read_only = [this](const std::string& reason) {
        set_read_only(read_only_store, options.network.leading ? "ledger" : "replica", reason);
    };
    rt.on_witness_read_only = [this](const std::string& reason) {
        set_read_only(read_only_witness, "witness", reason);
    };
    rt.on_commit_failed = [counters, out = logger](const char* reason) {
        counters->commit_failed(reason);
        out->error("store", "a commit failed", {{"reason", reason}});
    };
    rt.on_scrubbed = [counters](std::uint64_t entries) { counters->scrubbed(entries); };
    std::weak_ptr<storage::ledger_store> weak = store;
    auto out = logger;
    rt.logger = logger;
    rt.on_healed = [counters, out, weak](const storage::damaged_range& r,
                                         const std::string& source) {
        auto held = weak.lock();
        counters->range_healed(held ? held->damaged_ranges().size() : 0);
        out->info("scrubber", "store healed",
                  {{"range", r.name()},
                   {"from", source},
                   {"how", "rewritten from entries that make the verified tree"}});
    };
    rt.on_not_healed = [out](const storage::damaged_range& r, const std::string& why) {
        out->error("scrubber", "store damage not healed",
                   {{"range", r.name()},
                    {"why", why},
                    {"meanwhile", "answered 503; retried with backoff"}});
    };
    rt.on_evidence = [counters, out](const storage::evidence_record& r) {
        counters->split_view_found();
        out->error("gossip", "split view: a log shows two histories",
                   {{"origin", r.origin},
                    {"kind", r.kind},
                    {"shown_by", r.source},
                    {"evidence", "/api/evidence"}});
    };
    return rt;
}

void service::impl::log_start_summary() const {
    const auto& net = options.network;
    if (!store) {
        logger->info("node", "started",
                     {{"role", "witness"},
                      {"evidence_held", evidence_at_start},
                      {"http_port", http->port()},
                      {"peer_port", published_port}});
        return;
    }
    auto latest = store->latest_checkpoint();
    std::uint64_t checkpoint_size = 0;
    if (latest && *latest)
        if (auto cp = parse_signed_checkpoint(**latest)) checkpoint_size = cp->body.size;
    logger->info(
        "node", "started",
        {{"role", net.leading ? "leader" : "replica"},
         {"origin", origin},
         {"epoch", storage::stored_epoch(*store)},
         {"entries", store->stored_size()},
         {"checkpoint_size", checkpoint_size},
         {"damaged_ranges", store->damaged_ranges().size()},
         {"identity_key_problems", identity_keys_report.is_null()
                                       ? std::uint64_t{0}
                                       : identity_keys_report["problems"].get<std::uint64_t>()},
         {"witness", options.witness.enabled},
         {"evidence_held", evidence_at_start},
         {"http_port", http->port()},
         {"peer_port", published_port}});
    if (!role_note.empty()) logger->warn("node", role_note);
}

} // namespace civic::node
