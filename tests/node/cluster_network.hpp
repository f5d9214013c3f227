// What the cluster tests share: a network of real `civic-attest node` processes
// on 127.0.0.1 with TLS between them (certificates, keys, a topology file), a
// submitter that signs under load, and the waits and checks the tests repeat.
#pragma once

#include "process.hpp"
#include "protocol/entry.hpp"
#include "protocol/merkle.hpp"
#include "protocol/split_view.hpp"
#include "protocol/witness.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sys/wait.h>
#include <thread>

namespace civic::test::cluster {

using namespace civic;
using namespace civic::test;

constexpr const char* origin = "cluster.civic-attest.test/log";

struct node_info {
    std::string name;
    std::string roles;
    std::uint16_t http = 0, caf = 0;
    node_process process;
};

/// A network of a leader and replicas, each a process; all its files in a
/// temporary directory; torn down (SIGKILL) however the test ends.
struct network {
    temp_dir dir{"cluster"};
    std::string topology;
    std::map<std::string, node_info> nodes;
    std::string admin_bearer, clerk_bearer;

    /// `replicas` replica names; the first `may_lead` of them may lead. `acks`:
    /// replica acks per write.
    /// `witnesses`: witness nodes; the policy then asks `quorum` of them and of
    /// the `outside` witnesses (name, "VKEY URL": no node of the network),
    /// whose HTTPS certificates chain to `outside_ca_file` if one is given.
    network(const std::vector<std::string>& replicas, std::size_t acks, std::size_t may_lead = 1,
            const std::vector<std::string>& witnesses = {}, std::size_t quorum = 0,
            const std::vector<std::pair<std::string, std::string>>& outside = {},
            const std::string& outside_ca_file = {}) {
        std::string text = "origin: " + std::string(origin) + "\ntls_dir: " + dir / "certs" +
                           "\nlog_vkey: " + dir / "log.vkey" +
                           "\nregions:\n  - name: here\nnodes:\n";
        auto add = [&](const std::string& name, const std::string& roles, const std::string& more) {
            auto& n = nodes[name];
            n.name = name;
            n.roles = roles;
            n.http = free_port();
            n.caf = free_port();
            text += "  - name: " + name +
                    "\n    region: here\n    caf_port: " + std::to_string(n.caf) +
                    "\n    http_port: " + std::to_string(n.http) + "\n    roles: [" + roles +
                    "]\n    data: " + dir / (name + "-data") + "\n" + more;
        };
        add("leader", "leader", "    log_key: " + dir / "leader.key" + "\n");
        for (std::size_t i = 0; i < replicas.size(); ++i)
            add(replicas[i], "replica",
                i < may_lead
                    ? "    may_lead: true\n    log_key: " + dir / (replicas[i] + ".key") + "\n"
                    : "");
        for (const auto& w : witnesses)
            add(w, "witness", "    witness_key: " + dir / (w + ".key") + "\n");
        if (!witnesses.empty()) {
            text += "witnessing:\n  interval_ms: 200\n  timeout_ms: 2000\n";
            if (!outside_ca_file.empty()) text += "  outside_ca_file: " + outside_ca_file + "\n";
            text += "policy: |\n";
            std::string members;
            for (const auto& w : witnesses) {
                text += "  witness " + w + "\n";
                members += " " + w;
            }
            for (const auto& [name, where] : outside) {
                text += "  witness " + name + " " + where + "\n";
                members += " " + name;
            }
            text += "  group all " + std::to_string(quorum) + members + "\n  quorum all\n";
            text += "policy_file: " + dir / "policy.txt" + "\n";
            text += "gossip:\n  period_ms: 200\n  fanout: 2\n";
        }
        text += "replication:\n  acks: " + std::to_string(acks) +
                "\n  heartbeat_ms: 200\n  connection_timeout_ms: 1500\n"
                "  reconnect_initial_ms: 50\n  reconnect_max_ms: 500\n";
        topology = dir / "topology.yaml";
        std::ofstream(topology) << text;
        REQUIRE(cli({"certs", "--topology", topology}) == 0);
        REQUIRE(cli({"keys", "--topology", topology}) == 0);
    }

    int cli(std::vector<std::string> args, const std::string& out = {}) {
        args.insert(args.begin(), CIVIC_ATTEST_BINARY);
        auto code = run_to_end(args, dir / "cli.log", out);
        INFO(read_file(dir / "cli.log"));
        return code;
    }

    std::string log_of(const std::string& name) { return dir / (name + ".log"); }

    void start(const std::string& name, std::vector<std::string> extra = {}) {
        auto& n = nodes.at(name);
        std::vector<std::string> args{
            CIVIC_ATTEST_BINARY, "node", "--topology", topology, "--name", name,
            "--max-batch",       "500"};
        args.insert(args.end(), extra.begin(), extra.end());
        n.process.pid = spawn(args, log_of(name));
        REQUIRE(n.process.pid > 0);
    }

    /// Waits until the node answers, and a replica has joined its leader.
    void wait_ready(const std::string& name, std::chrono::seconds limit = 20s) {
        auto& n = nodes.at(name);
        auto until = std::chrono::steady_clock::now() + limit;
        connection c;
        std::string last;
        while (std::chrono::steady_clock::now() < until) {
            INFO(read_file(log_of(name)));
            REQUIRE_FALSE(n.process.exited());
            auto res = c.call(n.http, verb::get, "/api/status", "", "", 2s);
            if (res && res->result_int() == 200) {
                last = res->body();
                auto j = json::parse(res->body());
                if (n.roles != "replica" || j["leader"]["joined"] == true) return;
            }
            std::this_thread::sleep_for(50ms);
        }
        INFO(read_file(log_of(name)));
        FAIL("node " << name << " not ready in time; its last status: " << last);
    }

    /// Starts the leader, then every replica; waits until all are ready; registers
    /// the clerk.
    void start_all() {
        start("leader");
        wait_ready("leader");
        for (const auto& [name, n] : nodes)
            if (name != "leader") start(name);
        for (const auto& [name, n] : nodes)
            if (name != "leader") wait_ready(name);
        register_clerk();
    }

    /// The leader's admin token, an identity and a token that may sign for it.
    void register_clerk() {
        auto first_line = [](std::string s) { return s.substr(0, s.find('\n')); };
        admin_bearer = "Bearer " + first_line(read_file(dir / "leader-data/admin.token"));
        connection c;
        auto res = c.call(nodes["leader"].http, verb::post, "/api/identities",
                          json{{"identity", "town/clerk"}}.dump(), admin_bearer);
        REQUIRE(res);
        REQUIRE(res->result_int() == 200);
        REQUIRE(cli({"token", "add", "--data", dir / "leader-data", "--identity", "town/clerk",
                     "--label", "clerk"},
                    dir / "clerk.token") == 0);
        clerk_bearer = "Bearer " + first_line(read_file(dir / "clerk.token"));
    }

    json status(const std::string& name) {
        connection c;
        auto res = c.call(nodes.at(name).http, verb::get, "/api/status", "", "", 5s);
        if (!res || res->result_int() != 200) return json{};
        return json::parse(res->body(), nullptr, false);
    }

    std::uint64_t size_of(const std::string& name) {
        auto s = status(name);
        return s.is_object() && s.contains("size") ? s["size"].get<std::uint64_t>() : 0;
    }

    /// Waits until every named node's durable size is `size`.
    bool converge(const std::vector<std::string>& names, std::uint64_t size,
                  std::chrono::seconds limit = 20s) {
        auto until = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < until) {
            bool all = true;
            for (const auto& n : names)
                all = all && status(n)["committed_size"] == size;
            if (all) return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }

    std::string get(const std::string& name, const std::string& target) {
        connection c;
        auto res = c.call(nodes.at(name).http, verb::get, target, "", "", 5s);
        return res && res->result_int() == 200 ? res->body() : std::string{};
    }
};

/// What one 200 from /api/sign said, and to which node it was sent.
struct ack {
    std::uint64_t index = 0;
    std::string content_hex;
    std::string node;
};

/// Submits statements for `clerk` until `stop`, round-robin over `targets`;
/// records every acknowledgement and every failure's status.
struct submitter {
    network& net;
    std::vector<std::string> targets;
    std::string tag;
    std::mutex mutex;
    std::vector<ack> acks;
    std::map<unsigned, std::size_t> failures; // HTTP status (0: no answer) -> count
    std::chrono::milliseconds slowest_failure{0};
    std::atomic<bool> stop{false};
    std::thread thread;

    submitter(network& n, std::vector<std::string> t, std::string name)
        : net(n), targets(std::move(t)), tag(std::move(name)) {
        thread = std::thread([this] { run(); });
    }
    ~submitter() { finish(); }
    void finish() {
        stop = true;
        if (thread.joinable()) thread.join();
    }
    void run() {
        std::map<std::string, connection> conns;
        for (std::uint64_t n = 0; !stop; ++n) {
            const auto& target = targets[n % targets.size()];
            auto content = hex_encode(sha256(byte_view(tag + " " + std::to_string(n))));
            auto began = std::chrono::steady_clock::now();
            auto res = conns[target].call(
                net.nodes.at(target).http, verb::post, "/api/sign",
                json{{"identity", "town/clerk"}, {"content_sha256", content}}.dump(),
                net.clerk_bearer, 15s);
            auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - began);
            std::lock_guard lock(mutex);
            if (res && res->result_int() == 200) {
                auto j = json::parse(res->body());
                acks.push_back({j["index"].get<std::uint64_t>(), content, target});
            } else {
                ++failures[res ? res->result_int() : 0];
                slowest_failure = std::max(slowest_failure, took);
                std::this_thread::sleep_for(20ms); // as Retry-After asks, briefly
            }
        }
    }
};

/// Signs `count` statements through `node`; true if all were acknowledged.
inline bool sign_some(network& net, const std::string& node, std::size_t count,
                      const std::string& tag) {
    connection c;
    for (std::size_t i = 0; i < count; ++i) {
        auto content = hex_encode(sha256(byte_view(tag + std::to_string(i))));
        auto res = c.call(net.nodes.at(node).http, verb::post, "/api/sign",
                          json{{"identity", "town/clerk"}, {"content_sha256", content}}.dump(),
                          net.clerk_bearer);
        if (!res || res->result_int() != 200) return false;
    }
    return true;
}

/// As sign_some, but a 503 (the write needs the replica's ack, and the replica
/// may be rejoining) is retried for up to `within`: when a witness dies, CAF
/// 0.17 may report the replica's link to the leader down too, and the uplink
/// joins again at once (actors/peer_link.hpp). Anything but 200 or 503 fails.
inline bool sign_some_within(network& net, const std::string& node, std::size_t count,
                             const std::string& tag, std::chrono::seconds within = 15s) {
    connection c;
    auto until = std::chrono::steady_clock::now() + within;
    for (std::size_t i = 0; i < count; ++i) {
        auto content = hex_encode(sha256(byte_view(tag + std::to_string(i))));
        while (true) {
            auto res = c.call(net.nodes.at(node).http, verb::post, "/api/sign",
                              json{{"identity", "town/clerk"}, {"content_sha256", content}}.dump(),
                              net.clerk_bearer);
            if (res && res->result_int() == 200) break;
            if ((res && res->result_int() != 503) || std::chrono::steady_clock::now() > until)
                return false;
            std::this_thread::sleep_for(50ms);
        }
    }
    return true;
}

/// Waits until the leader has published a checkpoint of its whole tree that
/// meets the quorum (or, with `quorum` false, that does not); its "witnessing"
/// status then.
inline json wait_witnessed(network& net, bool quorum, std::chrono::seconds limit = 20s) {
    auto until = std::chrono::steady_clock::now() + limit;
    json last;
    while (std::chrono::steady_clock::now() < until) {
        last = net.status("leader");
        if (last.is_object() && last.contains("witnessing") &&
            last["witnessing"].value("published_size", std::uint64_t{0}) == last["size"] &&
            last["witnessing"].value("quorum", !quorum) == quorum)
            return last["witnessing"];
        std::this_thread::sleep_for(50ms);
    }
    INFO("last status: " << last.dump());
    FAIL("the leader published no checkpoint of its whole tree with quorum " << quorum);
    return {};
}

/// Waits for a published round with quorum `quorum` whose cosigners are
/// `expected`, signing one more entry (tagged `tag`) before each new look: on a
/// loaded machine (a sanitizer build, two tests at once) a witness may answer a
/// round after its timeout, so one round alone may name fewer cosigners.
inline json wait_cosigners(network& net, bool quorum, const json& expected,
                           const std::string& tag) {
    auto w = wait_witnessed(net, quorum);
    for (int more = 0; more < 10 && w["cosigners"] != expected; ++more) {
        if (!sign_some_within(net, "leader", 1, tag + " again " + std::to_string(more) + " "))
            break;
        w = wait_witnessed(net, quorum);
    }
    return w;
}

/// Every acknowledged statement is at its index on `node`, with its content.
inline void check_acks_on(network& net, const std::string& node, const std::vector<ack>& acks) {
    std::set<std::uint64_t> indexes;
    for (const auto& a : acks) {
        INFO("entry " << a.index << " acknowledged by " << a.node << ", read from " << node);
        REQUIRE(indexes.insert(a.index).second); // each index acknowledged once
        auto body = net.get(node, "/api/entries/" + std::to_string(a.index));
        REQUIRE_FALSE(body.empty());
        CHECK(json::parse(body)["content_sha256"] == a.content_hex);
    }
}

/// How often `what` occurs in `text` (log lines).
inline std::size_t count_of(const std::string& text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

} // namespace civic::test::cluster
