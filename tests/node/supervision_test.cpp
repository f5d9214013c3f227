// A node under supervision, in-process: actors killed one by one come back and
// lose nothing acknowledged, a tree that keeps failing gives up, a replica
// rejoins its leader; and requests that wait for a witnessed answer.
#include "leader_replica.hpp"
#include "node/service/node_tree.hpp"
#include "service_fixture.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <thread>

using namespace civic;
using json = nlohmann::json;
using test::bhttp::verb;
using namespace civic::test::service_support;

TEST_CASE("service: actors killed one by one are restarted by the node's supervision tree, and "
          "nothing acknowledged is lost",
          "[service][supervision]") {
    node_fixture f;
    auto admin = bearer(f.init.admin_token);
    auto c = f.client();
    REQUIRE(c.send(verb::post, "/api/identities", json{{"identity", "town/clerk"}}.dump(), admin)
                .result_int() == 200);
    std::vector<std::pair<std::uint64_t, std::string>> acked; // index, content hash
    auto sign_until_ok = [&](const std::string& text) {
        return sign_through_restarts(f.node->http_port(), admin, text, acked);
    };

    int n = 0;
    for (const char* victim : {"signer", "ledger", "committer", "signer"}) {
        INFO("killed " << victim);
        REQUIRE(sign_until_ok("before " + std::to_string(n)));
        REQUIRE(f.node->kill_actor(victim));
        REQUIRE(sign_until_ok("after " + std::to_string(n++)));
        CHECK_FALSE(f.node->failure());
    }
    // Every acknowledged statement is where its receipt said, after all that.
    for (const auto& [index, content] : acked) {
        auto entry = json::parse(c.get("/api/entries/" + std::to_string(index)).body());
        CHECK(entry["content_sha256"] == content);
    }
    // The identity key was reloaded from disk by each new signer: it still signs,
    // and the registry was not touched by the restarts.
    auto id = json::parse(c.get("/api/identities/town/clerk").body());
    CHECK(id["keys"].size() == 1);
}

TEST_CASE("service: an actor that keeps failing makes the supervision tree give up, for the "
          "process to exit non-zero",
          "[service][supervision]") {
    node_fixture f;
    // The default restart intensity: 3 restarts within 10 s; the fourth escalates.
    for (int i = 0; i < 4; ++i) {
        REQUIRE(f.node->kill_actor("ledger"));
        // Wait for the supervisor to restart it (a new handle in the directory).
        for (int wait = 0; wait < 100 && !f.node->failure(); ++wait) {
            auto res = f.client().get("/api/status");
            if (res.result_int() == 200) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    for (int wait = 0; wait < 200 && !f.node->failure(); ++wait)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(f.node->failure());
    CHECK(f.node->failure()->find("gave up") != std::string::npos);
}

TEST_CASE("service: a replica's actors killed one by one come back, rejoin the leader and "
          "forward again",
          "[service][supervision]") {
    test::temp_dir dir("service-replica");
    test::leader_and_replica net(
        dir.path, "service.test/log", [](node::service_options& o) { o.ledger.replica_acks = 1; },
        [](node::service_options& o) {
            o.network.reconnect_initial = std::chrono::milliseconds(20);
            o.network.reconnect_max = std::chrono::milliseconds(200);
        });
    auto admin = bearer(net.made.admin_token);
    REQUIRE(test::client(net.leader->http_port())
                .send(verb::post, "/api/identities", json{{"identity", "town/clerk"}}.dump(), admin)
                .result_int() == 200);
    // Signs through the replica (forwarded), retrying while it recovers.
    std::vector<std::pair<std::uint64_t, std::string>> acked;
    auto sign_via_replica = [&](const std::string& text) {
        return sign_through_restarts(net.replica->http_port(), admin, text, acked);
    };
    int n = 0;
    for (const char* victim : {"uplink", "replica", "committer"}) {
        INFO("killed " << victim << " on the replica");
        REQUIRE(sign_via_replica("before " + std::to_string(n)));
        REQUIRE(net.replica->kill_actor(victim));
        bool signed_after = sign_via_replica("after " + std::to_string(n++));
        // When it does not come back: what its uplink says (a rare failure, not
        // yet understood, of this test on a loaded machine).
        std::string status_then;
        if (!signed_after)
            status_then = test::client(net.replica->http_port()).get("/api/status").body();
        INFO("replica status: " << status_then);
        REQUIRE(signed_after);
        CHECK_FALSE(net.replica->failure());
    }
    // The replica holds every acknowledged entry (acks = 1: it was the one).
    auto rc = test::client(net.replica->http_port());
    for (const auto& [index, content] : acked) {
        auto entry = json::parse(rc.get("/api/entries/" + std::to_string(index)).body());
        CHECK(entry["content_sha256"] == content);
    }
    net.replica->stop();
    net.leader->stop();
}

TEST_CASE("service: requests that wait for a witnessed checkpoint share one poll, and at their "
          "deadline get the log-signed answer marked \"quorum\": false",
          "[service][witnessed]") {
    test::temp_dir dir("service-witnessed");
    auto made = node::init_data_dir(dir / "data", "service.test/log");
    REQUIRE(made.ok());
    node::service_options options;
    options.data_dir = dir / "data";
    // A network whose one witness never answers (nothing listens there).
    auto witness_key = test::witness("absent-witness");
    options.network.policy_text = "log " + made->log_vkey + "\nwitness absent-witness " +
                                  note::format_vkey(witness_key.verifier_key()) +
                                  "\nquorum absent-witness\n";
    options.network.witnesses = {{"absent-witness", "127.0.0.1", test::free_port()}};
    options.network.insecure_dev = true;
    // The wait: the HTTP deadline less 2 s.
    options.http.request_timeout = std::chrono::milliseconds(3500);
    auto started = node::service::start(options);
    INFO((started ? "" : started.message()));
    REQUIRE(started.ok());
    auto& node = **started;
    auto admin = bearer(made->admin_token);
    REQUIRE(test::client(node.http_port())
                .send(verb::post, "/api/identities", R"({"identity":"town/clerk"})", admin)
                .result_int() == 200);

    constexpr int waiting = 16;
    std::vector<std::pair<unsigned, std::string>> answers(waiting);
    std::vector<std::thread> clients;
    auto began = std::chrono::steady_clock::now();
    for (int i = 0; i < waiting; ++i)
        clients.emplace_back([&, i] {
            auto res = test::client(node.http_port())
                           .send(verb::post, "/api/sign",
                                 json{{"identity", "town/clerk"},
                                      {"content_sha256",
                                       hex_encode(sha256(byte_view("doc " + std::to_string(i))))},
                                      {"witnessed", true}}
                                     .dump(),
                                 admin);
            answers[static_cast<std::size_t>(i)] = {res.result_int(), res.body()};
        });
    for (auto& t : clients)
        t.join();
    auto took = std::chrono::steady_clock::now() - began;

    for (const auto& [code, body] : answers) {
        INFO(body);
        REQUIRE(code == 200);
        auto j = json::parse(body); // a whole document, not text patched
        CHECK(j["quorum"] == false);
        CHECK(j["proof"].is_string());
    }
    CHECK(took >= std::chrono::milliseconds(1400)); // each waited to its deadline
    // One poll for all, held by the collector (at most a second each) while
    // they waited: a few in all, not one per request or per 100 ms.
    auto metrics = test::client(node.http_port()).get("/metrics").body();
    auto at = metrics.find("\ncivic_witnessed_polls_total ");
    REQUIRE(at != std::string::npos);
    auto polls = std::stod(metrics.substr(at + 29));
    INFO(metrics.substr(at, 80));
    auto seconds = std::chrono::duration<double>(took).count();
    CHECK(polls >= 1);
    CHECK(polls <= seconds + 3);
    CHECK(metrics.find("\ncivic_witnessed_waiting 0") != std::string::npos);
}
