// Many simulations: sweeps of one parameter over several seeds (how many
// witnesses, what quorum, how many regions, what loss rate), and fuzzing with
// random faults. Built on simulate() (simulation.hpp).
#pragma once

#include "node/sim/simulation.hpp"

#include <functional>
#include <string>
#include <vector>

namespace civic::node {

/// What a sweep varies.
enum class sweep_parameter { witnesses, quorum, regions, loss, outside, outside_qpd };

struct sweep_spec {
    sweep_parameter parameter = sweep_parameter::witnesses;
    std::string name;           // as given: "witnesses"
    std::vector<double> values; // the points
};

/// Parses "witnesses=3,5,7,10" (also quorum=K,..., regions=R,..., loss=P,...,
/// outside=N,..., outside_qpd=Q,...).
result<sweep_spec> parse_sweep(const std::string& text);

/// The topology at one point of a sweep:
/// - witnesses=N: the first N witness nodes taken round-robin over the regions
///   (a spread placement), quorum a majority of them;
/// - quorum=K: all the topology's witnesses, K of them needed;
/// - regions=R: only the witnesses of the first R regions, a majority needed;
/// - loss: the topology unchanged (the loss rate is a fault);
/// - outside=N: every witness node and the first N outside witnesses (in
///   the order of outside_witnesses:), a majority of them all needed;
/// - outside_qpd=Q: the topology with every outside witness allowing Q
///   add-checkpoint requests a day (0: no limit).
result<topology> sweep_topology(const topology& base, sweep_parameter p, double value);

struct sweep_point {
    double value = 0;
    std::size_t witnesses = 0;
    std::string quorum;
    std::vector<simulation_report> runs; // one per seed
    sim_percentiles time_to_quorum;      // over every round of every seed
    sim_percentiles time_to_witnessed;
    std::size_t violations = 0;
    std::uint64_t outside_throttled = 0; // 429 answers of outside witnesses, over every seed
};

/// Runs every point over `seeds` seeds (seed, seed+1, ...); `progress` gets the
/// runs done and the runs in all.
result<std::vector<sweep_point>>
run_sweep(const simulation_options& base, const sweep_spec& spec, std::size_t seeds,
          const std::function<void(std::size_t, std::size_t)>& progress);

/// The sweep as a Markdown table, and as an SVG chart of time to quorum (p50,
/// p95) against the swept value.
std::string sweep_table(const sweep_spec& spec, const std::vector<sweep_point>& points);
std::string sweep_svg(const sweep_spec& spec, const std::vector<sweep_point>& points);

/// Random faults for a fuzz run, drawn from `seed`: crashes, partitions, delay
/// spikes, loss, witness silences and clock skews, sometimes an equivocating
/// leader; all within `duration`, so the settle period sees them healed.
sim_faults random_faults(const topology& t, std::uint64_t seed, sim_duration duration);

/// A one-line description of faults (for fuzz reports).
std::string describe_faults(const sim_faults& f);

} // namespace civic::node
