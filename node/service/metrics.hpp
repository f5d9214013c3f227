// The node's Prometheus metrics (prometheus-cpp core, served by our own HTTP
// server at /metrics): HTTP requests and latencies by endpoint, the ledger's
// batch sizes, commit latency and tree size.
#pragma once

#include "actors/ledger.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace civic::node {

/// The endpoint a request target counts under: one of a fixed set of names
/// ("/api/sign", "/tile", ..., "other"), so labels cannot grow with input.
std::string endpoint_of(const std::string& target);

class metrics {
public:
    metrics();
    ~metrics();
    metrics(const metrics&) = delete;
    metrics& operator=(const metrics&) = delete;

    /// One HTTP answer. Thread-safe.
    void http_answered(const std::string& target, unsigned status,
                       std::chrono::microseconds elapsed);
    /// One committed ledger batch (called on the ledger's thread). Thread-safe.
    void batch_committed(const actors::batch_report& report);
    /// One answer from a witness to the collector (or a failure: an error, a
    /// timeout, a refusal). Thread-safe; `witness` names a witness of the policy.
    void witness_answered(const std::string& witness, std::chrono::microseconds latency, bool ok);
    /// A witness's view after a request to it: its cosigned size, its latest
    /// cosignature's time, its 429 and 503 answers. Thread-safe.
    void witness_view(const actors::witness_link& view);
    /// One collection round ended: the time to quorum, or none when it failed.
    void cosign_round(std::optional<std::chrono::microseconds> time_to_quorum);
    /// A connection the HTTP server turned away or evicted ("full", "per_address",
    /// "evicted_idle"). Thread-safe.
    void http_connection_refused(const char* reason);
    /// A connection the peer port's TLS front refused or closed, by reason
    /// (peer_tls_options::on_refused). Thread-safe.
    void peer_connection_refused(const char* reason);
    void peer_message_refused();
    /// A split view was caught (new verified evidence). Thread-safe.
    void split_view_found();
    /// A poll for the witnessed checkpoint, and the requests still waiting after it.
    void witnessed_poll(std::size_t waiting);
    /// A read found the store's bytes differ from the verified tree (or missing
    /// below its size): counted in civic_store_damage_total. Thread-safe.
    void store_damage_found();
    /// A range newly found damaged (civic_store_damage_found_total), and the
    /// ranges known damaged now (civic_store_damaged_ranges). Thread-safe.
    void damaged_range_found(std::size_t known);
    void set_damaged_ranges(std::size_t known);
    /// A damaged range was healed (civic_store_healed_total). Thread-safe.
    void range_healed(std::size_t known);
    /// The scrub checked `entries` entries (civic_scrub_entries_total). Thread-safe.
    void scrubbed(std::uint64_t entries);
    /// The ledger (or replica) refuses writes because its store has no room, or
    /// takes them again: civic_ledger_read_only. Thread-safe.
    void set_read_only(bool read_only);
    /// The witness cannot persist a round for want of room, or persists again:
    /// civic_witness_read_only. Thread-safe.
    void set_witness_read_only(bool read_only);
    /// A ledger, replica or witness commit failed, by reason ("no_space", "quota",
    /// "map_full", "other"): civic_ledger_commit_failures_total. Thread-safe.
    void commit_failed(const char* reason);
    /// The evidence records held at start.
    void set_split_views(std::uint64_t count);
    /// The tree size before any batch of this run is committed.
    void set_tree_size(std::uint64_t size);
    /// The Prometheus text exposition format (version 0.0.4).
    std::string render() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace civic::node
