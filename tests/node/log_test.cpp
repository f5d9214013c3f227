// A node's log (actors/log.hpp): its lines, escaped so that no client or peer
// can forge one, in text or JSON; and a node that tells its story in it (start,
// a restart, a replica joining and leaving) without ever writing a secret.
#include "actors/log.hpp"
#include "leader_replica.hpp"
#include "node/service/service.hpp"
#include "node/test_http_client.hpp"
#include "process.hpp"
#include "storage/ledger_store.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>
#include <thread>

using namespace civic;
using json = nlohmann::json;
using test::bhttp::verb;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

/// Waits up to 10 s for `what` to appear in the file at `path`.
bool log_shows(const std::string& path, const std::string& what) {
    for (int i = 0; i < 200; ++i) {
        if (test::read_file(path).find(what) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

} // namespace

TEST_CASE("log: a text line is key=value fields, the message and text with spaces quoted",
          "[log]") {
    auto line = log::render(log::format::text, "leader", "uplink", "joined the leader",
                            {{"leader", "node-a"}, {"epoch", 3}, {"why", "a b"}, {"ok", true}});
    CHECK(
        line ==
        R"(node=leader actor=uplink msg="joined the leader" leader=node-a epoch=3 why="a b" ok=true)");
    CHECK(log::render(log::format::text, "n", "a", "m", {{"empty", ""}}) ==
          R"(node=n actor=a msg="m" empty="")");
}

TEST_CASE("log: what a client or peer sent cannot end a value or start a line of its own",
          "[log]") {
    const std::string forged =
        "x\" level=error\n2026-12-02T00:00:00.000Z error node=leader msg=\"forged";
    auto text = log::render(log::format::text, "leader", "http", forged, {{"peer", forged}});
    CHECK(text.find('\n') == std::string::npos);
    CHECK(lines_of(text).size() == 1);
    // The quote inside is escaped: the value ends where the renderer ended it.
    CHECK(text.find(R"(msg="x\" level=error\n2026)") != std::string::npos);

    auto as_json = "{" +
                   log::render(log::format::json, "leader", "http", forged,
                               {{"peer", forged}, {"bytes", std::string("\x01\xff\xc3\xa9", 4)}}) +
                   "}";
    auto parsed = json::parse(as_json);
    CHECK(parsed["msg"] == forged);
    CHECK(parsed["peer"] == forged);
    // A control byte and a byte that is not UTF-8 are escaped; valid UTF-8 stays.
    CHECK(parsed["bytes"] == std::string("\x01\xc3\xbf\xc3\xa9"));
    CHECK(log::render(log::format::text, "n", "a", "m", {{"b", std::string("\x01\xff", 2)}}) ==
          R"(node=n actor=a msg="m" b="\x01\xff")");
}

TEST_CASE("log: levels and formats are parsed strictly, and a logger drops what is below its "
          "level",
          "[log]") {
    CHECK(log::parse_level("warning") == log::level::warning);
    CHECK(log::parse_level("warn") == log::level::warning);
    CHECK_FALSE(log::parse_level("verbose"));
    CHECK_FALSE(log::parse_level("INFO"));
    CHECK(log::parse_format("json") == log::format::json);
    CHECK_FALSE(log::parse_format("yaml"));

    test::temp_dir dir("log-levels");
    auto file = dir / "node.log";
    auto logger = log::logger::make("n1", {log::level::warning, log::format::json, file});
    logger->info("ledger", "not written");
    logger->warn("ledger", "written", {{"index", 7}});
    logger->error("store", "also written");
    auto lines = lines_of(test::read_file(file));
    REQUIRE(lines.size() == 2);
    auto first = json::parse(lines[0]);
    CHECK(first["level"] == "warning");
    CHECK(first["node"] == "n1");
    CHECK(first["actor"] == "ledger");
    CHECK(first["msg"] == "written");
    CHECK(first["index"] == 7);
    const std::string time = first["time"];
    CHECK(time.size() == 24); // 2026-12-02T05:20:01.123Z
    CHECK(json::parse(lines[1])["level"] == "error");
    CHECK_FALSE(log::logger::none()->enabled(log::level::error));
}

TEST_CASE("log: a leader and its replica tell their story (start, a restart, a replica joining "
          "and leaving) at debug, and no token or key reaches the log",
          "[log][service]") {
    test::temp_dir dir("log-story");
    test::leader_and_replica net(
        dir.path, "log.test/log",
        [&](node::service_options& o) {
            o.log = {log::level::debug, log::format::text, dir / "leader.log"};
        },
        [&](node::service_options& o) {
            o.log = {log::level::debug, log::format::json, dir / "replica.log"};
        });
    const auto leader_log = dir / "leader.log";
    const auto replica_log = dir / "replica.log";

    // Secrets cross the node: the admin token, a clerk's token, a wrong one.
    auto c = test::client(net.leader->http_port());
    auto admin = "Bearer " + net.made.admin_token;
    REQUIRE(c.send(verb::post, "/api/identities", json{{"identity", "town/clerk"}}.dump(), admin)
                .result_int() == 200);
    // A clerk's token, as `civic-attest token add` makes one (beside the node).
    auto token = node::make_token();
    {
        auto store = storage::ledger_store::open({dir / "leader/ledger"});
        REQUIRE(store.ok());
        REQUIRE(
            (*store)->put_token(sha256(byte_view(token)), {"clerk", false, {"town/clerk"}}).ok());
    }
    CHECK(c.send(verb::post, "/api/sign", R"({"identity":"town/clerk","content":"aGk="})",
                 "Bearer " + token)
              .result_int() == 200);
    const std::string wrong = "wrong-token-0123456789abcdef0123456789abcdef";
    CHECK(c.send(verb::post, "/api/sign", R"({"identity":"town/clerk","content":"aGk="})",
                 "Bearer " + wrong)
              .result_int() == 401);
    REQUIRE(log_shows(replica_log, "joined the leader"));
    // A request forwarded by the replica carries the token's hash, never the token.
    CHECK(test::client(net.replica->http_port())
              .send(verb::post, "/api/sign", R"({"identity":"town/clerk","content":"aGk="})",
                    "Bearer " + token)
              .result_int() == 200);
    REQUIRE(net.leader->kill_actor("signer"));
    REQUIRE(log_shows(leader_log, "restarting an actor"));
    net.replica->stop();
    REQUIRE(log_shows(leader_log, "a replica left"));
    net.leader->stop();

    auto text = test::read_file(leader_log);
    auto replica_text = test::read_file(replica_log);
    INFO(text);
    INFO(replica_text);
    CHECK(text.find("actor=node msg=\"started\" role=leader origin=log.test/log epoch=") !=
          std::string::npos);
    CHECK(text.find("actor=gateway msg=\"a replica asks to join\"") != std::string::npos);
    CHECK(text.find("actor=ledger msg=\"a replica joined\"") != std::string::npos);
    CHECK(text.find("actor=supervisor msg=\"restarting an actor\" child=signer") !=
          std::string::npos);
    for (const auto& line : lines_of(replica_text)) {
        INFO(line);
        auto parsed = json::parse(line); // every line one object
        CHECK(parsed["node"] == "replica");
    }
    CHECK(replica_text.find(R"("actor":"uplink","msg":"joined the leader","leader":"leader")") !=
          std::string::npos);

    // No secret: not the tokens, not the log key, not an identity key.
    std::vector<std::pair<std::string, std::string>> secrets{{"admin token", net.made.admin_token},
                                                             {"wrong token", wrong}};
    secrets.emplace_back("clerk token", token);
    secrets.emplace_back("log key", test::read_file(dir / "leader/log.key"));
    for (const auto& f : std::filesystem::directory_iterator(dir / "leader/keys"))
        secrets.emplace_back(f.path().filename().string(), test::read_file(f.path().string()));
    for (auto [what, secret] : secrets) {
        while (!secret.empty() && (secret.back() == '\n' || secret.back() == ' '))
            secret.pop_back();
        INFO(what);
        // The key of a "PRIVATE+KEY+name+hash+key" line (its base64 may hold
        // '+' too), or the whole token.
        auto key_part = secret;
        if (secret.rfind("PRIVATE+KEY+", 0) == 0) {
            std::size_t at = 0;
            for (int plus = 0; plus < 4 && at != std::string::npos; ++plus)
                at = secret.find('+', at == 0 ? 0 : at + 1);
            REQUIRE(at != std::string::npos);
            key_part = secret.substr(at + 1);
        }
        REQUIRE(key_part.size() >= 16);
        CHECK(text.find(key_part) == std::string::npos);
        CHECK(replica_text.find(key_part) == std::string::npos);
    }
}
