// The deterministic simulator: the same seed gives the same report, every fault
// changes what it should, every invariant checker catches a planted bug, and a
// short fuzz run with random faults keeps every invariant. Each run is a whole
// network (local-3region: a leader, two replicas, three witnesses in three
// regions) on virtual time; a run of 20-40 virtual seconds takes well under a
// second here.
#include "node/cli/cli.hpp"
#include "node/sim/simulation.hpp"
#include "node/sim/sweep.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace civic;
using namespace civic::node;
using namespace std::chrono_literals;

namespace {

/// A run of a shipped topology: 40 submissions a second for `duration`.
simulation_options options_for(const char* topology_file, std::uint64_t seed, sim_duration duration,
                               sim_duration settle) {
    auto t = load_topology(std::string(CIVIC_TOPOLOGIES_DIR "/") + topology_file);
    REQUIRE(t);
    simulation_options o;
    o.topo = std::move(*t);
    o.seed = seed;
    o.duration = duration;
    o.settle = settle;
    o.submissions_per_second = 40;
    return o;
}

simulation_options base_options(std::uint64_t seed = 7) {
    return options_for("local-3region.yaml", seed, 20s, 20s);
}

simulation_report run(const simulation_options& o) {
    auto r = simulate(o);
    REQUIRE(r);
    INFO(r->table());
    return *r;
}

std::string violations_of(const simulation_report& r) {
    std::string all;
    for (const auto& v : r.violations)
        all += v + "\n";
    return all;
}

/// The run of the same seed without faults, for comparisons.
const simulation_report& baseline() {
    static simulation_report r = run(base_options());
    return r;
}

} // namespace

TEST_CASE("simulate: the same seed gives a byte-identical report, another seed another one") {
    auto a = run(base_options(7)).to_json();
    auto b = run(base_options(7)).to_json();
    auto c = run(base_options(8)).to_json();
    CHECK(a == b);
    CHECK(a != c);
    // The report is about a real network: entries were acknowledged, replicated
    // and witnessed, and nothing was violated.
    const auto& r = baseline();
    CHECK(r.acknowledged > 500);
    CHECK(r.refused == 0);
    CHECK(r.tree_size == r.acknowledged + 1); // and the workload's identity
    CHECK(r.quorum_checkpoints == r.checkpoints);
    CHECK(r.checkpoints >= 15); // one round a second while the tree grows (20 s)
    CHECK(r.time_to_quorum.samples == r.quorum_checkpoints);
    CHECK(r.replication_lag.samples > 0);
    CHECK(r.cosignatures_per_checkpoint == Approx(3.0));
    CHECK(r.violations.empty());
}

TEST_CASE("simulate: region latencies from the topology set the time to quorum") {
    // local-3region: 2 of 3 witnesses, the leader in eu-west with a witness
    // next to it, us-east 40 ms and ap-south 65 ms one way. The quorum comes
    // with the us-east witness: one round trip, about 80 ms.
    const auto& r = baseline();
    CHECK(r.time_to_quorum.p50 > 75);
    CHECK(r.time_to_quorum.p50 < 100);
}

TEST_CASE("simulate: witnessed requests are answered one round after their commit, not at the "
          "next cadence tick") {
    // multi-region-10 (6 of 10 witnesses in five regions): with every
    // submission asking for a witnessed answer, a round starts at each
    // commit, so an entry waits for the commit and one time to quorum; without,
    // it waits for the next tick (cadence 1 s) as well. Virtual time: exact.
    auto t = load_topology(CIVIC_TOPOLOGIES_DIR "/multi-region-10.yaml");
    REQUIRE(t);
    simulation_options o;
    o.topo = std::move(*t);
    o.seed = 3;
    o.duration = 15s;
    o.settle = 10s;
    o.submissions_per_second = 50;
    auto cadence = run(o);
    o.witnessed = true;
    auto witnessed = run(o);
    INFO(witnessed.table());
    CHECK(witnessed.violations.empty());
    CHECK(witnessed.refused == 0);
    // The target: ack-to-witnessed p95 at most 1.3 x time-to-quorum p95 + 20 ms.
    CHECK(witnessed.time_to_witnessed.p95 <= 1.3 * witnessed.time_to_quorum.p95 + 20);
    CHECK(cadence.time_to_witnessed.p95 > 2 * witnessed.time_to_witnessed.p95);
    CHECK(witnessed.checkpoints > 3 * cadence.checkpoints); // a round per commit, pipelined
}

TEST_CASE("simulate: each fault changes what it should") {
    const auto& base = baseline();
    SECTION("a delay spike delays cosigning and replication by about its size") {
        auto o = base_options();
        o.faults.spikes.push_back({5s, 5s, 2s});
        auto r = run(o);
        CHECK(r.time_to_quorum.max > base.time_to_quorum.max + 1900);
        CHECK(r.replication_lag.max > base.replication_lag.max + 1900);
        CHECK(r.violations.empty());
    }
    SECTION("loss between regions shows as retransmission delay") {
        auto o = base_options();
        o.faults.loss_rate = 0.2;
        auto r = run(o);
        CHECK(r.time_to_quorum.p95 > base.time_to_quorum.p95 + 150);
        CHECK(r.replication_lag.p95 > base.replication_lag.p95 + 150);
        CHECK(r.violations.empty());
    }
    SECTION("loss on one link delays only what crosses it") {
        // eu-west to ap-south: the ap-south replica lags; the quorum (the
        // eu-west and us-east witnesses) does not wait for that link.
        auto o = base_options();
        o.faults.lossy_links.push_back({"eu-west", "ap-south", 0.3});
        auto r = run(o);
        CHECK(r.replication_lag.p95 > base.replication_lag.p95 + 150);
        CHECK(r.time_to_quorum.p95 < base.time_to_quorum.p95 + 20);
        CHECK(r.violations.empty());
    }
    SECTION("a partition cuts a region off until it heals, then its replica catches up") {
        auto o = base_options();
        o.faults.partitions.push_back({5s, 15s, {"ap-south"}});
        auto r = run(o);
        CHECK(r.replication_lag.max > 8000); // replica-ap waited for the heal
        CHECK(r.violations.empty());         // and converged by the end
    }
    SECTION("a leader crash refuses submissions while it is down, loses nothing acknowledged") {
        auto o = base_options();
        o.faults.crashes.push_back({"leader-eu", 5s, 5s});
        auto r = run(o);
        CHECK(r.crashes == 1);
        CHECK(r.refused > 50);
        CHECK(r.acknowledged > base.acknowledged / 2);
        CHECK(r.violations.empty());
    }
    SECTION("a replica crash and restart: it catches up from its storage") {
        auto o = base_options();
        o.faults.crashes.push_back({"replica-us", 5s, 5s});
        auto r = run(o);
        CHECK(r.crashes == 1);
        CHECK(r.violations.empty());
    }
    SECTION("a silent witness: the quorum waits for the farthest one") {
        auto o = base_options();
        o.faults.silences.push_back({"witness-us", 2s, 20s});
        auto r = run(o);
        CHECK(r.time_to_quorum.p50 > base.time_to_quorum.p50 + 40); // ap-south is 65 ms away
        CHECK(r.quorum_checkpoints == r.checkpoints);
        CHECK(r.violations.empty());
    }
    SECTION("two silent witnesses: no quorum while they are silent") {
        auto o = base_options();
        o.faults.silences.push_back({"witness-us", 2s, 10s});
        o.faults.silences.push_back({"witness-ap", 2s, 10s});
        auto r = run(o);
        CHECK(r.quorum_checkpoints < r.checkpoints);
        CHECK(r.violations.empty());
    }
    SECTION("a witness's skewed clock shows in its cosignature timestamps") {
        auto o = base_options();
        o.faults.clock_skew["witness-ap"] = -90s;
        auto r = run(o);
        CHECK(base.max_witness_clock_skew_seconds < 2);
        CHECK(r.max_witness_clock_skew_seconds == Approx(90).margin(1));
        CHECK(r.violations.empty());
    }
    SECTION("an equivocating leader is caught by every node, and loses its quorum") {
        auto o = base_options();
        o.faults.equivocate_at = 8s;
        auto r = run(o);
        CHECK(base.split_views_detected == 0);
        CHECK(r.split_views_detected == r.nodes);
        CHECK(r.quorum_checkpoints > 0);
        CHECK(r.quorum_checkpoints < r.checkpoints / 2); // witnesses halt once they know
        CHECK(r.violations.empty());
    }
}

TEST_CASE("simulate: each invariant checker catches a planted bug") {
    SECTION("a witness that cosigns without checking consistency") {
        auto o = base_options();
        o.faults.equivocate_at = 8s;
        o.plant = sim_plant::careless_witness;
        auto r = run(o);
        REQUIRE_FALSE(r.violations.empty());
        CHECK_THAT(violations_of(r), Catch::Contains("witness witness-eu cosigned two "
                                                     "inconsistent checkpoints"));
        CHECK_THAT(violations_of(r), Catch::Contains("seed 7,"));
    }
    SECTION("a quorum claimed without the cosignatures") {
        auto o = base_options();
        o.faults.silences.push_back({"witness-us", 2s, 10s});
        o.faults.silences.push_back({"witness-ap", 2s, 10s});
        o.plant = sim_plant::quorum_lie;
        CHECK_THAT(violations_of(run(o)),
                   Catch::Contains("quorum claimed without the cosignatures"));
    }
    SECTION("an acknowledged entry lost (a disk that lied about its writes)") {
        auto o = base_options();
        o.faults.crashes.push_back({"leader-eu", 10s, 2s});
        o.plant = sim_plant::lost_ack;
        CHECK_THAT(violations_of(run(o)), Catch::Contains("acknowledged entry"));
    }
    SECTION("a replica that never converges") {
        auto o = base_options();
        o.plant = sim_plant::stale_replica;
        CHECK_THAT(violations_of(run(o)), Catch::Contains("replica replica-us did not converge"));
    }
    SECTION("a split view nobody detects") {
        auto o = base_options();
        o.faults.equivocate_at = 8s;
        o.plant = sim_plant::silent_gossip;
        CHECK_THAT(violations_of(run(o)), Catch::Contains("split view undetected"));
    }
}

TEST_CASE("simulate: a short fuzz run with random faults keeps every invariant") {
    auto o = base_options(1000);
    o.duration = 15s;
    o.settle = 20s;
    std::size_t with_faults = 0;
    for (std::uint64_t seed = 1000; seed < 1004; ++seed) {
        o.seed = seed;
        o.faults = random_faults(o.topo, seed, o.duration);
        if (describe_faults(o.faults) != "(no faults)") ++with_faults;
        auto r = run(o);
        INFO("seed " << seed << ": " << describe_faults(o.faults));
        CHECK(violations_of(r) == "");
    }
    CHECK(with_faults >= 3);
}

namespace {

simulation_options outside_options(std::uint64_t seed = 3) {
    return options_for("outside-witnesses.yaml", seed, 20s, 10s);
}

} // namespace

TEST_CASE("simulate: outside witnesses are asked over HTTP in their own regions, and join the "
          "quorum") {
    // outside-witnesses.yaml: the quorum needs 2 of the 4 witness nodes and 2
    // of the 3 outside witnesses (us-west 70 ms away, eu-west next door,
    // sa-east 95 ms). The outside pair that completes it is eu-west's and
    // us-west's: one round trip of 140 ms plus their service time, beyond
    // what the nodes alone would take (us-east: 80 ms).
    auto o = outside_options();
    auto r = run(o);
    INFO(r.table());
    CHECK(r.violations.empty()); // every quorum claimed holds valid outside cosignatures
    CHECK(r.outside_witnesses == 3);
    CHECK(r.refused == 0);
    CHECK(r.checkpoints >= 15);
    CHECK(r.quorum_checkpoints == r.checkpoints);
    CHECK(r.outside_requests >= 3 * r.checkpoints); // every outside witness, every round
    CHECK(r.outside_throttled == 0);                // 86400 a day: far within it
    CHECK(r.cosignatures_per_checkpoint > 6.5);
    CHECK(r.time_to_quorum.p50 > 140);
    CHECK(r.time_to_quorum.p50 < 175);
    // The first round sets up each connection (TCP and TLS: two round trips
    // more); the rest reuse them.
    CHECK(r.time_to_quorum.max > 2 * r.time_to_quorum.p50);
    CHECK(run(o).to_json() == r.to_json()); // deterministic with them too
}

TEST_CASE("simulate: an outside witness's qpd holds the log back, and its Retry-After is kept") {
    // 240 requests a day: a burst of 10, then one every 6 minutes. After ten
    // rounds each outside witness answers 429 with a Retry-After of minutes,
    // which the collector keeps (capped at 10 minutes): one refusal each, not
    // one a round, and no quorum after that.
    auto o = outside_options();
    for (auto& w : o.topo.outside_witnesses)
        w.qpd = 240;
    auto r = run(o);
    INFO(r.table());
    CHECK(r.violations.empty());
    CHECK(r.quorum_checkpoints >= 8);
    CHECK(r.quorum_checkpoints <= 11);
    CHECK(r.checkpoints > r.quorum_checkpoints + 10);
    CHECK(r.outside_throttled >= 3);
    CHECK(r.outside_throttled <= 6);
    CHECK(r.outside_requests <= 3 * 11 + 6);
}

TEST_CASE("simulate: with witnessed answers, a limiting outside witness is paced, not hammered") {
    // Every submission asks for a witnessed answer, so rounds start at each
    // commit (many a second), but each outside witness allows one a second
    // (86400 a day, a burst of 60). Once the burst is spent the collector
    // keeps to the pace a 429 showed, and rounds short of their quorum wait
    // for it: witnessed answers take about a second, and refusals stay few.
    auto o = outside_options();
    o.duration = 60s;
    o.witnessed = true;
    auto r = run(o);
    INFO(r.table());
    CHECK(r.violations.empty());
    CHECK(r.refused == 0);
    CHECK(r.outside_throttled > 0);
    CHECK(r.outside_throttled < r.outside_requests / 10);
    CHECK(r.time_to_witnessed.p50 < 1500);
    CHECK(r.time_to_witnessed.p95 < 2500);
    // Without a limit the same run is witnessed in one round.
    for (auto& w : o.topo.outside_witnesses)
        w.qpd = 0;
    auto unlimited = run(o);
    INFO(unlimited.table());
    CHECK(unlimited.outside_throttled == 0);
    CHECK(unlimited.time_to_witnessed.p95 <= 1.3 * unlimited.time_to_quorum.p95 + 20);
}

TEST_CASE("simulate: outside witnesses are placed by the topology, or the run is refused") {
    auto path = std::string(CIVIC_TOPOLOGIES_DIR "/outside-witnesses.yaml");
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    auto full = text.str();
    auto section = full.find("\noutside_witnesses:");
    REQUIRE(section != std::string::npos);
    // Without its place, an outside witness cannot be simulated.
    auto unplaced = parse_topology(full.substr(0, section + 1), path);
    REQUIRE(unplaced);
    simulation_options o = outside_options();
    o.topo = *unplaced;
    auto r = simulate(o);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.message(), Catch::Contains("outside_witnesses: the policy's outside witness "
                                            "'witness.example.org/us-west' is not placed"));
    // A place for a witness the policy does not have, or in no region.
    auto stranger = parse_topology(full + "  - {name: nobody.example/w, region: eu-west}\n", path);
    REQUIRE_FALSE(stranger);
    CHECK_THAT(stranger.message(), Catch::Contains("'nobody.example/w' is no outside witness"));
    auto nowhere = full;
    nowhere.replace(nowhere.find("region: sa-east, qpd"), 15, "region: mars-1");
    auto far = parse_topology(nowhere, path);
    REQUIRE_FALSE(far);
    CHECK_THAT(far.message(), Catch::Contains("no region 'mars-1'"));
}

TEST_CASE("simulate: sweeps add outside witnesses and vary their qpd") {
    auto t = load_topology(CIVIC_TOPOLOGIES_DIR "/outside-witnesses.yaml");
    REQUIRE(t);
    auto none = sweep_topology(*t, sweep_parameter::outside, 0);
    REQUIRE(none);
    CHECK(none->policy.find("https://") == std::string::npos);
    CHECK_THAT(none->policy, Catch::Contains("group sweep 3 witness-eu-west"));
    auto two = sweep_topology(*t, sweep_parameter::outside, 2);
    REQUIRE(two);
    CHECK_THAT(two->policy, Catch::Contains("https://witness.example.net/tlog/"));
    CHECK(two->policy.find("witness.example.com/sa-east") == std::string::npos);
    CHECK_THAT(two->policy, Catch::Contains("group sweep 4 witness-eu-west witness-us-east "
                                            "witness-us-west witness-ap-south "
                                            "witness.example.org/us-west "
                                            "witness.example.net/eu-central\n"));
    CHECK_FALSE(sweep_topology(*t, sweep_parameter::outside, 4));
    auto slow = sweep_topology(*t, sweep_parameter::outside_qpd, 1440);
    REQUIRE(slow);
    for (const auto& w : slow->outside_witnesses)
        CHECK(w.qpd == 1440);
    CHECK(parse_sweep("outside=0,1,3"));
    CHECK(parse_sweep("outside_qpd=0,86400"));
    CHECK_FALSE(parse_sweep("outside=1.5"));
    auto m10 = load_topology(CIVIC_TOPOLOGIES_DIR "/multi-region-10.yaml");
    REQUIRE(m10);
    CHECK_FALSE(sweep_topology(*m10, sweep_parameter::outside_qpd, 10));
}

TEST_CASE("simulate: sweeps vary the witnesses, and bad options are refused by name") {
    auto t = load_topology(CIVIC_TOPOLOGIES_DIR "/multi-region-10.yaml");
    REQUIRE(t);
    auto three = sweep_topology(*t, sweep_parameter::witnesses, 3);
    REQUIRE(three);
    std::size_t witnesses = 0;
    for (const auto& n : three->nodes)
        witnesses += n.has(node_role::witness);
    CHECK(witnesses == 3);
    CHECK_THAT(three->policy, Catch::Contains("group sweep 2 witness-eu-west-1 witness-us-east-1 "
                                              "witness-us-west-1"));
    CHECK_FALSE(sweep_topology(*t, sweep_parameter::witnesses, 11));
    CHECK_FALSE(parse_sweep("witnesses=3,x"));
    CHECK_FALSE(parse_sweep("colour=3"));

    std::ostringstream out, err;
    auto topo = std::string(CIVIC_TOPOLOGIES_DIR "/local-3region.yaml");
    CHECK(run_cli({"simulate", "--topology", topo, "--crash", "nobody@1s+1s"}, out, err) ==
          exit_usage);
    CHECK_THAT(err.str(), Catch::Contains("--crash 'nobody': no such node"));
    err.str("");
    CHECK(run_cli({"simulate", "--topology", topo, "--duration", "ten"}, out, err) == exit_usage);
    CHECK_THAT(err.str(), Catch::Contains("--duration"));
    err.str("");
    CHECK(run_cli({"simulate", "--topology", topo, "--silence", "leader-eu@1s+1s"}, out, err) ==
          exit_usage);
    CHECK_THAT(err.str(), Catch::Contains("not a witness"));
}

TEST_CASE("simulate: --log-file keeps the nodes' logs with the virtual time of each kill and "
          "restart, and the report is the same without it") {
    namespace fs = std::filesystem;
    auto log_file = fs::temp_directory_path() /
                    ("civic-simulation-log-test-" + std::to_string(::getpid()) + ".log");
    fs::remove(log_file);
    auto topo = std::string(CIVIC_TOPOLOGIES_DIR "/local-3region.yaml");
    std::vector<std::string> args = {
        "simulate",         "--topology", topo, "--duration", "10s", "--settle", "5s", "--crash",
        "replica-us@3s+2s", "--json",     ""};
    // The table's last line is the speed (wall time): the rest is deterministic.
    auto without_speed = [](const std::string& table) {
        return table.substr(0, table.find("  virtual/wall time"));
    };
    std::ostringstream quiet_out, quiet_err;
    REQUIRE(run_cli(args, quiet_out, quiet_err) == exit_ok);

    auto logged_args = args;
    logged_args.insert(logged_args.end(), {"--log-level", "info", "--log-file", log_file.string()});
    std::ostringstream out, err;
    REQUIRE(run_cli(logged_args, out, err) == exit_ok);
    CHECK(without_speed(out.str()) == without_speed(quiet_out.str()));
    CHECK(err.str() == quiet_err.str());
    CHECK_THAT(out.str(), Catch::Contains("crashes                             1"));

    std::ifstream in(log_file);
    std::string line, killed, restarted;
    std::size_t lines = 0;
    while (std::getline(in, line)) {
        ++lines;
        if (line.find("msg=\"process killed\"") != std::string::npos) killed = line;
        if (line.find("msg=\"process restarted\"") != std::string::npos) restarted = line;
    }
    fs::remove(log_file);
    INFO("the log has " << lines << " lines");
    CHECK_THAT(killed, Catch::Contains("node=replica-us actor=simulator"));
    CHECK_THAT(killed, Catch::Contains("virtual_time_ms=3000"));
    CHECK_THAT(restarted, Catch::Contains("node=replica-us actor=simulator"));
    CHECK_THAT(restarted, Catch::Contains("virtual_time_ms=5000"));
    CHECK_THAT(restarted, Catch::Contains("incarnation=2"));
    CHECK(lines > 2); // the nodes' own lines too (their start, the restarted replica's catch-up)

    std::ostringstream bad_out, bad_err;
    CHECK(run_cli({"simulate", "--topology", topo, "--log-level", "loud"}, bad_out, bad_err) ==
          exit_usage);
    CHECK_THAT(bad_err.str(), Catch::Contains("--log-level 'loud'"));
    bad_err.str("");
    CHECK(run_cli({"simulate", "--topology", topo, "--log-file", "/nonexistent/dir/sim.log"},
                  bad_out, bad_err) == exit_usage);
    CHECK_THAT(bad_err.str(), Catch::Contains("--log-file /nonexistent/dir/sim.log: cannot write"));
}
