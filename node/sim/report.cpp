#include "node/sim/report.hpp"

#include "protocol/checkpoint.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace civic::node {

sim_percentiles percentiles_of(std::vector<double> xs) {
    sim_percentiles p;
    p.samples = xs.size();
    if (xs.empty()) return p;
    std::sort(xs.begin(), xs.end());
    auto at = [&](double q) {
        auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(xs.size()))) - 1;
        return xs[std::min(i, xs.size() - 1)];
    };
    p.p50 = at(0.50);
    p.p95 = at(0.95);
    p.p99 = at(0.99);
    p.max = xs.back();
    return p;
}

std::string fixed_digits(double x, int digits) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << x;
    return s.str();
}

namespace report_format {

nlohmann::json percentiles_json(const sim_percentiles& p) {
    return {{"samples", p.samples},
            {"p50_ms", p.p50},
            {"p95_ms", p.p95},
            {"p99_ms", p.p99},
            {"max_ms", p.max}};
}

} // namespace report_format

std::string simulation_report::to_json() const {
    using report_format::percentiles_json;
    nlohmann::json j = {
        {"topology", topology_file},
        {"seed", seed},
        {"virtual_seconds", virtual_seconds},
        {"nodes", nodes},
        {"witnesses", witnesses},
        {"outside_witnesses", outside_witnesses},
        {"outside_requests", outside_requests},
        {"outside_throttled", outside_throttled},
        {"quorum", quorum},
        {"submitted", submitted},
        {"acknowledged", acknowledged},
        {"refused", refused},
        {"tree_size", tree_size},
        {"root", root_hash},
        {"checkpoints", checkpoints},
        {"quorum_checkpoints", quorum_checkpoints},
        {"time_to_quorum", percentiles_json(time_to_quorum)},
        {"time_to_witnessed", percentiles_json(time_to_witnessed)},
        {"cosignatures_per_checkpoint", cosignatures_per_checkpoint},
        {"replication_lag", percentiles_json(replication_lag)},
        {"split_views_detected", split_views_detected},
        {"crashes", crashes},
        {"messages", messages},
        {"bytes", bytes},
        {"max_witness_clock_skew_seconds", max_witness_clock_skew_seconds},
        {"violations", violations},
    };
    return j.dump(2) + "\n";
}

std::string simulation_report::table() const {
    std::ostringstream out;
    auto row = [&](const std::string& name, const std::string& value) {
        out << "  " << std::left << std::setw(36) << name << value << "\n";
    };
    auto pct = [](const sim_percentiles& p) {
        if (p.samples == 0) return std::string("-");
        return fixed_digits(p.p50, 1) + " / " + fixed_digits(p.p95, 1) + " / " +
               fixed_digits(p.p99, 1) + " ms (" + std::to_string(p.samples) + " samples)";
    };
    out << "simulation of " << topology_file << ", seed " << seed << ", "
        << fixed_digits(virtual_seconds, 0) << " s virtual, " << nodes << " nodes, " << witnesses
        << " witnesses";
    if (outside_witnesses > 0) out << " and " << outside_witnesses << " outside";
    out << "\n";
    row("checkpoints published", std::to_string(checkpoints) + " (" +
                                     std::to_string(quorum_checkpoints) + " met the quorum" +
                                     (quorum.empty() ? "" : " '" + quorum + "'") + ")");
    row("time to quorum p50/p95/p99", pct(time_to_quorum));
    row("ack to witnessed p50/p95/p99", pct(time_to_witnessed));
    row("cosignatures per checkpoint", fixed_digits(cosignatures_per_checkpoint, 2));
    row("replication lag p50/p95/p99", pct(replication_lag));
    row("entries acknowledged", std::to_string(acknowledged) + " of " + std::to_string(submitted) +
                                    " submitted (" + std::to_string(refused) + " refused)");
    row("leader's tree", std::to_string(tree_size) + " entries");
    if (outside_witnesses > 0)
        row("outside witnesses asked", std::to_string(outside_requests) + " times (" +
                                           std::to_string(outside_throttled) +
                                           " answered 429, beyond their qpd)");
    row("messages between nodes",
        std::to_string(messages) + " (" + std::to_string(bytes) + " bytes)");
    if (crashes > 0) row("crashes", std::to_string(crashes));
    if (split_views_detected > 0)
        row("nodes holding split-view evidence", std::to_string(split_views_detected));
    if (max_witness_clock_skew_seconds > 0)
        row("witness clock skew seen", fixed_digits(max_witness_clock_skew_seconds, 0) + " s");
    row("invariant violations", std::to_string(violations.size()));
    for (const auto& v : violations)
        out << "    " << v << "\n";
    row("virtual/wall time",
        fixed_digits(wall_seconds > 0 ? virtual_seconds / wall_seconds : 0, 1) + "x (" +
            fixed_digits(wall_seconds, 2) + " s wall)");
    return out.str();
}

namespace sim {

void run_report::violation(const std::string& what) {
    if (!violation_keys_.insert(what).second) return;
    std::ostringstream line;
    line << "seed " << options_.seed << ", t=" << std::fixed << std::setprecision(3)
         << clock_.seconds() << "s: " << what;
    report_.violations.push_back(line.str());
}

void run_report::acknowledged(std::uint64_t index) {
    ++report_.acknowledged;
    unwitnessed_.emplace(index, clock_.now());
}

void run_report::replica_durable(std::size_t& lag_cursor, std::uint64_t size) {
    while (lag_cursor < leader_batches_.size() && leader_batches_[lag_cursor].first <= size) {
        auto lag = clock_.now() - leader_batches_[lag_cursor].second;
        lag_ms_.push_back(ms(std::chrono::duration_cast<sim_duration>(lag)));
        ++lag_cursor;
    }
}

bool run_report::cosign_round(std::optional<std::chrono::microseconds> time_to_quorum,
                              const std::string& published) {
    ++report_.checkpoints;
    if (options_.plant == sim_plant::quorum_lie && !time_to_quorum)
        time_to_quorum = std::chrono::microseconds(1);
    auto lines = static_cast<std::uint64_t>(std::count(published.begin(), published.end(), '\n'));
    if (auto blank = published.find("\n\n"); blank != std::string::npos)
        lines = static_cast<std::uint64_t>(std::count(
            published.begin() + static_cast<std::ptrdiff_t>(blank) + 2, published.end(), '\n'));
    cosignature_lines_ += lines > 0 ? lines - 1 : 0; // all but the log's own signature
    if (!time_to_quorum) return false;
    ++report_.quorum_checkpoints;
    ttq_ms_.push_back(ms(*time_to_quorum));
    witnessed(published); // covered already at its quorum, unless the grace added nothing
    return true;
}

void run_report::witnessed(const std::string& checkpoint) {
    auto cp = parse_signed_checkpoint(checkpoint);
    if (!cp) return;
    for (auto it = unwitnessed_.begin(); it != unwitnessed_.end() && it->first < cp->body.size;
         it = unwitnessed_.erase(it))
        witnessed_ms_.push_back(
            ms(std::chrono::duration_cast<sim_duration>(clock_.now() - it->second)));
}

void run_report::witness_timestamp(std::uint64_t timestamp) {
    auto truth = static_cast<double>(sim_epoch_unix.count()) / 1000.0 + clock_.seconds();
    auto skew = std::abs(static_cast<double>(timestamp) - truth);
    report_.max_witness_clock_skew_seconds =
        std::max(report_.max_witness_clock_skew_seconds, std::floor(skew));
}

void run_report::finish(const sim_node* lead, time_point stop) {
    if (lead && lead->up && lead->ledger) {
        report_.tree_size = lead->ledger->store->stored_size();
        if (auto latest = lead->ledger->store->latest_checkpoint(); latest && *latest)
            if (auto cp = parse_signed_checkpoint(**latest))
                report_.root_hash = hex_encode(cp->body.root);
    }
    report_.virtual_seconds = std::chrono::duration<double>(stop.time_since_epoch()).count();
    report_.time_to_quorum = percentiles_of(ttq_ms_);
    report_.time_to_witnessed = percentiles_of(witnessed_ms_);
    report_.time_to_quorum_samples = ttq_ms_;
    report_.time_to_witnessed_samples = witnessed_ms_;
    report_.replication_lag = percentiles_of(lag_ms_);
    report_.cosignatures_per_checkpoint =
        report_.checkpoints
            ? static_cast<double>(cosignature_lines_) / static_cast<double>(report_.checkpoints)
            : 0;
}

} // namespace sim

} // namespace civic::node
