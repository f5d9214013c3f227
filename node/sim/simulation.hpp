// The deterministic simulator: a whole network from a topology file in one
// process, on virtual time. Every node runs its real supervision tree
// (node_tree.hpp) in its own CAF actor system on the test coordinator, and the
// nodes talk BASP over CAF's test multiplexer: the simulator carries the bytes
// between them with the topology's region latencies, and injects faults. One
// seeded generator decides latencies, faults, the workload and the order of
// runnable jobs: the same seed and binary give the same report, byte for byte.
#pragma once

#include "actors/log.hpp"
#include "node/config/topology.hpp"
#include "protocol/result.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace civic::node {

using sim_duration = std::chrono::microseconds;

/// Faults to inject. Times are virtual, from the start of the run.
struct sim_faults {
    /// Every message between nodes takes `extra` longer while a spike lasts.
    struct delay_spike {
        sim_duration at{0}, length{0}, extra{0};
    };
    std::vector<delay_spike> spikes;
    /// A packet between two regions is lost with this probability; TCP sends it
    /// again after a retransmission timeout (200 ms, doubling), so loss shows
    /// as delay, and as a dropped connection when it outlasts the heartbeats.
    double loss_rate = 0;
    /// Loss on one link only: between two regions (both ways), on top of `loss_rate`.
    struct lossy_link {
        std::string a, b;
        double rate = 0;
    };
    std::vector<lossy_link> lossy_links;
    /// The regions named are cut off from all others from `at` until `heal`.
    struct partition {
        sim_duration at{0}, heal{0};
        std::vector<std::string> regions;
    };
    std::vector<partition> partitions;
    /// The node's process dies at `at` (its storage is kept) and starts again
    /// `down_for` later.
    struct crash {
        std::string node;
        sim_duration at{0}, down_for{0};
    };
    std::vector<crash> crashes;
    /// A witness's wall clock (its cosignature timestamps) is off by this much.
    std::map<std::string, sim_duration> clock_skew;
    /// A witness stops answering (its witness actor hangs) from `from` to `until`.
    struct silence {
        std::string witness;
        sim_duration from{0}, until{0};
    };
    std::vector<silence> silences;
    /// From this time the leader equivocates: it gossips another tree of the
    /// same size to every second peer and asks half the witnesses to cosign it.
    std::optional<sim_duration> equivocate_at;
};

/// Bugs planted on purpose, to show that each invariant checker catches one.
enum class sim_plant {
    none,
    careless_witness, // the first witness cosigns without checking consistency
    quorum_lie,       // the checker is told a round met its quorum when it did not
    lost_ack,         // the workload counts an acknowledgement the leader never gave
    stale_replica,    // one replica is never given a leader to follow
    silent_gossip,    // no node gossips: a split view goes unseen
};
result<sim_plant> parse_plant(const std::string& name);

struct simulation_options {
    topology topo;
    std::uint64_t seed = 1;
    sim_duration duration = std::chrono::minutes(1);
    double submissions_per_second = 50;
    /// Each submission asks for a witnessed answer ("witnessed": true): the
    /// leader starts a cosigning round as soon as it is acknowledged.
    bool witnessed = false;
    sim_faults faults;
    sim_plant plant = sim_plant::none;
    /// After `duration`: no new submissions and no faults (partitions healed,
    /// crashed nodes restarted) for this long, then convergence is checked.
    sim_duration settle = std::chrono::seconds(30);
    /// How long each write of a node's blocking writers (ledger committer,
    /// witness and gossip writers) takes: an fsync.
    sim_duration fsync = std::chrono::milliseconds(1);
    /// How often the invariants are checked during the run.
    sim_duration check_every = std::chrono::seconds(5);
    /// The nodes' logs (actors/log.hpp), off unless asked; the simulator adds a
    /// line with the virtual time for each process it kills and restarts.
    log::options log{log::level::off, log::format::text, {}};
};

/// Latency percentiles in milliseconds (0 when there were no samples).
struct sim_percentiles {
    std::size_t samples = 0;
    double p50 = 0, p95 = 0, p99 = 0, max = 0;
};

/// What a run shows. Everything here but `wall_seconds` is deterministic.
struct simulation_report {
    std::string topology_file;
    std::uint64_t seed = 0;
    double virtual_seconds = 0;
    std::size_t nodes = 0, witnesses = 0;
    std::size_t outside_witnesses = 0; // of the policy, modelled (node/sim/outside.hpp)
    std::uint64_t outside_requests = 0, outside_throttled = 0; // HTTP exchanges, 429 answers
    std::string quorum;                                        // the policy's quorum, as written
    std::uint64_t submitted = 0;                               // submissions sent to nodes
    std::uint64_t acknowledged = 0;
    std::uint64_t refused = 0;     // answered with an error (or timed out)
    std::uint64_t tree_size = 0;   // the leader's, at the end
    std::uint64_t checkpoints = 0; // cosigning rounds published
    std::uint64_t quorum_checkpoints = 0;
    sim_percentiles time_to_quorum; // from asking the witnesses to the quorum
    sim_percentiles
        time_to_witnessed; // from an acknowledgement to a witnessed checkpoint covering it
    double cosignatures_per_checkpoint = 0;
    sim_percentiles replication_lag;
    std::uint64_t split_views_detected = 0; // nodes holding evidence at the end
    std::uint64_t crashes = 0, messages = 0, bytes = 0;
    double max_witness_clock_skew_seconds = 0; // seen in cosignature timestamps
    std::vector<std::string> violations;       // each names the seed
    std::string root_hash;                     // the leader's final root (hex)
    double wall_seconds = 0;                   // not deterministic: not in to_json()
    std::vector<double> time_to_quorum_samples, time_to_witnessed_samples; // ms, for sweeps

    /// The summary table (with the virtual/wall time ratio).
    std::string table() const;
    /// The deterministic report as JSON text.
    std::string to_json() const;
};

/// Percentiles of samples (milliseconds).
sim_percentiles percentiles_of(std::vector<double> samples);

/// Runs one simulation. The nodes' data directories go into a fresh directory
/// under /dev/shm (or the system's temporary directory), removed afterwards.
result<simulation_report> simulate(const simulation_options& options);

/// `x` with `digits` decimals, as reports print numbers.
std::string fixed_digits(double x, int digits);

} // namespace civic::node
