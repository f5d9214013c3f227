#include "node/service/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <map>
#include <mutex>
#include <sstream>
#include <string_view>

namespace civic::node {

namespace {

// Longest prefix first where one endpoint's path starts another's.
constexpr std::array<const char*, 15> endpoints = {"/api/sign",
                                                   "/api/bundle",
                                                   "/api/evidence",
                                                   "/add-checkpoint",
                                                   "/api/verify",
                                                   "/api/identities",
                                                   "/api/entries",
                                                   "/api/proof/inclusion",
                                                   "/api/proof/consistency",
                                                   "/api/status",
                                                   "/healthz",
                                                   "/metrics",
                                                   "/checkpoint",
                                                   "/tile/entries",
                                                   "/tile"};

bool matches(const std::string& path, const std::string& endpoint) {
    if (path.compare(0, endpoint.size(), endpoint) != 0) return false;
    return path.size() == endpoint.size() || path[endpoint.size()] == '/';
}

prometheus::Histogram::BucketBoundaries seconds_buckets() {
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
            0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

} // namespace

std::string endpoint_of(const std::string& target) {
    auto path = target.substr(0, target.find('?'));
    for (const char* e : endpoints)
        if (matches(path, e)) return e;
    return "other";
}

struct metrics::impl {
    std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
    prometheus::Family<prometheus::Counter>& requests =
        prometheus::BuildCounter()
            .Name("civic_http_requests_total")
            .Help("HTTP requests answered, by endpoint and status code")
            .Register(*registry);
    prometheus::Family<prometheus::Histogram>& latency =
        prometheus::BuildHistogram()
            .Name("civic_http_request_duration_seconds")
            .Help("Time from a request read to its answer, by endpoint")
            .Register(*registry);
    prometheus::Family<prometheus::Histogram>& batch_family =
        prometheus::BuildHistogram()
            .Name("civic_ledger_batch_entries")
            .Help("Entries per committed ledger batch (one fsync'd write transaction)")
            .Register(*registry);
    prometheus::Family<prometheus::Histogram>& commit_family =
        prometheus::BuildHistogram()
            .Name("civic_ledger_commit_duration_seconds")
            .Help("Time to write and fsync one ledger batch")
            .Register(*registry);
    prometheus::Family<prometheus::Gauge>& size_family =
        prometheus::BuildGauge()
            .Name("civic_ledger_tree_size")
            .Help("Entries in the ledger's Merkle tree, durable")
            .Register(*registry);
    prometheus::Family<prometheus::Gauge>& pending_family =
        prometheus::BuildGauge()
            .Name("civic_ledger_pending_entries")
            .Help("Entries accepted and waiting for the next batch")
            .Register(*registry);
    prometheus::Family<prometheus::Counter>& committed_family =
        prometheus::BuildCounter()
            .Name("civic_ledger_entries_committed_total")
            .Help("Entries committed durably since this process started")
            .Register(*registry);

    prometheus::Family<prometheus::Histogram>& witness_latency_family =
        prometheus::BuildHistogram()
            .Name("civic_witness_request_duration_seconds")
            .Help("Time from asking a witness to cosign to its answer, by witness")
            .Register(*registry);
    prometheus::Family<prometheus::Counter>& witness_requests_family =
        prometheus::BuildCounter()
            .Name("civic_witness_requests_total")
            .Help("Requests to witnesses, by witness and outcome (cosigned, failed)")
            .Register(*registry);
    prometheus::Family<prometheus::Gauge>& witness_size_family =
        prometheus::BuildGauge()
            .Name("civic_witness_cosigned_size")
            .Help("The latest tree size a witness cosigned, by witness")
            .Register(*registry);
    prometheus::Family<prometheus::Gauge>& witness_time_family =
        prometheus::BuildGauge()
            .Name("civic_witness_last_cosignature_timestamp_seconds")
            .Help("Unix time a witness's latest cosignature states, by witness (alert when old)")
            .Register(*registry);
    prometheus::Family<prometheus::Counter>& witness_throttled_family =
        prometheus::BuildCounter()
            .Name("civic_witness_throttled_total")
            .Help("429 and 503 answers from a witness (it is then asked again after its "
                  "Retry-After or a backoff), by witness")
            .Register(*registry);
    std::mutex throttled_mutex;
    std::map<std::string, std::uint64_t> throttled_seen; // by witness: the count reported
    prometheus::Family<prometheus::Histogram>& quorum_family =
        prometheus::BuildHistogram()
            .Name("civic_cosign_time_to_quorum_seconds")
            .Help("Time from asking the witnesses to meeting the policy's quorum, per round")
            .Register(*registry);
    prometheus::Family<prometheus::Counter>& rounds_family =
        prometheus::BuildCounter()
            .Name("civic_cosign_rounds_total")
            .Help("Cosigning rounds, by outcome (quorum, no_quorum)")
            .Register(*registry);
    prometheus::Family<prometheus::Gauge>& quorum_gauge_family =
        prometheus::BuildGauge()
            .Name("civic_cosign_quorum")
            .Help("1 if the published checkpoint meets the witness policy's quorum, else 0")
            .Register(*registry);
    prometheus::Family<prometheus::Gauge>& split_view_family =
        prometheus::BuildGauge()
            .Name("civic_split_view_evidence")
            .Help(
                "Evidence records of a log showing two histories held by this node (alert on > 0)")
            .Register(*registry);
    prometheus::Family<prometheus::Counter>& refused_family =
        prometheus::BuildCounter()
            .Name("civic_http_connections_refused_total")
            .Help("HTTP connections turned away or evicted, by reason (full, per_address, "
                  "evicted_idle)")
            .Register(*registry);
    prometheus::Family<prometheus::Counter>& peer_refused_family =
        prometheus::BuildCounter()
            .Name("civic_peer_connections_refused_total")
            .Help("Connections to the peer port refused or closed by its TLS front, by reason "
                  "(full, per_address, handshake_timeout, handshake_failed, unknown_peer, "
                  "wrong_peer, basp, node_taken)")
            .Register(*registry);
    prometheus::Counter& peer_messages_refused =
        prometheus::BuildCounter()
            .Name("civic_peer_messages_refused_total")
            .Help("Messages from other nodes the gateway refused: from a node no "
                  "authenticated connection named, or one whose role may not send them")
            .Register(*registry)
            .Add({});
    prometheus::Counter& witnessed_polls =
        prometheus::BuildCounter()
            .Name("civic_witnessed_polls_total")
            .Help("Asks for the witnessed checkpoint on behalf of /api/sign and /api/submit "
                  "requests with \"witnessed\": true: one for all that wait (the leader's "
                  "collector holds it up to 1 s; a replica's goes there through its uplink)")
            .Register(*registry)
            .Add({});
    prometheus::Gauge& witnessed_waiting =
        prometheus::BuildGauge()
            .Name("civic_witnessed_waiting")
            .Help("/api/sign requests waiting for a witnessed checkpoint")
            .Register(*registry)
            .Add({});
    prometheus::Counter& refused_full = refused_family.Add({{"reason", "full"}});
    prometheus::Counter& refused_per_address = refused_family.Add({{"reason", "per_address"}});
    prometheus::Counter& evicted_idle = refused_family.Add({{"reason", "evicted_idle"}});
    prometheus::Gauge& split_views = split_view_family.Add({});
    prometheus::Family<prometheus::Counter>& damage_family =
        prometheus::BuildCounter()
            .Name("civic_store_damage_total")
            .Help("Reads whose stored bytes did not match the verified tree, or were missing "
                  "below its size; answered 503, never served (alert on > 0)")
            .Register(*registry);
    prometheus::Counter& store_damage = damage_family.Add({});
    prometheus::Family<prometheus::Gauge>& damaged_ranges_family =
        prometheus::BuildGauge()
            .Name("civic_store_damaged_ranges")
            .Help("Tile-sized ranges of the store known damaged now: every read of them is "
                  "answered 503 until healed (alert on > 0)")
            .Register(*registry);
    prometheus::Gauge& damaged_ranges = damaged_ranges_family.Add({});
    prometheus::Family<prometheus::Counter>& damage_found_family =
        prometheus::BuildCounter()
            .Name("civic_store_damage_found_total")
            .Help("Tile-sized ranges found damaged, by a read or the scrub")
            .Register(*registry);
    prometheus::Counter& damage_found = damage_found_family.Add({});
    prometheus::Family<prometheus::Counter>& scrubbed_family =
        prometheus::BuildCounter()
            .Name("civic_scrub_entries_total")
            .Help("Entries the background scrub checked against the verified tree")
            .Register(*registry);
    prometheus::Counter& scrubbed = scrubbed_family.Add({});
    prometheus::Family<prometheus::Counter>& healed_family =
        prometheus::BuildCounter()
            .Name("civic_store_healed_total")
            .Help("Damaged ranges healed: rewritten from entries that make the verified tree "
                  "(this store's own, or its leader's)")
            .Register(*registry);
    prometheus::Counter& healed = healed_family.Add({});
    prometheus::Family<prometheus::Gauge>& read_only_family =
        prometheus::BuildGauge()
            .Name("civic_ledger_read_only")
            .Help("1 while the ledger (or replica) refuses writes because its store has no room "
                  "(disk full, quota, LMDB map full), else 0 (alert on 1)")
            .Register(*registry);
    prometheus::Gauge& read_only = read_only_family.Add({});
    prometheus::Family<prometheus::Gauge>& witness_read_only_family =
        prometheus::BuildGauge()
            .Name("civic_witness_read_only")
            .Help("1 while the witness answers 503 because its store has no room for a round "
                  "(it cosigns nothing it cannot persist), else 0 (alert on 1)")
            .Register(*registry);
    prometheus::Gauge& witness_read_only = witness_read_only_family.Add({});
    prometheus::Family<prometheus::Counter>& commit_failures_family =
        prometheus::BuildCounter()
            .Name("civic_ledger_commit_failures_total")
            .Help("Ledger, replica or witness commits (and store probes) that failed, by reason "
                  "(no_space, quota, map_full, other)")
            .Register(*registry);
    // Made up front, so that every reason shows as 0 before it happens.
    std::array<std::pair<const char*, prometheus::Counter*>, 4> commit_failures{
        {{"no_space", &commit_failures_family.Add({{"reason", "no_space"}})},
         {"quota", &commit_failures_family.Add({{"reason", "quota"}})},
         {"map_full", &commit_failures_family.Add({{"reason", "map_full"}})},
         {"other", &commit_failures_family.Add({{"reason", "other"}})}}};
    prometheus::Histogram& time_to_quorum = quorum_family.Add({}, seconds_buckets());
    prometheus::Counter& rounds_with_quorum = rounds_family.Add({{"outcome", "quorum"}});
    prometheus::Counter& rounds_without_quorum = rounds_family.Add({{"outcome", "no_quorum"}});
    prometheus::Gauge& quorum = quorum_gauge_family.Add({});
    prometheus::Histogram& batch_entries =
        batch_family.Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 5, 10, 20, 50, 100, 200,
                                                                     500, 1000, 2000, 5000, 10000});
    prometheus::Histogram& commit_seconds = commit_family.Add({}, seconds_buckets());
    prometheus::Gauge& tree_size = size_family.Add({});
    prometheus::Gauge& pending = pending_family.Add({});
    prometheus::Counter& committed = committed_family.Add({});
    // One latency histogram per endpoint, made up front: no lookup per request.
    std::array<prometheus::Histogram*, endpoints.size() + 1> latency_by_endpoint{};

    impl() {
        for (std::size_t i = 0; i < endpoints.size(); ++i)
            latency_by_endpoint[i] = &latency.Add({{"endpoint", endpoints[i]}}, seconds_buckets());
        latency_by_endpoint[endpoints.size()] =
            &latency.Add({{"endpoint", "other"}}, seconds_buckets());
    }
};

metrics::metrics() : impl_(std::make_unique<impl>()) {}
metrics::~metrics() = default;

void metrics::http_answered(const std::string& target, unsigned status,
                            std::chrono::microseconds elapsed) {
    auto endpoint = target.empty() ? std::string("other") : endpoint_of(target);
    std::size_t slot = endpoints.size();
    for (std::size_t i = 0; i < endpoints.size(); ++i)
        if (endpoint == endpoints[i]) slot = i;
    impl_->latency_by_endpoint[slot]->Observe(static_cast<double>(elapsed.count()) / 1e6);
    // Status codes are our own (a fixed handful), so this family stays small.
    impl_->requests.Add({{"endpoint", endpoint}, {"code", std::to_string(status)}}).Increment();
}

void metrics::batch_committed(const actors::batch_report& report) {
    impl_->batch_entries.Observe(static_cast<double>(report.entries));
    impl_->commit_seconds.Observe(static_cast<double>(report.commit_time.count()) / 1e6);
    impl_->tree_size.Set(static_cast<double>(report.tree_size));
    impl_->pending.Set(static_cast<double>(report.pending));
    impl_->committed.Increment(static_cast<double>(report.entries));
}

void metrics::witness_answered(const std::string& witness, std::chrono::microseconds latency,
                               bool ok) {
    // Witness names come from the policy (bounded), never from requests.
    impl_->witness_latency_family.Add({{"witness", witness}}, seconds_buckets())
        .Observe(static_cast<double>(latency.count()) / 1e6);
    impl_->witness_requests_family
        .Add({{"witness", witness}, {"outcome", ok ? "cosigned" : "failed"}})
        .Increment();
}

void metrics::witness_view(const actors::witness_link& view) {
    auto& m = *impl_;
    m.witness_size_family.Add({{"witness", view.name}}).Set(static_cast<double>(view.known_size));
    if (view.last_cosignature_time > 0)
        m.witness_time_family.Add({{"witness", view.name}})
            .Set(static_cast<double>(view.last_cosignature_time));
    std::lock_guard lock(m.throttled_mutex);
    auto& seen = m.throttled_seen[view.name];
    auto& counter = m.witness_throttled_family.Add({{"witness", view.name}});
    if (view.throttled > seen) counter.Increment(static_cast<double>(view.throttled - seen));
    seen = view.throttled;
}

void metrics::cosign_round(std::optional<std::chrono::microseconds> time_to_quorum) {
    if (time_to_quorum) {
        impl_->time_to_quorum.Observe(static_cast<double>(time_to_quorum->count()) / 1e6);
        impl_->rounds_with_quorum.Increment();
    } else {
        impl_->rounds_without_quorum.Increment();
    }
    impl_->quorum.Set(time_to_quorum ? 1 : 0);
}

void metrics::http_connection_refused(const char* reason) {
    std::string_view r(reason);
    auto& counter = r == "per_address"    ? impl_->refused_per_address
                    : r == "evicted_idle" ? impl_->evicted_idle
                                          : impl_->refused_full;
    counter.Increment();
}

void metrics::peer_connection_refused(const char* reason) {
    // Reasons are the front's fixed set, never from input.
    impl_->peer_refused_family.Add({{"reason", reason}}).Increment();
}

void metrics::peer_message_refused() { impl_->peer_messages_refused.Increment(); }

void metrics::split_view_found() { impl_->split_views.Increment(); }

void metrics::witnessed_poll(std::size_t waiting) {
    impl_->witnessed_polls.Increment();
    impl_->witnessed_waiting.Set(static_cast<double>(waiting));
}

void metrics::store_damage_found() { impl_->store_damage.Increment(); }

void metrics::damaged_range_found(std::size_t known) {
    impl_->damage_found.Increment();
    impl_->damaged_ranges.Set(static_cast<double>(known));
}

void metrics::set_damaged_ranges(std::size_t known) {
    impl_->damaged_ranges.Set(static_cast<double>(known));
}

void metrics::range_healed(std::size_t known) {
    impl_->healed.Increment();
    impl_->damaged_ranges.Set(static_cast<double>(known));
}

void metrics::scrubbed(std::uint64_t entries) {
    impl_->scrubbed.Increment(static_cast<double>(entries));
}

void metrics::set_read_only(bool read_only) { impl_->read_only.Set(read_only ? 1 : 0); }

void metrics::set_witness_read_only(bool read_only) {
    impl_->witness_read_only.Set(read_only ? 1 : 0);
}

void metrics::commit_failed(const char* reason) {
    std::string_view r(reason);
    for (auto& [label, counter] : impl_->commit_failures)
        if (r == label) return counter->Increment();
    impl_->commit_failures.back().second->Increment(); // "other"
}

void metrics::set_split_views(std::uint64_t count) {
    impl_->split_views.Set(static_cast<double>(count));
}

void metrics::set_tree_size(std::uint64_t size) { impl_->tree_size.Set(static_cast<double>(size)); }

std::string metrics::render() const {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, impl_->registry->Collect());
    return out.str();
}

} // namespace civic::node
