#include "node/config/from_topology.hpp"

#include "node/config/certs.hpp"
#include "node/http/session.hpp"
#include "node/system/data_dir.hpp"
#include "node/system/files.hpp"
#include "protocol/note.hpp"
#include "protocol/policy.hpp"

#include <filesystem>
#include <sstream>

namespace civic::node {

namespace {

/// The node's TLS material for the peer port, checked to name this node.
status set_tls_files(const topology& t, const node_spec& self, network_options& net) {
    namespace fs = std::filesystem;
    auto ca = (fs::path(t.tls_dir) / "ca.crt").string();
    auto cert = (fs::path(t.tls_dir) / (self.name + ".crt")).string();
    if (auto ok = check_node_cert(ca, cert, self.name); !ok)
        return make_error(ok.message() + " (run 'civic-attest certs --topology " + t.file +
                          "' first, or give --insecure-dev)");
    net.system.tls_ca = ca;
    net.system.tls_certificate = cert;
    net.system.tls_key = (fs::path(t.tls_dir) / (self.name + ".key")).string();
    return {};
}

/// Every node knows every peer and who may lead: a leader that was deposed
/// steps down and follows; a replica follows whoever leads under the newest
/// epoch.
void set_peers(const topology& t, const node_spec& self, network_options& net) {
    net.gossip_period = std::chrono::milliseconds(t.gossip.period_ms);
    net.gossip_fanout = t.gossip.fanout;
    // Gossip opens a connection only where one would be opened the same way
    // anyway (to witnesses, as a leader's collector does; from a replica to the
    // nodes that may lead, as its uplink does), and witnesses among themselves
    // by name. CAF 0.17 connections opened both ways between two nodes never
    // complete. The other side answers exchanges over it (push-pull), so every
    // node still reaches every witness, and evidence spreads through them.
    auto witness_only = [](const node_spec& n) {
        return !n.has(node_role::leader) && !n.has(node_role::replica);
    };
    auto may_lead = [](const node_spec& n) { return n.has(node_role::leader) || n.may_lead; };
    auto opens_to = [&](const node_spec& from, const node_spec& to) {
        if (witness_only(to)) return !witness_only(from) || from.name < to.name;
        return from.has(node_role::replica) && !may_lead(from) && may_lead(to);
    };
    for (const auto& n : t.nodes) {
        if (n.name == self.name) continue;
        if (opens_to(self, n)) net.gossip_peers.push_back({n.name, n.host, n.caf_port});
        net.peers.emplace_back(n.host, n.caf_port);
        net.peer_names[{n.host, n.caf_port}] = n.name;
        // Every node that holds the log may follow a leader: a deposed leader
        // steps down and joins the new one. A witness-only node never may.
        if (n.has(node_role::replica) || may_lead(n)) net.replica_names.insert(n.name);
        if (may_lead(n)) {
            net.leader_candidates.emplace_back(n.host, n.caf_port);
            net.log_node_names.insert(n.name);
        }
    }
}

/// The network's policy: a leader asks its witnesses for cosignatures, every
/// node says in bundles which witnesses cosigned.
status set_policy(const topology& t, network_options& net) {
    if (t.policy.empty()) return {};
    auto text = read_file(t.policy_file);
    if (!text)
        return make_error(t.file + ": policy_file " + t.policy_file + ": " + text.message() +
                          " (run 'civic-attest keys --topology " + t.file + "' first)");
    auto rules = parse_policy(*text);
    if (!rules) return make_error(t.policy_file + ": " + rules.message());
    net.policy_text = *text;
    net.cosign_interval = std::chrono::milliseconds(t.witnessing.interval_ms);
    net.witness_timeout = std::chrono::milliseconds(t.witnessing.timeout_ms);
    net.outside_witness_ca_file = t.witnessing.outside_ca_file;
    for (const auto& w : rules->witnesses) {
        const node_spec* node = t.find(w.name);
        if (node && node->has(node_role::witness)) {
            net.witnesses.push_back({w.name, node->host, node->caf_port});
        } else if (!w.url.empty()) {
            // Outside the network: asked over tlog-witness HTTP(S).
            auto origin = parse_http_origin(w.url);
            if (!origin)
                return make_error(t.policy_file + ": witness " + w.name + ": URL '" + w.url +
                                  "': " + origin.message());
            net.outside_witnesses.push_back({w.name, w.url});
        }
    }
    return {};
}

/// First start: makes the data directory of a node that holds the ledger (a
/// witness makes its store itself).
status make_data_dir_if_new(const topology& t, const node_spec& self, bool leading) {
    std::error_code ec;
    bool fresh =
        !std::filesystem::exists(self.data, ec) || std::filesystem::is_empty(self.data, ec);
    if (!fresh) return {};
    if (leading) {
        if (self.log_key.empty())
            return make_error(t.file + ": nodes[" + self.name + "].log_key: the leader needs one");
        auto made = init_data_dir(self.data, t.origin, self.log_key);
        if (!made) return make_error(t.file + ": nodes[" + self.name + "]: " + made.message());
        return {};
    }
    auto made = init_replica_dir(self.data, t.origin);
    if (!made) return make_error(t.file + ": nodes[" + self.name + "]: " + made.message());
    return {};
}

} // namespace

result<service_options> node_options(const topology& t, const node_spec& self, bool insecure) {
    service_options options;
    options.data_dir = self.data;
    options.http.address = self.host;
    options.http.port = self.http_port;
    auto& net = options.network;
    net.node_name = self.name;
    net.leading = self.has(node_role::leader);
    options.holds_ledger = self.has(node_role::leader) || self.has(node_role::replica);
    if (self.has(node_role::witness)) {
        options.witness.enabled = true;
        options.witness.key_file = self.witness_key;
        options.witness.logs_file = self.witness_logs;
    }
    net.caf_host = self.host;
    net.caf_port = self.caf_port;
    net.insecure_dev = insecure;
    net.system.heartbeat_interval = std::chrono::milliseconds(t.replication.heartbeat_ms);
    net.system.connection_timeout = std::chrono::milliseconds(t.replication.connection_timeout_ms);
    net.reconnect_initial = std::chrono::milliseconds(t.replication.reconnect_initial_ms);
    net.reconnect_max = std::chrono::milliseconds(t.replication.reconnect_max_ms);
    net.seed = std::hash<std::string>{}(self.name);
    options.ledger.replica_acks = t.replication.acks;
    options.scrub.entries_per_second = t.scrub.entries_per_second;
    options.scrub.pass_interval = std::chrono::milliseconds(t.scrub.pass_interval_ms);
    if (!insecure) CIVIC_TRY(set_tls_files(t, self, net));
    set_peers(t, self, net);
    // Every node reads the log's verifier key (a leader may step down).
    auto vkey = read_file(t.log_vkey);
    if (!vkey)
        return make_error(t.file + ": log_vkey " + t.log_vkey + ": " + vkey.message() +
                          " (run 'civic-attest logkey --topology " + t.file + "' first)");
    net.log_vkey = vkey->substr(0, vkey->find_first_of("\r\n"));
    CIVIC_TRY(set_policy(t, net));
    if (options.holds_ledger) CIVIC_TRY(make_data_dir_if_new(t, self, net.leading));
    return options;
}

result<std::string> expanded_policy(const topology& t, const std::string& log_vkey) {
    std::string text = "log " + log_vkey + "\n";
    std::istringstream lines(t.policy);
    std::string line;
    bool quorum = false;
    while (std::getline(lines, line)) {
        auto [first, name, rest, url] = split_policy_line(line);
        quorum = quorum || first == "quorum";
        const node_spec* node = first == "witness" && rest.empty() ? t.find(name) : nullptr;
        if (!node) {
            text += line + "\n";
            continue;
        }
        auto key = read_signer_key_file(node->witness_key);
        if (!key) return make_error("nodes[" + name + "].witness_key: " + key.message());
        note::cosigner w(key->name, std::move(key->key));
        text += "witness " + name + " " + note::format_vkey(w.verifier_key()) + "\n";
    }
    if (!quorum) text += "quorum none\n";
    CIVIC_TRY(parse_policy(text));
    return text;
}

} // namespace civic::node
