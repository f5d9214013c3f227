#include "node/config/topology.hpp"

#include "node/system/files.hpp"
#include "protocol/note.hpp"
#include "protocol/policy.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

namespace civic::node {

namespace {

/// Thrown inside the loader only, caught at its boundary: the first problem found.
struct topology_error {
    std::string message;
};

/// Reads fields with their position, so every message says file:line: field.
class reader {
public:
    explicit reader(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const YAML::Node& at, const std::string& field,
                           const std::string& what) const {
        std::ostringstream out;
        out << file_;
        if (at.IsDefined() && at.Mark().line >= 0) out << ":" << at.Mark().line + 1;
        out << ": " << field << ": " << what;
        throw topology_error{out.str()};
    }

    /// Refuses keys other than `allowed` (a misspelt key would silently be ignored).
    void only(const YAML::Node& map, const std::string& field,
              std::initializer_list<const char*> allowed) const {
        if (!map.IsMap()) fail(map, field, "must be a mapping");
        for (const auto& kv : map) {
            auto key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
            if (std::none_of(allowed.begin(), allowed.end(),
                             [&](const char* a) { return key == a; })) {
                std::string known;
                for (const char* a : allowed)
                    known += std::string(known.empty() ? "" : ", ") + a;
                fail(kv.first, join(field, key), "unknown field (known: " + known + ")");
            }
        }
    }

    static std::string join(const std::string& parent, const std::string& key) {
        return parent.empty() ? key : parent + "." + key;
    }

    std::string text(const YAML::Node& map, const std::string& field, const char* key,
                     const std::optional<std::string>& fallback = std::nullopt) const {
        auto n = map[key];
        if (!n) {
            if (fallback) return *fallback;
            fail(map, join(field, key), "is required");
        }
        if (!n.IsScalar()) fail(n, join(field, key), "must be a string");
        return n.Scalar();
    }

    std::uint64_t number(const YAML::Node& map, const std::string& field, const char* key,
                         std::uint64_t min, std::uint64_t max,
                         std::optional<std::uint64_t> fallback = std::nullopt) const {
        auto n = map[key];
        if (!n) {
            if (fallback) return *fallback;
            fail(map, join(field, key), "is required");
        }
        auto value =
            n.IsScalar() ? parse_decimal(n.Scalar()) : result<std::uint64_t>(make_error(""));
        if (!value || *value < min || *value > max)
            fail(n, join(field, key),
                 "must be a whole number from " + std::to_string(min) + " to " +
                     std::to_string(max) + (n.IsScalar() ? " (got '" + n.Scalar() + "')" : ""));
        return *value;
    }

    double real(const YAML::Node& map, const std::string& field, const char* key, double max,
                std::optional<double> fallback = std::nullopt) const {
        auto n = map[key];
        if (!n) {
            if (fallback) return *fallback;
            fail(map, join(field, key), "is required");
        }
        double value = -1;
        if (n.IsScalar()) {
            std::istringstream in(n.Scalar());
            in >> value;
            if (!in || !in.eof()) value = -1;
        }
        if (!(value >= 0 && value <= max) || !std::isfinite(value))
            fail(n, join(field, key),
                 "must be a number from 0 to " + std::to_string(static_cast<long>(max)) +
                     (n.IsScalar() ? " (got '" + n.Scalar() + "')" : ""));
        return value;
    }

    bool flag(const YAML::Node& map, const std::string& field, const char* key) const {
        auto n = map[key];
        if (!n) return false;
        if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false"))
            return n.Scalar() == "true";
        fail(n, join(field, key), "must be true or false");
    }

private:
    std::string file_;
};

/// Node and region names: what fits a file name, a log line and a TLS subject.
bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 63) return false;
    if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

void read_regions(const reader& r, const YAML::Node& root, topology& t) {
    auto regions = root["regions"];
    if (!regions || !regions.IsSequence() || regions.size() == 0)
        r.fail(regions ? regions : root, "regions", "must be a non-empty list");
    if (regions.size() > max_topology_regions)
        r.fail(regions, "regions", "at most " + std::to_string(max_topology_regions));
    for (std::size_t i = 0; i < regions.size(); ++i) {
        auto field = "regions[" + std::to_string(i) + "]";
        const auto& n = regions[i];
        r.only(n, field, {"name", "local_ms", "local_jitter_ms"});
        region_spec reg;
        reg.name = r.text(n, field, "name");
        if (!valid_name(reg.name))
            r.fail(n["name"], field + ".name", "'" + reg.name + "': use a-z, 0-9 and '-'");
        for (const auto& other : t.regions)
            if (other.name == reg.name) r.fail(n["name"], field + ".name", "duplicate region");
        reg.local_ms = r.real(n, field, "local_ms", 60000, reg.local_ms);
        reg.local_jitter_ms = r.real(n, field, "local_jitter_ms", 60000, reg.local_jitter_ms);
        t.regions.push_back(reg);
    }
}

void read_latency(const reader& r, const YAML::Node& root, topology& t) {
    auto list = root["latency"];
    auto known = [&](const std::string& name) {
        return std::any_of(t.regions.begin(), t.regions.end(),
                           [&](const region_spec& reg) { return reg.name == name; });
    };
    if (list && !list.IsNull()) { // "latency:" with nothing under it is an empty list
        if (!list.IsSequence()) r.fail(list, "latency", "must be a list");
        for (std::size_t i = 0; i < list.size(); ++i) {
            auto field = "latency[" + std::to_string(i) + "]";
            const auto& n = list[i];
            r.only(n, field, {"from", "to", "ms", "jitter_ms"});
            latency_spec l;
            l.from = r.text(n, field, "from");
            l.to = r.text(n, field, "to");
            if (!known(l.from)) r.fail(n["from"], field + ".from", "no region '" + l.from + "'");
            if (!known(l.to)) r.fail(n["to"], field + ".to", "no region '" + l.to + "'");
            if (l.from == l.to)
                r.fail(n, field, "from and to are the same region (use the region's local_ms)");
            for (const auto& other : t.latencies)
                if (other.from == l.from && other.to == l.to)
                    r.fail(n, field, "a second entry from " + l.from + " to " + l.to);
            l.ms = r.real(n, field, "ms", 60000);
            l.jitter_ms = r.real(n, field, "jitter_ms", 60000, 0.0);
            t.latencies.push_back(l);
        }
    }
    // Every pair of regions needs a latency: the simulator draws every message's delay.
    for (const auto& a : t.regions)
        for (const auto& b : t.regions) {
            if (a.name >= b.name) continue;
            bool covered = std::any_of(t.latencies.begin(), t.latencies.end(), [&](const auto& l) {
                return (l.from == a.name && l.to == b.name) || (l.from == b.name && l.to == a.name);
            });
            if (!covered)
                r.fail(list ? list : root, "latency",
                       "no latency between regions '" + a.name + "' and '" + b.name + "'");
        }
}

node_role parse_role(const reader& r, const YAML::Node& n, const std::string& field) {
    if (!n.IsScalar()) r.fail(n, field, "must be leader, replica or witness");
    if (n.Scalar() == "leader") return node_role::leader;
    if (n.Scalar() == "replica") return node_role::replica;
    if (n.Scalar() == "witness") return node_role::witness;
    r.fail(n, field, "'" + n.Scalar() + "': must be leader, replica or witness");
}

void read_nodes(const reader& r, const YAML::Node& root, topology& t) {
    auto nodes = root["nodes"];
    if (!nodes || !nodes.IsSequence() || nodes.size() == 0)
        r.fail(nodes ? nodes : root, "nodes", "must be a non-empty list");
    if (nodes.size() > max_topology_nodes)
        r.fail(nodes, "nodes", "at most " + std::to_string(max_topology_nodes));
    std::map<std::pair<std::string, std::uint16_t>, std::string> endpoints;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        auto field = "nodes[" + std::to_string(i) + "]";
        const auto& n = nodes[i];
        r.only(n, field,
               {"name", "region", "host", "caf_port", "http_port", "roles", "may_lead", "data",
                "log_key", "witness_key", "logs"});
        node_spec s;
        s.name = r.text(n, field, "name");
        if (!valid_name(s.name))
            r.fail(n["name"], field + ".name", "'" + s.name + "': use a-z, 0-9 and '-'");
        if (t.find(s.name)) r.fail(n["name"], field + ".name", "duplicate node '" + s.name + "'");
        field = "nodes[" + s.name + "]";
        s.region = r.text(n, field, "region");
        if (std::none_of(t.regions.begin(), t.regions.end(),
                         [&](const region_spec& reg) { return reg.name == s.region; }))
            r.fail(n["region"], field + ".region", "no region '" + s.region + "'");
        s.host = r.text(n, field, "host", std::string("127.0.0.1"));
        if (s.host.empty()) r.fail(n["host"], field + ".host", "must not be empty");
        s.caf_port = static_cast<std::uint16_t>(r.number(n, field, "caf_port", 1, 65535));
        s.http_port = static_cast<std::uint16_t>(r.number(n, field, "http_port", 1, 65535));
        for (auto [port, key] : {std::pair{s.caf_port, "caf_port"}, {s.http_port, "http_port"}}) {
            auto [it, fresh] = endpoints.emplace(std::pair{s.host, port}, s.name + "." + key);
            if (!fresh)
                r.fail(n[key], field + "." + key,
                       s.host + ":" + std::to_string(port) + " is also " + it->second);
        }
        auto roles = n["roles"];
        if (!roles || !roles.IsSequence() || roles.size() == 0)
            r.fail(roles ? roles : n, field + ".roles",
                   "must be a non-empty list of leader, replica, witness");
        for (std::size_t k = 0; k < roles.size(); ++k) {
            auto role = parse_role(r, roles[k], field + ".roles[" + std::to_string(k) + "]");
            if (s.has(role)) r.fail(roles[k], field + ".roles", "a role is listed twice");
            s.roles.push_back(role);
        }
        if (s.has(node_role::leader) && s.has(node_role::replica))
            r.fail(roles, field + ".roles", "a node is the leader or a replica, not both");
        s.may_lead = r.flag(n, field, "may_lead");
        if (s.may_lead && !s.has(node_role::replica))
            r.fail(n["may_lead"], field + ".may_lead",
                   "only a replica can be promoted (it holds the ledger)");
        s.data = r.text(n, field, "data");
        if (s.has(node_role::leader) || s.may_lead)
            s.log_key = r.text(n, field, "log_key");
        else if (n["log_key"])
            r.fail(n["log_key"], field + ".log_key",
                   "only the leader and may_lead replicas hold the log key");
        if (s.has(node_role::witness))
            s.witness_key = r.text(n, field, "witness_key");
        else if (n["witness_key"])
            r.fail(n["witness_key"], field + ".witness_key", "only witnesses have a witness key");
        if (n["logs"]) {
            if (!s.has(node_role::witness))
                r.fail(n["logs"], field + ".logs", "only witnesses cosign other logs");
            s.witness_logs = r.text(n, field, "logs");
        }
        t.nodes.push_back(std::move(s));
    }
    auto leaders = std::count_if(t.nodes.begin(), t.nodes.end(),
                                 [](const node_spec& s) { return s.has(node_role::leader); });
    if (leaders != 1)
        r.fail(nodes, "nodes",
               "exactly one node must have the leader role (found " + std::to_string(leaders) +
                   ")");
}

void read_replication(const reader& r, const YAML::Node& root, topology& t) {
    auto replicas = static_cast<std::uint64_t>(
        std::count_if(t.nodes.begin(), t.nodes.end(),
                      [](const node_spec& s) { return s.has(node_role::replica); }));
    auto n = root["replication"];
    auto& rep = t.replication;
    if (!n) {
        rep.acks = replicas > 0 ? 1 : 0;
        return;
    }
    r.only(n, "replication",
           {"acks", "heartbeat_ms", "connection_timeout_ms", "reconnect_initial_ms",
            "reconnect_max_ms"});
    rep.acks = r.number(n, "replication", "acks", 0, replicas, replicas > 0 ? 1 : 0);
    rep.heartbeat_ms = static_cast<std::uint32_t>(
        r.number(n, "replication", "heartbeat_ms", 10, 600000, rep.heartbeat_ms));
    rep.connection_timeout_ms = static_cast<std::uint32_t>(r.number(
        n, "replication", "connection_timeout_ms", 10, 3600000, rep.connection_timeout_ms));
    if (rep.connection_timeout_ms <= rep.heartbeat_ms)
        r.fail(n, "replication.connection_timeout_ms",
               "must be longer than heartbeat_ms, or every peer looks dead");
    rep.reconnect_initial_ms = static_cast<std::uint32_t>(
        r.number(n, "replication", "reconnect_initial_ms", 1, 600000, rep.reconnect_initial_ms));
    rep.reconnect_max_ms = static_cast<std::uint32_t>(
        r.number(n, "replication", "reconnect_max_ms", 1, 3600000, rep.reconnect_max_ms));
    if (rep.reconnect_max_ms < rep.reconnect_initial_ms)
        r.fail(n, "replication.reconnect_max_ms", "must be at least reconnect_initial_ms");
}

void read_witnessing(const reader& r, const YAML::Node& root, topology& t) {
    auto n = root["witnessing"];
    if (!n) return;
    r.only(n, "witnessing", {"interval_ms", "timeout_ms", "outside_ca_file"});
    auto& w = t.witnessing;
    w.interval_ms = static_cast<std::uint32_t>(
        r.number(n, "witnessing", "interval_ms", 10, 3600000, w.interval_ms));
    w.timeout_ms = static_cast<std::uint32_t>(
        r.number(n, "witnessing", "timeout_ms", 10, 600000, w.timeout_ms));
    w.outside_ca_file = r.text(n, "witnessing", "outside_ca_file", std::string());
}

void read_gossip(const reader& r, const YAML::Node& root, topology& t) {
    auto n = root["gossip"];
    if (!n) return;
    r.only(n, "gossip", {"period_ms", "fanout"});
    t.gossip.period_ms = static_cast<std::uint32_t>(
        r.number(n, "gossip", "period_ms", 10, 3600000, t.gossip.period_ms));
    t.gossip.fanout =
        static_cast<std::uint32_t>(r.number(n, "gossip", "fanout", 1, 64, t.gossip.fanout));
}

void read_scrub(const reader& r, const YAML::Node& root, topology& t) {
    auto n = root["scrub"];
    if (!n) return;
    r.only(n, "scrub", {"entries_per_second", "pass_interval_ms"});
    t.scrub.entries_per_second = static_cast<std::uint64_t>(
        r.number(n, "scrub", "entries_per_second", 0, 100000000, t.scrub.entries_per_second));
    t.scrub.pass_interval_ms = static_cast<std::uint32_t>(
        r.number(n, "scrub", "pass_interval_ms", 10, 86400000, t.scrub.pass_interval_ms));
}

/// Reads the policy; returns the names of its outside witnesses (those with a URL).
std::set<std::string> read_policy(const reader& r, const YAML::Node& root, topology& t) {
    auto n = root["policy"];
    if (!n) return {};
    if (!n.IsScalar()) r.fail(n, "policy", "must be tlog-policy text (a YAML block: policy: |)");
    t.policy = n.Scalar();
    // Check it as a policy: the log's line and node witnesses' keys are filled in
    // at start, so stand-in keys take their place here.
    auto stand_in = [](const std::string& name, std::uint8_t type) {
        auto h = sha256(byte_view(name)); // distinct per name: policies refuse duplicate keys
        bytes key(h.begin(), h.end());
        return note::format_vkey({name, note::key_id(name, type, key), type, key});
    };
    std::string expanded = "log " + stand_in(t.origin, note::type_ed25519) + "\n";
    std::istringstream lines(t.policy);
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
        ++number;
        auto [first, name, rest, url] = split_policy_line(line);
        if (first == "witness" && !name.empty() && rest.empty()) {
            auto node = t.find(name);
            if (!node || !node->has(node_role::witness))
                r.fail(n, "policy (line " + std::to_string(number) + ")",
                       "'witness " + name +
                           "' without a key must name a witness node of this topology");
            expanded += "witness " + name + " " + stand_in(name, note::type_cosignature_v1) + "\n";
        } else {
            expanded += line + "\n";
        }
    }
    auto parsed = parse_policy(expanded);
    if (!parsed) r.fail(n, "policy", parsed.message() + " (line 1 is the log's, added here)");
    std::set<std::string> outside;
    for (const auto& w : parsed->witnesses)
        if (!w.url.empty() && !t.find(w.name)) outside.insert(w.name);
    return outside;
}

void read_outside_witnesses(const reader& r, const YAML::Node& root, topology& t,
                            const std::set<std::string>& outside) {
    auto list = root["outside_witnesses"];
    if (!list || list.IsNull()) return;
    if (!list.IsSequence()) r.fail(list, "outside_witnesses", "must be a list");
    if (list.size() > max_topology_nodes)
        r.fail(list, "outside_witnesses", "at most " + std::to_string(max_topology_nodes));
    for (std::size_t i = 0; i < list.size(); ++i) {
        auto field = "outside_witnesses[" + std::to_string(i) + "]";
        const auto& n = list[i];
        r.only(n, field, {"name", "region", "qpd", "service_ms", "tls"});
        outside_witness_model m;
        m.name = r.text(n, field, "name");
        if (!outside.count(m.name))
            r.fail(n["name"], field + ".name",
                   "'" + m.name + "' is no outside witness of the policy (a line 'witness " +
                       m.name + " VKEY URL', and no node of that name)");
        if (std::any_of(t.outside_witnesses.begin(), t.outside_witnesses.end(),
                        [&](const outside_witness_model& o) { return o.name == m.name; }))
            r.fail(n["name"], field + ".name", "'" + m.name + "' is listed twice");
        field = "outside_witnesses[" + m.name + "]";
        m.region = r.text(n, field, "region");
        if (std::none_of(t.regions.begin(), t.regions.end(),
                         [&](const region_spec& reg) { return reg.name == m.region; }))
            r.fail(n["region"], field + ".region", "no region '" + m.region + "'");
        m.qpd = static_cast<std::uint32_t>(r.number(n, field, "qpd", 0, 100000000, 0));
        m.service_ms = r.real(n, field, "service_ms", 60000, m.service_ms);
        m.tls = !n["tls"] || r.flag(n, field, "tls");
        t.outside_witnesses.push_back(std::move(m));
    }
}

} // namespace

policy_line_words split_policy_line(const std::string& line) {
    std::istringstream fields(line);
    policy_line_words w;
    fields >> w.keyword >> w.name >> w.key >> w.url;
    return w;
}

const char* to_string(node_role role) {
    switch (role) {
    case node_role::leader:
        return "leader";
    case node_role::replica:
        return "replica";
    case node_role::witness:
        return "witness";
    }
    return "?";
}

bool node_spec::has(node_role r) const {
    return std::find(roles.begin(), roles.end(), r) != roles.end();
}

const node_spec* topology::find(const std::string& name) const {
    for (const auto& n : nodes)
        if (n.name == name) return &n;
    return nullptr;
}

const node_spec* topology::leader() const {
    for (const auto& n : nodes)
        if (n.has(node_role::leader)) return &n;
    return nullptr;
}

std::pair<double, double> topology::latency(const std::string& from, const std::string& to) const {
    if (from == to)
        for (const auto& r : regions)
            if (r.name == from) return {r.local_ms, r.local_jitter_ms};
    for (const auto& l : latencies)
        if (l.from == from && l.to == to) return {l.ms, l.jitter_ms};
    for (const auto& l : latencies)
        if (l.from == to && l.to == from) return {l.ms, l.jitter_ms};
    return {0, 0};
}

result<topology> parse_topology(const std::string& text, const std::string& file) {
    if (text.size() > max_topology_bytes)
        return make_error(file + ": larger than " + std::to_string(max_topology_bytes) + " bytes");
    topology t;
    t.file = file;
    reader r(file);
    try {
        YAML::Node root = YAML::Load(text);
        if (!root.IsMap()) return make_error(file + ": not a YAML mapping");
        r.only(root, "",
               {"origin", "regions", "latency", "nodes", "replication", "policy", "tls_dir",
                "log_vkey", "policy_file", "witnessing", "gossip", "scrub", "outside_witnesses"});
        t.origin = r.text(root, "", "origin");
        if (!note::valid_key_name(t.origin))
            r.fail(root["origin"], "origin",
                   "'" + t.origin + "': must be non-empty, with no spaces and no '+'");
        t.tls_dir = r.text(root, "", "tls_dir", t.tls_dir);
        t.log_vkey = r.text(root, "", "log_vkey", t.log_vkey);
        t.policy_file = r.text(root, "", "policy_file", t.policy_file);
        read_regions(r, root, t);
        read_latency(r, root, t);
        read_nodes(r, root, t);
        read_replication(r, root, t);
        read_witnessing(r, root, t);
        read_gossip(r, root, t);
        read_scrub(r, root, t);
        auto outside = read_policy(r, root, t);
        read_outside_witnesses(r, root, t, outside);
    } catch (const topology_error& e) {
        return make_error(e.message);
    } catch (const YAML::Exception& e) {
        return make_error(file + ":" + std::to_string(e.mark.line + 1) +
                          ": not valid YAML: " + e.msg);
    }
    return t;
}

result<topology> load_topology(const std::string& path) {
    CIVIC_TRY_ASSIGN(text, read_file(path));
    return parse_topology(text, path);
}

} // namespace civic::node
