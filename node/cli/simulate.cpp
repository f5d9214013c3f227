#include "node/cli/simulate.hpp"

#include "node/cli/exit_code.hpp"
#include "node/config/topology.hpp"
#include "node/sim/sweep.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace civic::node {

namespace po = boost::program_options;

result<sim_duration> parse_sim_duration(const std::string& text, bool allow_negative) {
    std::size_t digits = 0;
    while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) ||
                                    text[digits] == '.' || (digits == 0 && text[digits] == '-')))
        ++digits;
    auto number = text.substr(0, digits);
    auto unit = text.substr(digits);
    double value = 0;
    try {
        std::size_t used = 0;
        value = std::stod(number, &used);
        if (used != number.size()) throw std::invalid_argument(number);
    } catch (const std::exception&) {
        return make_error("'" + text +
                          "': not a duration (a number and a unit: 250ms, 30s, 5m, 1h)");
    }
    double scale = 0;
    if (unit == "us")
        scale = 1;
    else if (unit == "ms")
        scale = 1e3;
    else if (unit == "s")
        scale = 1e6;
    else if (unit == "m")
        scale = 60e6;
    else if (unit == "h")
        scale = 3600e6;
    else
        return make_error("'" + text + "': the unit must be us, ms, s, m or h");
    if (value < 0 && !allow_negative) return make_error("'" + text + "': must not be negative");
    double us = value * scale;
    if (!std::isfinite(us) || std::abs(us) > 1e15) return make_error("'" + text + "': too long");
    return sim_duration(static_cast<std::int64_t>(std::llround(us)));
}

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    std::string part;
    std::istringstream in(text);
    while (std::getline(in, part, sep))
        parts.push_back(part);
    return parts;
}

/// "AT+LENGTH" into its two durations.
result<std::pair<sim_duration, sim_duration>> parse_window(const std::string& text) {
    auto plus = text.find('+');
    if (plus == std::string::npos)
        return make_error("'" + text + "': expected AT+LENGTH (600s+30s)");
    auto from = parse_sim_duration(text.substr(0, plus));
    if (!from) return from.err();
    auto length = parse_sim_duration(text.substr(plus + 1));
    if (!length) return length.err();
    return std::make_pair(*from, *length);
}

/// "NAME<sep>REST".
result<std::pair<std::string, std::string>> parse_named(const std::string& text, char sep,
                                                        const char* form) {
    auto at = text.find(sep);
    if (at == std::string::npos || at == 0) return make_error("'" + text + "': expected " + form);
    return std::make_pair(text.substr(0, at), text.substr(at + 1));
}

status check_node(const topology& t, const std::string& name, bool witness, const char* flag) {
    const auto* n = t.find(name);
    if (!n) return make_error(std::string(flag) + " '" + name + "': no such node in " + t.file);
    if (witness && !n->has(node_role::witness))
        return make_error(std::string(flag) + " '" + name + "': not a witness");
    return {};
}

bool has_region(const topology& t, const std::string& name) {
    return std::any_of(t.regions.begin(), t.regions.end(),
                       [&](const region_spec& x) { return x.name == name; });
}

/// --partition AT+LENGTH=REGION[,REGION...]
status read_partition(const std::string& p, const topology& t, sim_faults& f) {
    auto parts = parse_named(p, '=', "AT+LENGTH=REGION[,REGION...]");
    if (!parts) return make_error("--partition: " + parts.message());
    auto w = parse_window(parts->first);
    if (!w) return make_error("--partition: " + w.message());
    sim_faults::partition cut{w->first, w->first + w->second, split(parts->second, ',')};
    for (const auto& r : cut.regions)
        if (!has_region(t, r)) return make_error("--partition: no region '" + r + "' in " + t.file);
    f.partitions.push_back(std::move(cut));
    return {};
}

/// --loss RATE (every link between regions) or RATE=REGION:REGION (one link).
status read_loss(const std::string& l, const topology& t, sim_faults& f) {
    auto eq = l.find('=');
    double rate = -1;
    try {
        std::size_t used = 0;
        auto text = l.substr(0, eq);
        rate = std::stod(text, &used);
        if (used != text.size()) rate = -1;
    } catch (const std::exception&) {
    }
    if (!(rate >= 0 && rate < 1))
        return make_error("--loss '" + l + "': the rate must be a probability in [0, 1)");
    if (eq == std::string::npos) {
        f.loss_rate = rate;
        return {};
    }
    auto ends = split(l.substr(eq + 1), ':');
    if (ends.size() != 2) return make_error("--loss '" + l + "': expected RATE=REGION:REGION");
    for (const auto& r : ends)
        if (!has_region(t, r)) return make_error("--loss: no region '" + r + "' in " + t.file);
    f.lossy_links.push_back({ends[0], ends[1], rate});
    return {};
}

/// The faults given on the command line, checked against the topology.
status read_faults(const po::variables_map& vm, const topology& t, sim_faults& f) {
    auto many = [&](const char* flag) {
        return vm.count(flag) ? vm[flag].as<std::vector<std::string>>()
                              : std::vector<std::string>{};
    };
    for (const auto& s : many("spike")) {
        auto [window, extra] =
            *parse_named(s + (s.find('=') == std::string::npos ? "=" : ""), '=', "AT+LENGTH=EXTRA");
        auto w = parse_window(window);
        if (!w) return make_error("--spike: " + w.message());
        auto e = parse_sim_duration(extra);
        if (!e) return make_error("--spike: " + e.message() + " (AT+LENGTH=EXTRA)");
        f.spikes.push_back({w->first, w->second, *e});
    }
    for (const auto& p : many("partition"))
        CIVIC_TRY(read_partition(p, t, f));
    for (const auto& c : many("crash")) {
        auto parts = parse_named(c, '@', "NODE@AT+LENGTH");
        if (!parts) return make_error("--crash: " + parts.message());
        CIVIC_TRY(check_node(t, parts->first, false, "--crash"));
        auto w = parse_window(parts->second);
        if (!w) return make_error("--crash: " + w.message());
        f.crashes.push_back({parts->first, w->first, w->second});
    }
    for (const auto& s : many("silence")) {
        auto parts = parse_named(s, '@', "WITNESS@AT+LENGTH");
        if (!parts) return make_error("--silence: " + parts.message());
        CIVIC_TRY(check_node(t, parts->first, true, "--silence"));
        auto w = parse_window(parts->second);
        if (!w) return make_error("--silence: " + w.message());
        f.silences.push_back({parts->first, w->first, w->first + w->second});
    }
    for (const auto& s : many("skew")) {
        auto parts = parse_named(s, '=', "WITNESS=OFFSET");
        if (!parts) return make_error("--skew: " + parts.message());
        CIVIC_TRY(check_node(t, parts->first, true, "--skew"));
        auto d = parse_sim_duration(parts->second, true);
        if (!d) return make_error("--skew: " + d.message());
        f.clock_skew[parts->first] = *d;
    }
    if (vm.count("equivocate")) {
        auto d = parse_sim_duration(vm["equivocate"].as<std::string>());
        if (!d) return make_error("--equivocate: " + d.message());
        f.equivocate_at = *d;
    }
    for (const auto& l : many("loss"))
        CIVIC_TRY(read_loss(l, t, f));
    return {};
}

/// --log-level and --log-file: the nodes' logs, kept apart from the report.
status read_log_flags(const po::variables_map& vm, log::options& log_options) {
    const auto& name = vm["log-level"].as<std::string>();
    auto level = log::parse_level(name);
    if (!level)
        return make_error("--log-level '" + name +
                          "': expected debug, info, warning, error or off");
    log_options.file = vm["log-file"].as<std::string>();
    log_options.min_level = *level;
    // Checked here: the nodes' loggers would throw from inside the run.
    if (!log_options.file.empty() && !std::ofstream(log_options.file, std::ios::app))
        return make_error("--log-file " + log_options.file + ": cannot write");
    // A file asked for without a level: what a node logs by default.
    if (!log_options.file.empty() && vm["log-level"].defaulted())
        log_options.min_level = log::level::info;
    return {};
}

void progress_bar(std::ostream& err, std::size_t done, std::size_t total) {
    constexpr std::size_t width = 30;
    auto filled = total ? done * width / total : width;
    err << "\r[" << std::string(filled, '#') << std::string(width - filled, ' ') << "] " << done
        << "/" << total << " runs" << (done == total ? "\n" : "") << std::flush;
}

int run_sweep_command(const po::variables_map& vm, const simulation_options& options,
                      std::ostream& out, std::ostream& err) {
    auto spec = parse_sweep(vm["sweep"].as<std::string>());
    if (!spec) {
        err << "civic-attest simulate: " << spec.message() << "\n";
        return exit_usage;
    }
    auto seeds = vm["seeds"].as<std::size_t>();
    if (seeds < 1 || seeds > 1000) {
        err << "civic-attest simulate: --seeds: from 1 to 1000\n";
        return exit_usage;
    }
    for (double v : spec->values)
        if (auto t = sweep_topology(options.topo, spec->parameter, v); !t) {
            err << "civic-attest simulate: --sweep " << t.message() << "\n";
            return exit_usage;
        }
    namespace fs = std::filesystem;
    fs::path dir = vm["out"].as<std::string>();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        err << "civic-attest simulate: --out " << dir.string() << ": " << ec.message() << "\n";
        return exit_failed;
    }
    auto points = run_sweep(options, *spec, seeds, [&](std::size_t done, std::size_t total) {
        progress_bar(err, done, total);
    });
    if (!points) {
        err << "civic-attest simulate: " << points.message() << "\n";
        return exit_failed;
    }
    auto table = sweep_table(*spec, *points);
    std::ofstream(dir / "sweep.md")
        << "# Sweep of " << spec->name << " over " << seeds << " seeds from " << options.seed
        << " (" << options.topo.file << ")\n\n"
        << table;
    std::ofstream(dir / "sweep.svg") << sweep_svg(*spec, *points);
    std::ofstream runs(dir / "runs.json");
    runs << "[\n";
    bool first = true;
    std::size_t violations = 0;
    for (const auto& p : *points)
        for (const auto& r : p.runs) {
            runs << (first ? "" : ",\n") << r.to_json();
            first = false;
            violations += r.violations.size();
            for (const auto& v : r.violations)
                err << "violation (" << spec->name << "=" << p.value << "): " << v << "\n";
        }
    runs << "]\n";
    out << table << "\nwritten: " << (dir / "sweep.md").string() << ", "
        << (dir / "sweep.svg").string() << ", " << (dir / "runs.json").string() << "\n";
    return violations == 0 ? exit_ok : exit_failed;
}

int run_fuzz_command(const po::variables_map& vm, const simulation_options& options,
                     std::ostream& out, std::ostream& err) {
    auto runs = vm["fuzz"].as<std::size_t>();
    if (runs < 1 || runs > 100000) {
        err << "civic-attest simulate: --fuzz: from 1 to 100000 runs\n";
        return exit_usage;
    }
    std::size_t broken = 0;
    for (std::size_t i = 0; i < runs; ++i) {
        auto run = options;
        run.seed = options.seed + i;
        run.faults = random_faults(run.topo, run.seed, run.duration);
        auto report = simulate(run);
        if (!report) {
            err << "civic-attest simulate: seed " << run.seed << ": " << report.message() << "\n";
            return exit_failed;
        }
        progress_bar(err, i + 1, runs);
        if (report->violations.empty()) continue;
        ++broken;
        out << "seed " << run.seed << " broke " << report->violations.size()
            << " invariant(s); reproduce: civic-attest simulate --topology " << run.topo.file
            << " --seed " << run.seed << " --duration " << run.duration.count() << "us --settle "
            << run.settle.count() << "us --rate " << run.submissions_per_second
            << (run.witnessed ? " --witnessed" : "") << " --fsync " << run.fsync.count() << "us "
            << describe_faults(run.faults)
            << (vm.count("plant") ? " --plant " + vm["plant"].as<std::string>() : "") << "\n";
        for (const auto& v : report->violations)
            out << "  " << v << "\n";
    }
    out << runs << " seeds with random faults, " << broken << " broke an invariant\n";
    return broken == 0 ? exit_ok : exit_failed;
}

} // namespace

void describe_simulate(po::options_description& o) {
    o.add_options()("topology", po::value<std::string>()->required(), "the topology file")(
        "seed", po::value<std::uint64_t>()->default_value(1),
        "the seed: latencies, faults, workload and the order of runnable jobs")(
        "duration", po::value<std::string>()->default_value("1m"),
        "virtual time with submissions and faults (250ms, 30s, 5m, 1h)")(
        "settle", po::value<std::string>()->default_value("30s"),
        "virtual time after it, without submissions or faults, before convergence is checked")(
        "rate", po::value<double>()->default_value(50), "submissions per second, to random nodes")(
        "witnessed", po::bool_switch(),
        "every submission asks for a witnessed answer: a cosigning round starts as soon as it "
        "is acknowledged, not at the next cadence tick")(
        "json", po::value<std::string>()->default_value("simulation.json"),
        "also write the report to this file as JSON: everything but the wall time, so that two "
        "runs of one seed compare equal byte for byte ('' for no file)")(
        "spike", po::value<std::vector<std::string>>(),
        "fault: every message takes longer: AT+LENGTH=EXTRA (600s+30s=400ms); repeatable")(
        "loss", po::value<std::vector<std::string>>(),
        "fault: each packet between regions is lost with this probability (TCP resends it after "
        "200 ms, 400 ms...): RATE, or RATE=REGION:REGION for one link; repeatable")(
        "partition", po::value<std::vector<std::string>>(),
        "fault: cut regions off from the rest: AT+LENGTH=REGION[,REGION] (60s+90s=ap-south)")(
        "crash", po::value<std::vector<std::string>>(),
        "fault: a node's process dies and restarts, storage kept: NODE@AT+LENGTH")(
        "silence", po::value<std::vector<std::string>>(),
        "fault: a witness stops answering: WITNESS@AT+LENGTH")(
        "skew", po::value<std::vector<std::string>>(),
        "fault: a witness's clock is off: WITNESS=OFFSET (-90s)")(
        "equivocate", po::value<std::string>(),
        "fault: from this time the leader shows two histories (gossip, and to half the witnesses)")(
        "fsync", po::value<std::string>()->default_value("1ms"),
        "how long each durable write of a node takes (ledger, witness and gossip writers)")(
        "sweep", po::value<std::string>(),
        "run many: witnesses=3,5,7,10, quorum=K,..., regions=R,..., loss=P,..., outside=N,... "
        "(how many of the topology's outside witnesses join) or outside_qpd=Q,... (what each "
        "allows a day); each value over --seeds seeds; table and SVG chart into --out")(
        "seeds", po::value<std::size_t>()->default_value(3),
        "seeds per sweep point")("out", po::value<std::string>()->default_value("simulation-sweep"),
                                 "the sweep's output directory")(
        "fuzz", po::value<std::size_t>(),
        "run this many seeds (from --seed on) with random faults; list every seed that broke an "
        "invariant, with the command that reproduces it")(
        "plant", po::value<std::string>(),
        "test mode: plant a bug the invariant checkers must catch (careless-witness, quorum-lie, "
        "lost-ack, stale-replica, silent-gossip)")(
        "log-level", po::value<std::string>()->default_value("off"),
        "the simulated nodes' logs: debug | info | warning | error | off (info when only "
        "--log-file is given); kill and restart lines carry virtual_time_ms")(
        "log-file", po::value<std::string>()->default_value(""),
        "append the nodes' logs to this file instead of stderr");
}

int run_simulate(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto t = load_topology(vm["topology"].as<std::string>());
    if (!t) {
        err << "civic-attest simulate: " << t.message() << "\n";
        return exit_usage;
    }
    simulation_options options;
    options.topo = std::move(*t);
    options.seed = vm["seed"].as<std::uint64_t>();
    auto duration = parse_sim_duration(vm["duration"].as<std::string>());
    auto settle = parse_sim_duration(vm["settle"].as<std::string>());
    if (!duration || !settle) {
        err << "civic-attest simulate: --"
            << (!duration ? "duration: " + duration.message() : "settle: " + settle.message())
            << "\n";
        return exit_usage;
    }
    options.duration = *duration;
    options.settle = *settle;
    options.submissions_per_second = vm["rate"].as<double>();
    options.witnessed = vm["witnessed"].as<bool>();
    if (!(options.submissions_per_second >= 0 && options.submissions_per_second <= 100000)) {
        err << "civic-attest simulate: --rate: between 0 and 100000 submissions per second\n";
        return exit_usage;
    }
    if (auto ok = read_faults(vm, options.topo, options.faults); !ok) {
        err << "civic-attest simulate: " << ok.message() << "\n";
        return exit_usage;
    }
    if (vm.count("plant")) {
        auto plant = parse_plant(vm["plant"].as<std::string>());
        if (!plant) {
            err << "civic-attest simulate: --plant: " << plant.message() << "\n";
            return exit_usage;
        }
        options.plant = *plant;
    }
    auto fsync = parse_sim_duration(vm["fsync"].as<std::string>());
    if (!fsync) {
        err << "civic-attest simulate: --fsync: " << fsync.message() << "\n";
        return exit_usage;
    }
    options.fsync = *fsync;
    if (auto ok = read_log_flags(vm, options.log); !ok) {
        err << "civic-attest simulate: " << ok.message() << "\n";
        return exit_usage;
    }
    if (vm.count("sweep")) return run_sweep_command(vm, options, out, err);
    if (vm.count("fuzz")) return run_fuzz_command(vm, options, out, err);
    auto report = simulate(options);
    if (!report) {
        err << "civic-attest simulate: " << report.message() << "\n";
        return exit_failed;
    }
    out << report->table();
    if (auto path = vm["json"].as<std::string>(); !path.empty()) {
        std::ofstream file(path, std::ios::trunc);
        file << report->to_json();
        if (!file) {
            err << "civic-attest simulate: --json " << path << ": cannot write\n";
            return exit_failed;
        }
        err << "civic-attest simulate: the report is in " << path << "\n";
    }
    return report->violations.empty() ? exit_ok : exit_failed;
}

} // namespace civic::node
