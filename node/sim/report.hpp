// What a run shows, gathered while it runs: counts, latency samples and
// invariant violations; and the report's table and JSON forms.
#pragma once

#include "node/sim/nodes.hpp"
#include "node/sim/virtual_clock.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace civic::node::sim {

class run_report {
public:
    run_report(const simulation_options& options, const virtual_clock& clock)
        : options_(options), clock_(clock) {}

    /// The report so far; the run loop and the workload count into it directly.
    simulation_report& summary() { return report_; }

    /// An invariant broke (each distinct one is reported once, with the seed and the time).
    void violation(const std::string& what);

    void count_message(std::size_t bytes) {
        ++report_.messages;
        report_.bytes += bytes;
    }
    /// A checkpoint met the quorum (the moment witnessed answers get it).
    void witnessed(const std::string& checkpoint);
    /// An entry was acknowledged: it waits for a witnessed checkpoint covering it.
    void acknowledged(std::uint64_t index);
    /// The leader committed a batch: its tree has `tree_size` entries.
    void leader_committed(std::uint64_t tree_size) {
        leader_batches_.emplace_back(tree_size, clock_.now());
    }
    /// How many batches the leader has committed so far.
    std::size_t leader_batches() const { return leader_batches_.size(); }
    /// A replica holds `size` entries durably: the lag of each leader batch it
    /// now holds, from `lag_cursor` on.
    void replica_durable(std::size_t& lag_cursor, std::uint64_t size);
    /// A cosigning round published `published`; true when it claims the quorum
    /// (for the invariant that it carries the cosignatures).
    bool cosign_round(std::optional<std::chrono::microseconds> time_to_quorum,
                      const std::string& published);
    /// An outside witness was asked (its simulated HTTP exchange started).
    void outside_request() { ++report_.outside_requests; }
    /// An outside witness answered 429: the log is beyond its qpd.
    void outside_throttled() { ++report_.outside_throttled; }
    /// A witness cosigned with this timestamp (Unix seconds, its clock).
    void witness_timestamp(std::uint64_t timestamp);

    /// The final report: the leader's tree, and the percentiles of every sample.
    void finish(const sim_node* lead, time_point stop);

private:
    const simulation_options& options_;
    const virtual_clock& clock_;
    simulation_report report_;
    std::vector<std::pair<std::uint64_t, time_point>> leader_batches_; // size, commit time
    std::vector<double> ttq_ms_, lag_ms_, witnessed_ms_;
    std::map<std::uint64_t, time_point> unwitnessed_; // acknowledged index -> when
    std::uint64_t cosignature_lines_ = 0;
    std::set<std::string> violation_keys_;
};

} // namespace civic::node::sim
