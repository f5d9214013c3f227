#include "node/sim/sweep.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <random>
#include <sstream>

namespace civic::node {

namespace {

std::string number(double x) {
    if (x == std::floor(x) && std::abs(x) < 1e9) return std::to_string(static_cast<long long>(x));
    return fixed_digits(x, 3);
}

sim_percentiles pooled(const std::vector<simulation_report>& runs,
                       const std::vector<double> simulation_report::*samples) {
    std::vector<double> all;
    for (const auto& r : runs)
        all.insert(all.end(), (r.*samples).begin(), (r.*samples).end());
    return percentiles_of(std::move(all));
}

/// The witness nodes of `t`, taken round-robin over the regions (in the
/// topology's order): a spread placement.
std::vector<const node_spec*> spread_witnesses(const topology& t, std::size_t regions) {
    std::vector<std::vector<const node_spec*>> by_region;
    for (std::size_t r = 0; r < t.regions.size() && r < regions; ++r) {
        by_region.emplace_back();
        for (const auto& n : t.nodes)
            if (n.has(node_role::witness) && n.region == t.regions[r].name)
                by_region.back().push_back(&n);
    }
    std::vector<const node_spec*> order;
    for (std::size_t round = 0;; ++round) {
        bool any = false;
        for (auto& list : by_region)
            if (round < list.size()) {
                order.push_back(list[round]);
                any = true;
            }
        if (!any) break;
    }
    return order;
}

/// The base policy's line for each of the first `count` outside witnesses
/// (`witness NAME VKEY URL`), in the order of outside_witnesses:.
std::vector<std::string> outside_lines(const topology& base, std::size_t count) {
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < count && i < base.outside_witnesses.size(); ++i) {
        std::istringstream in(base.policy);
        std::string line;
        while (std::getline(in, line)) {
            auto words = split_policy_line(line);
            if (words.keyword == "witness" && words.name == base.outside_witnesses[i].name) {
                lines.push_back(line);
                break;
            }
        }
    }
    return lines;
}

/// The base topology with only the witness nodes `chosen` and the outside
/// witnesses of `outside` (their policy lines), `quorum` of them all needed.
topology with_witnesses(const topology& base, const std::vector<const node_spec*>& chosen,
                        std::size_t quorum, const std::vector<std::string>& outside = {}) {
    topology t = base;
    std::vector<std::string> names;
    for (const auto* w : chosen)
        names.push_back(w->name);
    t.nodes.erase(std::remove_if(t.nodes.begin(), t.nodes.end(),
                                 [&](const node_spec& n) {
                                     return n.has(node_role::witness) &&
                                            std::find(names.begin(), names.end(), n.name) ==
                                                names.end();
                                 }),
                  t.nodes.end());
    std::string policy;
    for (const auto& n : names)
        policy += "witness " + n + "\n";
    for (const auto& line : outside) {
        policy += line + "\n";
        names.push_back(split_policy_line(line).name);
    }
    policy += "group sweep " + std::to_string(quorum);
    for (const auto& n : names)
        policy += " " + n;
    policy += "\nquorum sweep\n";
    t.policy = policy;
    return t;
}

} // namespace

result<sweep_spec> parse_sweep(const std::string& text) {
    auto eq = text.find('=');
    if (eq == std::string::npos)
        return make_error("--sweep '" + text + "': expected NAME=V1,V2,... (witnesses=3,5,7,10)");
    sweep_spec spec;
    spec.name = text.substr(0, eq);
    static const std::map<std::string, sweep_parameter> names = {
        {"witnesses", sweep_parameter::witnesses}, {"quorum", sweep_parameter::quorum},
        {"regions", sweep_parameter::regions},     {"loss", sweep_parameter::loss},
        {"outside", sweep_parameter::outside},     {"outside_qpd", sweep_parameter::outside_qpd}};
    auto it = names.find(spec.name);
    if (it == names.end())
        return make_error(
            "--sweep: '" + spec.name +
            "' cannot be swept (witnesses, quorum, regions, loss, outside, outside_qpd)");
    spec.parameter = it->second;
    std::istringstream in(text.substr(eq + 1));
    std::string item;
    while (std::getline(in, item, ',')) {
        try {
            std::size_t used = 0;
            double v = std::stod(item, &used);
            if (used != item.size() || !std::isfinite(v) || v < 0)
                throw std::invalid_argument(item);
            bool whole = spec.parameter != sweep_parameter::loss;
            double low = spec.parameter == sweep_parameter::outside ||
                                 spec.parameter == sweep_parameter::outside_qpd
                             ? 0
                             : 1;
            double high = spec.parameter == sweep_parameter::outside_qpd ? 100000000 : 256;
            if (whole && (v != std::floor(v) || v < low || v > high))
                return make_error("--sweep " + spec.name + ": '" + item +
                                  "' must be a whole number from " + number(low) + " to " +
                                  number(high));
            if (!whole && v >= 1) return make_error("--sweep loss: '" + item + "' must be below 1");
            spec.values.push_back(v);
        } catch (const std::exception&) {
            return make_error("--sweep " + spec.name + ": '" + item + "' is not a number");
        }
    }
    if (spec.values.empty() || spec.values.size() > 32)
        return make_error("--sweep " + spec.name + ": give 1 to 32 values");
    return spec;
}

result<topology> sweep_topology(const topology& base, sweep_parameter p, double value) {
    auto all = spread_witnesses(base, base.regions.size());
    auto count = static_cast<std::size_t>(value);
    switch (p) {
    case sweep_parameter::loss:
        return base;
    case sweep_parameter::witnesses: {
        if (count > all.size())
            return make_error("witnesses=" + number(value) + ": " + base.file + " has only " +
                              std::to_string(all.size()) + " witness nodes");
        all.resize(count);
        return with_witnesses(base, all, count / 2 + 1);
    }
    case sweep_parameter::quorum:
        if (count > all.size())
            return make_error("quorum=" + number(value) + ": " + base.file + " has only " +
                              std::to_string(all.size()) + " witness nodes");
        return with_witnesses(base, all, count);
    case sweep_parameter::regions: {
        if (count > base.regions.size())
            return make_error("regions=" + number(value) + ": " + base.file + " has only " +
                              std::to_string(base.regions.size()) + " regions");
        auto chosen = spread_witnesses(base, count);
        if (chosen.empty()) return make_error("regions=" + number(value) + ": no witnesses there");
        return with_witnesses(base, chosen, chosen.size() / 2 + 1);
    }
    case sweep_parameter::outside: {
        if (count > base.outside_witnesses.size())
            return make_error("outside=" + number(value) + ": " + base.file + " places only " +
                              std::to_string(base.outside_witnesses.size()) +
                              " outside witnesses (outside_witnesses:)");
        auto lines = outside_lines(base, count);
        return with_witnesses(base, all, (all.size() + lines.size()) / 2 + 1, lines);
    }
    case sweep_parameter::outside_qpd: {
        if (base.outside_witnesses.empty())
            return make_error("outside_qpd: " + base.file +
                              " places no outside witnesses (outside_witnesses:)");
        topology t = base;
        for (auto& o : t.outside_witnesses)
            o.qpd = static_cast<std::uint32_t>(count);
        return t;
    }
    }
    return base;
}

result<std::vector<sweep_point>>
run_sweep(const simulation_options& base, const sweep_spec& spec, std::size_t seeds,
          const std::function<void(std::size_t, std::size_t)>& progress) {
    std::vector<sweep_point> points;
    std::size_t total = spec.values.size() * seeds, done = 0;
    for (double value : spec.values) {
        auto t = sweep_topology(base.topo, spec.parameter, value);
        if (!t) return t.err();
        sweep_point point;
        point.value = value;
        for (std::size_t s = 0; s < seeds; ++s) {
            simulation_options options = base;
            options.topo = *t;
            options.seed = base.seed + s;
            if (spec.parameter == sweep_parameter::loss) options.faults.loss_rate = value;
            auto report = simulate(options);
            if (!report) return report.err();
            point.witnesses = report->witnesses + report->outside_witnesses;
            point.quorum = report->quorum;
            point.violations += report->violations.size();
            point.outside_throttled += report->outside_throttled;
            point.runs.push_back(std::move(*report));
            if (progress) progress(++done, total);
        }
        point.time_to_quorum = pooled(point.runs, &simulation_report::time_to_quorum_samples);
        point.time_to_witnessed = pooled(point.runs, &simulation_report::time_to_witnessed_samples);
        points.push_back(std::move(point));
    }
    return points;
}

std::string sweep_table(const sweep_spec& spec, const std::vector<sweep_point>& points) {
    std::ostringstream out;
    bool by_witnesses = spec.parameter == sweep_parameter::witnesses;
    bool by_outside = spec.parameter == sweep_parameter::outside ||
                      spec.parameter == sweep_parameter::outside_qpd;
    out << "| " << spec.name << (by_witnesses ? "" : " | witnesses")
        << " | quorum | time to quorum p50 / p95 / p99 (ms) | ack to witnessed p50 / "
           "p95 (ms) | checkpoints with quorum | "
        << (by_outside ? "outside 429s | " : "") << "violations |\n";
    out << (by_witnesses ? "" : "| --- ") << (by_outside ? "| --- " : "")
        << "| --- | --- | --- | --- | --- | --- |\n";
    for (const auto& p : points) {
        std::uint64_t rounds = 0, met = 0;
        for (const auto& r : p.runs) {
            rounds += r.checkpoints;
            met += r.quorum_checkpoints;
        }
        out << "| " << number(p.value) << " | ";
        if (!by_witnesses) out << p.witnesses << " | ";
        out << p.quorum << " | " << fixed_digits(p.time_to_quorum.p50, 0) << " / "
            << fixed_digits(p.time_to_quorum.p95, 0) << " / "
            << fixed_digits(p.time_to_quorum.p99, 0) << " | "
            << fixed_digits(p.time_to_witnessed.p50, 0) << " / "
            << fixed_digits(p.time_to_witnessed.p95, 0) << " | " << met << " of " << rounds
            << " | ";
        if (by_outside) out << p.outside_throttled << " | ";
        out << p.violations << " |\n";
    }
    return out.str();
}

std::string sweep_svg(const sweep_spec& spec, const std::vector<sweep_point>& points) {
    // A plain line chart: x = the swept value, y = time to quorum (p50, p95).
    const double width = 640, height = 400, left = 70, right = 20, top = 40, bottom = 60;
    double xmin = points.empty() ? 0 : points.front().value, xmax = xmin, ymax = 1;
    for (const auto& p : points) {
        xmin = std::min(xmin, p.value);
        xmax = std::max(xmax, p.value);
        ymax = std::max(ymax, p.time_to_quorum.p95);
    }
    if (xmax == xmin) xmax = xmin + 1;
    // A round scale: 1, 2 or 5 times a power of ten.
    double step = std::pow(10.0, std::floor(std::log10(ymax / 4)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (ymax / (step * m) <= 5) {
            step *= m;
            break;
        }
    double ytop = std::ceil(ymax / step) * step;
    auto x = [&](double v) { return left + (v - xmin) / (xmax - xmin) * (width - left - right); };
    auto y = [&](double v) { return top + (1 - v / ytop) * (height - top - bottom); };
    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
        << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    svg << "<text x=\"" << width / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">"
        << "Time to quorum against " << spec.name << "</text>\n";
    for (double v = 0; v <= ytop + step / 2; v += step) {
        svg << "<line x1=\"" << left << "\" x2=\"" << width - right << "\" y1=\"" << y(v)
            << "\" y2=\"" << y(v) << "\" stroke=\"#ddd\"/>\n";
        svg << "<text x=\"" << left - 6 << "\" y=\"" << y(v) + 4 << "\" text-anchor=\"end\">"
            << number(v) << "</text>\n";
    }
    for (const auto& p : points)
        svg << "<text x=\"" << x(p.value) << "\" y=\"" << height - bottom + 18
            << "\" text-anchor=\"middle\">" << number(p.value) << "</text>\n";
    svg << "<text x=\"" << (left + width - right) / 2 << "\" y=\"" << height - 15
        << "\" text-anchor=\"middle\">" << spec.name << "</text>\n";
    svg << "<text x=\"15\" y=\"" << (top + height - bottom) / 2
        << "\" text-anchor=\"middle\" transform=\"rotate(-90 15 " << (top + height - bottom) / 2
        << ")\">milliseconds</text>\n";
    auto series = [&](const char* colour, const char* label, double sim_percentiles::*field,
                      int row) {
        svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\" points=\"";
        for (const auto& p : points)
            svg << x(p.value) << "," << y(p.time_to_quorum.*field) << " ";
        svg << "\"/>\n";
        for (const auto& p : points)
            svg << "<circle cx=\"" << x(p.value) << "\" cy=\"" << y(p.time_to_quorum.*field)
                << "\" r=\"3\" fill=\"" << colour << "\"/>\n";
        svg << "<text x=\"" << left + 10 << "\" y=\"" << top + 14 * row << "\" fill=\"" << colour
            << "\">" << label << "</text>\n";
    };
    series("#1f77b4", "p50", &sim_percentiles::p50, 1);
    series("#d62728", "p95", &sim_percentiles::p95, 2);
    svg << "</svg>\n";
    return svg.str();
}

sim_faults random_faults(const topology& t, std::uint64_t seed, sim_duration duration) {
    std::mt19937_64 gen(seed ^ 0x9e3779b97f4a7c15ULL);
    auto unit = [&] { return static_cast<double>(gen() >> 11) * 0x1.0p-53; };
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(gen() % n); };
    auto when = [&](double from, double to) {
        return sim_duration(static_cast<std::int64_t>((from + (to - from) * unit()) *
                                                      static_cast<double>(duration.count())));
    };
    std::vector<const node_spec*> witnesses, all;
    for (const auto& n : t.nodes) {
        all.push_back(&n);
        if (n.has(node_role::witness)) witnesses.push_back(&n);
    }
    sim_faults f;
    // Each kind with some probability; times inside the run, healed before its end.
    if (unit() < 0.5)
        for (std::size_t i = 0, n = 1 + pick(2); i < n; ++i) {
            auto at = when(0.1, 0.6);
            f.crashes.push_back({all[pick(all.size())]->name, at, when(0.02, 0.2)});
        }
    if (unit() < 0.4 && t.regions.size() > 1) {
        auto at = when(0.1, 0.5);
        f.partitions.push_back(
            {at, at + when(0.05, 0.3), {t.regions[pick(t.regions.size())].name}});
    }
    if (unit() < 0.4) {
        auto at = when(0.1, 0.7);
        f.spikes.push_back(
            {at, when(0.02, 0.2), sim_duration(static_cast<std::int64_t>(50000 + unit() * 2e6))});
    }
    if (unit() < 0.3) f.loss_rate = unit() * 0.1;
    if (unit() < 0.3 && t.regions.size() > 1) {
        auto a = pick(t.regions.size()), b = pick(t.regions.size() - 1);
        if (b >= a) ++b;
        f.lossy_links.push_back({t.regions[a].name, t.regions[b].name, unit() * 0.3});
    }
    if (unit() < 0.4 && !witnesses.empty()) {
        auto at = when(0.1, 0.6);
        f.silences.push_back({witnesses[pick(witnesses.size())]->name, at, at + when(0.05, 0.3)});
    }
    if (unit() < 0.3 && !witnesses.empty())
        f.clock_skew[witnesses[pick(witnesses.size())]->name] =
            sim_duration(static_cast<std::int64_t>((unit() - 0.5) * 600e6));
    if (unit() < 0.2) f.equivocate_at = when(0.2, 0.7);
    return f;
}

std::string describe_faults(const sim_faults& f) {
    std::ostringstream out;
    // Exact, so that the command reproduces the run.
    auto s = [](sim_duration d) {
        auto us = d.count();
        if (us % 1000000 == 0) return std::to_string(us / 1000000) + "s";
        if (us % 1000 == 0) return std::to_string(us / 1000) + "ms";
        return std::to_string(us) + "us";
    };
    const char* sep = "";
    auto item = [&](const std::string& text) {
        out << sep << text;
        sep = " ";
    };
    for (const auto& c : f.crashes)
        item("--crash " + c.node + "@" + s(c.at) + "+" + s(c.down_for));
    for (const auto& p : f.partitions) {
        std::string regions;
        for (const auto& r : p.regions)
            regions += (regions.empty() ? "" : ",") + r;
        item("--partition " + s(p.at) + "+" + s(p.heal - p.at) + "=" + regions);
    }
    for (const auto& sp : f.spikes)
        item("--spike " + s(sp.at) + "+" + s(sp.length) + "=" + s(sp.extra));
    auto rate = [](double r) {
        std::ostringstream text;
        text << std::setprecision(17) << r;
        return text.str();
    };
    if (f.loss_rate > 0) item("--loss " + rate(f.loss_rate));
    for (const auto& l : f.lossy_links)
        item("--loss " + rate(l.rate) + "=" + l.a + ":" + l.b);
    for (const auto& q : f.silences)
        item("--silence " + q.witness + "@" + s(q.from) + "+" + s(q.until - q.from));
    for (const auto& [w, d] : f.clock_skew)
        item("--skew " + w + "=" + s(d));
    if (f.equivocate_at) item("--equivocate " + s(*f.equivocate_at));
    if (out.str().empty()) return "(no faults)";
    return out.str();
}

} // namespace civic::node
