// Networks of real `civic-attest node` processes on 127.0.0.1, with TLS between
// them: entries submitted to every node land once and in one order, replicas
// converge after SIGKILL, a leader killed under load keeps every acknowledged
// entry, a frozen replica is found by heartbeats, strangers are refused.

#include "cluster_network.hpp"

using namespace civic;
using namespace civic::test;
using namespace civic::test::cluster;

TEST_CASE("cluster: entries submitted to every node land once, in one order, and every node "
          "serves the same checkpoint and proofs",
          "[cluster]") {
    network net({"replica-a", "replica-b"}, 1);
    net.start_all();

    std::vector<ack> acks;
    {
        submitter to_leader(net, {"leader"}, "l"), to_a(net, {"replica-a"}, "a"),
            to_b(net, {"replica-b"}, "b");
        std::this_thread::sleep_for(1500ms);
        for (auto* s : {&to_leader, &to_a, &to_b}) {
            s->finish();
            INFO("submitter " << s->tag);
            CHECK(s->failures.empty());
            CHECK(s->acks.size() > 10);
            acks.insert(acks.end(), s->acks.begin(), s->acks.end());
        }
    }
    auto size = net.size_of("leader");
    CHECK(size == acks.size() + 1); // and the registration
    REQUIRE(net.converge({"leader", "replica-a", "replica-b"}, size));
    for (const auto& node : {"leader", "replica-a", "replica-b"})
        check_acks_on(net, node, acks);

    // A statement signed through one replica verifies at the other, from its own copy.
    {
        connection c;
        auto content = hex_encode(sha256(byte_view("verified elsewhere")));
        auto signed_res = c.call(
            net.nodes["replica-a"].http, verb::post, "/api/sign",
            json{{"identity", "town/clerk"}, {"content_sha256", content}}.dump(), net.clerk_bearer);
        REQUIRE(signed_res);
        REQUIRE(signed_res->result_int() == 200);
        auto proof = json::parse(signed_res->body())["proof"].get<std::string>();
        size = net.size_of("leader");
        REQUIRE(net.converge({"leader", "replica-a", "replica-b"}, size));
        connection v;
        auto verdict = v.call(net.nodes["replica-b"].http, verb::post, "/api/verify",
                              json{{"proof", proof}, {"content_sha256", content}}.dump());
        REQUIRE(verdict);
        INFO(verdict->body());
        CHECK(json::parse(verdict->body())["valid"] == true);
    }

    auto checkpoint = net.get("leader", "/checkpoint");
    auto proof = net.get("leader", "/api/proof/inclusion?index=7&size=" + std::to_string(size));
    REQUIRE_FALSE(proof.empty());
    for (const auto& node : {"replica-a", "replica-b"}) {
        CHECK(net.get(node, "/checkpoint") == checkpoint);
        CHECK(net.get(node, "/api/proof/inclusion?index=7&size=" + std::to_string(size)) == proof);
        CHECK(net.get(node, "/tile/0/000") == net.get("leader", "/tile/0/000"));
    }
}

TEST_CASE("cluster: a replica killed under load catches up after its restart, and a leader "
          "killed under load keeps every acknowledged entry",
          "[cluster]") {
    network net({"replica-a", "replica-b"}, 1);
    net.start_all();

    submitter load(net, {"leader", "replica-b"}, "load");
    std::this_thread::sleep_for(500ms);
    net.nodes["replica-a"].process.kill_now();
    std::this_thread::sleep_for(700ms); // writes go on: replica-b alone meets acks = 1
    net.start("replica-a");
    net.wait_ready("replica-a");
    std::this_thread::sleep_for(500ms);

    net.nodes["leader"].process.kill_now();
    std::this_thread::sleep_for(500ms); // meanwhile replica-b answers 503 at once
    net.start("leader");
    net.wait_ready("leader");
    net.wait_ready("replica-a");
    net.wait_ready("replica-b");
    std::this_thread::sleep_for(700ms);
    load.finish();

    INFO("acknowledged " << load.acks.size());
    CHECK(load.acks.size() > 20);
    // While the leader was down, forwarded requests failed fast with 503 (or found
    // no node at all): never a hang.
    for (const auto& [code, count] : load.failures) {
        INFO("status " << code << " x" << count);
        CHECK((code == 503 || code == 0));
    }
    CHECK(load.slowest_failure < 5s);
    auto size = net.size_of("leader");
    REQUIRE(net.converge({"leader", "replica-a", "replica-b"}, size));
    for (const auto& node : {"leader", "replica-a", "replica-b"})
        check_acks_on(net, node, load.acks);
    CHECK(net.get("replica-a", "/checkpoint") == net.get("leader", "/checkpoint"));

    // The logs tell it: the leader lost replica-a and took it back; replica-b
    // lost its leader and joined it again after its restart.
    auto leader_log = read_file(net.log_of("leader"));
    auto replica_log = read_file(net.log_of("replica-b"));
    INFO(leader_log);
    INFO(replica_log);
    CHECK(leader_log.find(R"(actor=ledger msg="a replica left")") != std::string::npos);
    CHECK(count_of(leader_log, R"(actor=gateway msg="a replica asks to join" peer=replica-a)") >=
          2);
    CHECK(count_of(leader_log, R"(actor=node msg="started" role=leader)") == 2);
    CHECK(
        replica_log.find(R"(actor=uplink msg="lost the connection to the leader" leader=leader)") !=
        std::string::npos);
    // At least twice: CAF 0.17 may also report the leader unreachable when
    // another peer's connection (replica-a's) closes; the uplink then rejoins.
    CHECK(count_of(replica_log, R"(actor=uplink msg="joined the leader" leader=leader)") >= 2);
}

TEST_CASE("cluster: a frozen replica is found by heartbeats and the leader keeps serving",
          "[cluster]") {
    network net({"replica-a", "replica-b"}, 1);
    net.start_all();
    REQUIRE(net.status("leader")["replicas"] == 2);

    submitter load(net, {"leader"}, "frozen");
    std::this_thread::sleep_for(300ms);
    ::kill(net.nodes["replica-a"].process.pid, SIGSTOP);
    // Heartbeats every 200 ms, silent for 1.5 s is dead.
    auto until = std::chrono::steady_clock::now() + 10s;
    while (net.status("leader")["replicas"] != 1 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(100ms);
    CHECK(net.status("leader")["replicas"] == 1);
    std::size_t before;
    {
        std::lock_guard lock(load.mutex);
        before = load.acks.size();
    }
    std::this_thread::sleep_for(700ms);
    {
        std::lock_guard lock(load.mutex);
        CHECK(load.acks.size() > before + 10); // replica-b's acks suffice
    }
    ::kill(net.nodes["replica-a"].process.pid, SIGCONT);
    net.wait_ready("replica-a");
    load.finish();
    CHECK(load.failures.empty());
    auto size = net.size_of("leader");
    CHECK(net.converge({"leader", "replica-a", "replica-b"}, size));
}

TEST_CASE("cluster: a node with a certificate from another CA, or none, is refused", "[cluster]") {
    network net({"replica-a"}, 1);
    net.start("leader");
    net.wait_ready("leader");

    // The same topology with another CA's certificates for replica-a.
    auto other = net.dir / "other.yaml";
    {
        auto text = read_file(net.topology);
        auto at = text.find(net.dir / "certs");
        text.replace(at, (net.dir / "certs").size(), net.dir / "other-certs");
        std::ofstream(other) << text;
    }
    REQUIRE(net.cli({"certs", "--topology", other}) == 0);
    net.nodes["replica-a"].process.pid =
        spawn({CIVIC_ATTEST_BINARY, "node", "--topology", other, "--name", "replica-a"},
              net.log_of("replica-a"));
    std::this_thread::sleep_for(2s);
    CHECK(net.status("replica-a")["leader"]["joined"] == false);
    CHECK(net.status("leader")["replicas"] == 0);
    net.nodes["replica-a"].process.kill_now();

    // And one without TLS at all.
    net.start("replica-a", {"--insecure-dev"});
    std::this_thread::sleep_for(2s);
    CHECK(net.status("replica-a")["leader"]["joined"] == false);
    CHECK(net.status("leader")["replicas"] == 0);
    net.nodes["replica-a"].process.kill_now();

    // With the network's own certificate it joins (the refusals were not an accident).
    net.start("replica-a");
    net.wait_ready("replica-a");
    CHECK(net.status("leader")["replicas"] == 1);
}

TEST_CASE("cluster: after the leader dies a replica is promoted under a new epoch, submissions "
          "go on, and the old leader comes back as a replica without signing a conflicting "
          "checkpoint",
          "[cluster]") {
    network net({"replica-a", "replica-b"}, 1, 2); // both may lead
    net.start_all();

    std::vector<ack> before;
    {
        submitter load(net, {"leader", "replica-a", "replica-b"}, "before");
        std::this_thread::sleep_for(800ms);
        net.nodes["leader"].process.kill_now(); // under load
        std::this_thread::sleep_for(300ms);
        load.finish();
        before = load.acks;
    }
    REQUIRE(before.size() > 10);

    // Promote the replica that holds the most: with acks = 1, it holds every
    // acknowledged entry. Replicas stop before promotion.
    auto size_a = net.size_of("replica-a"), size_b = net.size_of("replica-b");
    auto chosen = size_a >= size_b ? std::string("replica-a") : std::string("replica-b");
    auto other = chosen == "replica-a" ? std::string("replica-b") : std::string("replica-a");
    ::kill(net.nodes[chosen].process.pid, SIGTERM);
    {
        int status = 0;
        ::waitpid(net.nodes[chosen].process.pid, &status, 0);
        net.nodes[chosen].process.pid = -1;
    }
    // While the other replica holds more than a stopped candidate, promotion is
    // refused; the chosen one holds at least as much.
    CHECK(net.cli({"promote", "--topology", net.topology, "--name", chosen, "--secrets-from",
                   net.dir / "leader-data"}) == 0);
    net.nodes[chosen].roles = "leader";
    net.start(chosen);
    net.wait_ready(chosen);
    CHECK(net.status(chosen)["role"] == "leader");
    CHECK(net.status(chosen)["epoch"] == 1);
    net.wait_ready(other); // it follows the new leader
    // The new leader signs nothing while fewer replicas than its acks have
    // joined it, and it may learn of the join a moment after the replica does.
    auto replicas_of_chosen = [&] {
        auto j = net.status(chosen);
        return j.is_object() ? j.value("replicas", 0) : 0;
    };
    for (auto until = std::chrono::steady_clock::now() + 20s;
         replicas_of_chosen() < 1 && std::chrono::steady_clock::now() < until;)
        std::this_thread::sleep_for(50ms);
    REQUIRE(replicas_of_chosen() >= 1);

    std::vector<ack> after;
    {
        submitter load(net, {chosen, other}, "after");
        std::this_thread::sleep_for(800ms);
        load.finish();
        std::string failed;
        for (const auto& [code, count] : load.failures)
            failed += " status " + std::to_string(code) + " x" + std::to_string(count);
        INFO("failed:" << failed);
        CHECK(load.failures.empty());
        after = load.acks;
    }
    REQUIRE(after.size() > 10);
    CHECK(net.status(other)["epoch"] == 1);

    // The old leader comes back, learns the newer epoch from its peers, steps down.
    net.start("leader");
    auto until = std::chrono::steady_clock::now() + 20s;
    while (net.status("leader")["role"] != "replica" && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(100ms);
    CHECK(net.status("leader")["role"] == "replica");
    INFO(read_file(net.log_of("leader")));
    CHECK(read_file(net.log_of("leader")).find("stepped down") != std::string::npos);
    // Its old ledger is set aside, never served; it follows the new leader from scratch.
    CHECK(std::filesystem::exists(net.dir / "leader-data/ledger.deposed-epoch-0"));
    net.wait_ready("leader");
    CHECK(net.status("leader")["epoch"] == 1);
    REQUIRE(net.converge({"leader", chosen}, net.size_of(chosen)));

    // Whatever checkpoint the old leader holds is consistent with the new leader's
    // tree: it signed nothing that conflicts.
    auto vkey = note::parse_vkey(
        read_file(net.dir / "log.vkey").substr(0, read_file(net.dir / "log.vkey").find('\n')));
    REQUIRE(vkey.ok());
    auto log_key = note::make_verifier(*vkey);
    REQUIRE(log_key.ok());
    auto old_cp = open_checkpoint(net.get("leader", "/checkpoint"), **log_key, origin);
    auto new_cp = open_checkpoint(net.get(chosen, "/checkpoint"), **log_key, origin);
    REQUIRE(old_cp.ok());
    REQUIRE(new_cp.ok());
    REQUIRE(old_cp->size <= new_cp->size);
    if (old_cp->size > 0 && old_cp->size < new_cp->size) {
        auto proof = json::parse(
            net.get(chosen, "/api/proof/consistency?old=" + std::to_string(old_cp->size) +
                                "&new=" + std::to_string(new_cp->size)));
        auto hashes = decode_hashes(proof["proof"]);
        REQUIRE(hashes.ok());
        CHECK(merkle::verify_consistency(old_cp->size, new_cp->size, *hashes, old_cp->root,
                                         new_cp->root)
                  .ok());
    } else if (old_cp->size == new_cp->size) {
        CHECK(old_cp->root == new_cp->root);
    }

    // Every acknowledged entry, before and after the promotion, is on the new leader.
    auto all = before;
    all.insert(all.end(), after.begin(), after.end());
    check_acks_on(net, chosen, all);
}

namespace {

/// Flips the lowest bit of the last byte of every copy of `needle` in `path`
/// (LMDB may keep older copies of a page in free pages); how many it flipped.
int flip_bit_in_every_copy(const std::string& path, const std::string& needle) {
    auto content = read_file(path);
    int flipped = 0;
    for (auto at = content.find(needle); at != std::string::npos;
         at = content.find(needle, at + 1)) {
        content[at + needle.size() - 1] = static_cast<char>(content[at + needle.size() - 1] ^ 1);
        ++flipped;
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    return flipped;
}

/// SIGTERM, and the node must stop cleanly.
void stop_node(network& net, const std::string& name) {
    auto& p = net.nodes.at(name).process;
    REQUIRE(p.pid > 0);
    ::kill(p.pid, SIGTERM);
    int status = 0;
    REQUIRE(::waitpid(p.pid, &status, 0) == p.pid);
    p.pid = -1;
    INFO(read_file(net.log_of(name)));
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
}

/// Polls the node's status until `done(status["scrub"])`, at most `limit`.
json wait_scrub(network& net, const std::string& name, const std::function<bool(const json&)>& done,
                std::chrono::seconds limit = 10s) {
    auto until = std::chrono::steady_clock::now() + limit;
    json last;
    while (std::chrono::steady_clock::now() < until) {
        last = net.status(name);
        if (last.is_object() && last.contains("scrub") && done(last["scrub"])) return last;
        std::this_thread::sleep_for(20ms);
    }
    INFO(read_file(net.log_of(name)));
    FAIL("node " << name << ": scrub status not reached in time; last: " << last.dump());
    return last;
}

} // namespace

TEST_CASE("cluster: a replica's scrub finds a flipped bit in its store, answers 503 for that "
          "entry tile until it has healed it from the leader, then the leader's bytes",
          "[cluster]") {
    network net({"replica"}, 1, 0);
    net.start_all();
    REQUIRE(sign_some(net, "leader", 299, "scrubbed ")); // 300 entries: tile 0 full, tile 1 not
    REQUIRE(net.converge({"leader", "replica"}, 300));
    std::map<std::string, std::string> expected;
    for (const auto& target : {"/api/entries/100", "/api/entries/5", "/api/entries/299",
                               "/tile/entries/000", "/tile/0/000"})
        expected[target] = net.get("leader", target);
    auto entry =
        base64_decode(json::parse(expected["/api/entries/100"])["entry"].get<std::string>());
    REQUIRE(entry.ok());

    // Both stopped; the replica's disk flips a bit of entry 100. With the leader
    // away, the replica has nowhere to heal from.
    stop_node(net, "replica");
    stop_node(net, "leader");
    const auto data = net.dir / "replica-data";
    std::filesystem::copy_file(net.dir / "log.vkey", data + "/log.vkey",
                               std::filesystem::copy_options::overwrite_existing);
    REQUIRE(flip_bit_in_every_copy(data + "/ledger/data.mdb",
                                   std::string(entry->begin(), entry->end())) > 0);
    REQUIRE(net.cli({"fsck", "--data", data}) == 1);

    net.start("replica");
    auto found =
        wait_scrub(net, "replica", [](const json& s) { return s.value("damaged_ranges", 0) == 1; });
    CHECK(found["scrub"]["damaged"] == json::array({"entries/0-256"}));
    for (const char* target : {"/api/entries/100", "/api/entries/5", "/tile/entries/000"}) {
        connection c;
        auto res = c.call(net.nodes["replica"].http, verb::get, target, "", "", 5s);
        REQUIRE(res);
        INFO(target << ": " << res->body());
        CHECK(res->result_int() == 503);
        CHECK(json::parse(res->body(), nullptr, false).value("error", "") == "damaged");
    }
    CHECK(net.get("replica", "/api/entries/299") == expected["/api/entries/299"]);
    CHECK(net.get("replica", "/tile/0/000") == expected["/tile/0/000"]);

    // The leader comes back: the replica fetches the range, checks it against its
    // own tree, rewrites it, and serves the leader's bytes.
    net.start("leader");
    auto healed = wait_scrub(net, "replica", [](const json& s) {
        return s.value("damaged_ranges", 1) == 0 && s.value("healed", 0) == 1;
    });
    for (const auto& [target, body] : expected)
        CHECK(net.get("replica", target) == body);
    auto log = read_file(net.log_of("replica"));
    CHECK(log.find(R"(msg="store damage" index=100 range=entries/0-256)") != std::string::npos);
    CHECK(log.find(R"(msg="store healed" range=entries/0-256 from=leader)") != std::string::npos);
    auto metrics = net.get("replica", "/metrics");
    CHECK(metrics.find("civic_store_healed_total 1") != std::string::npos);
    CHECK(metrics.find("civic_store_damaged_ranges 0") != std::string::npos);

    // The store is whole again: fsck says so.
    stop_node(net, "replica");
    CHECK(net.cli({"fsck", "--data", data}) == 0);
}
