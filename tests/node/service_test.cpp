// A whole node in-process: data directory, actors, HTTP API. Signs through
// /api/sign, verifies the returned bundle offline, and feeds the API bad input.
#include "leader_replica.hpp"
#include "node/service/metrics.hpp"
#include "node/service/node_tree.hpp"
#include "node/service/service.hpp"
#include "node/test_http_client.hpp"
#include "process.hpp"
#include "protocol/bundle.hpp"
#include "service_fixture.hpp"
#include "storage/ledger_store.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <sys/stat.h>
#include <thread>

using namespace civic;
using json = nlohmann::json;
using test::bhttp::verb;

using namespace civic::test::service_support;

TEST_CASE("service: register, sign, verify the bundle offline, survive a restart", "[service]") {
    node_fixture f;
    auto c = f.client();
    auto reg = c.send(verb::post, "/api/identities", R"({"identity":"town/clerk"})",
                      bearer(f.init.admin_token));
    REQUIRE(reg.result_int() == 200);
    auto token = f.token_for("town/clerk");

    const std::string document = "Minutes of the council, 26 November 2026.";
    auto signed_doc = c.send(
        verb::post, "/api/sign",
        json{{"identity", "town/clerk"}, {"content", base64_encode(byte_view(document))}}.dump(),
        bearer(token));
    REQUIRE(signed_doc.result_int() == 200);
    auto reply = json::parse(signed_doc.body());
    CHECK(reply["index"] == 1);
    CHECK(reply["inclusion_proof"].is_array());

    auto trust = policy_verifier::make(*parse_policy("log " + f.init.log_vkey + "\nquorum none\n"));
    auto verdict =
        verify_bundle(*trust, reply["proof"].get<std::string>(), sha256(byte_view(document)));
    for (const auto& check : verdict.checks)
        INFO(check.name << ": " << check.detail);
    CHECK(verdict.valid);
    CHECK_FALSE(verify_bundle(*trust, reply["proof"].get<std::string>(),
                              sha256(byte_view(std::string_view("forged"))))
                    .valid);

    // By hash, too; then the read API agrees.
    auto by_hash = c.send(verb::post, "/api/sign",
                          json{{"identity", "town/clerk"},
                               {"content_sha256", hex_encode(sha256(byte_view(document)))}}
                              .dump(),
                          bearer(token));
    REQUIRE(by_hash.result_int() == 200);
    auto entry = json::parse(c.get("/api/entries/2").body());
    CHECK(entry["identity"] == "town/clerk");
    CHECK(entry["kind"] == "statement");
    auto proof = json::parse(c.get("/api/proof/inclusion?index=1&size=3").body());
    CHECK(proof["proof"].size() == 2);
    CHECK(c.get("/api/proof/consistency?old=1&new=3").result_int() == 200);
    auto id = json::parse(c.get("/api/identities/town/clerk").body());
    CHECK(id["keys"].size() == 1);
    CHECK(json::parse(c.get("/healthz").body())["size"] == 3);

    // Restart: the node comes back on its store, its keys and its tokens.
    f.restart();
    auto again = f.client().send(verb::post, "/api/sign",
                                 json{{"identity", "town/clerk"}, {"content", "aGk="}}.dump(),
                                 bearer(token));
    REQUIRE(again.result_int() == 200);
    CHECK(json::parse(again.body())["index"] == 3);
}

TEST_CASE("service: a missing or unreadable identity key disables that identity only, and the "
          "node says which",
          "[service]") {
    node_fixture f;
    const std::vector<std::string> names{"town/ok", "town/empty", "town/torn", "town/exposed",
                                         "town/missing"};
    std::map<std::string, std::string> key_file;
    for (const auto& name : names) {
        auto reg = f.client().send(verb::post, "/api/identities", json{{"identity", name}}.dump(),
                                   bearer(f.init.admin_token));
        REQUIRE(reg.result_int() == 200);
        auto pk = hex_decode(json::parse(reg.body())["public_key"].get<std::string>());
        REQUIRE(pk);
        ed25519::public_key key{};
        std::copy(pk->begin(), pk->end(), key.begin());
        key_file[name] = f.dir / ("data/keys/" + node::identity_key_file_name(name, key));
        REQUIRE(std::filesystem::exists(key_file[name])); // durable before it was answered
    }
    f.node->stop();
    f.node.reset();
    std::filesystem::resize_file(key_file["town/empty"], 0);
    std::filesystem::resize_file(key_file["town/torn"], 30); // "PRIVATE+KEY+town/torn+..." cut
    ::chmod(key_file["town/exposed"].c_str(), 0644);
    std::filesystem::remove(key_file["town/missing"]);
    f.start(); // starts all the same

    auto status = json::parse(f.client().get("/api/status").body());
    INFO(status.dump());
    const auto& keys = status["identity_keys"];
    CHECK(keys["loaded"] == 1);
    CHECK(keys["problems"] == 4);
    std::map<std::string, std::string> disabled;
    for (const auto& d : keys["disabled"])
        disabled[d["identity"].get<std::string>()] = d["reason"].get<std::string>();
    CHECK(disabled.size() == 4);
    CHECK(disabled["town/empty"].find("unreadable") != std::string::npos);
    CHECK(disabled["town/torn"].find("unreadable") != std::string::npos);
    CHECK(disabled["town/exposed"].find("group or others") != std::string::npos);
    CHECK(disabled["town/missing"] == "its key file is missing");

    // The others cannot sign, with a message; the one whose key is fine can.
    auto sign_as = [&](const std::string& name) {
        return f.client().send(verb::post, "/api/sign",
                               json{{"identity", name}, {"content", "aGk="}}.dump(),
                               bearer(f.init.admin_token));
    };
    CHECK(sign_as("town/ok").result_int() == 200);
    for (const auto& name : {"town/empty", "town/torn", "town/exposed", "town/missing"}) {
        auto refused = sign_as(name);
        INFO(name << ": " << refused.body());
        CHECK(refused.result_int() >= 400);
        CHECK(refused.body().find("no key") != std::string::npos);
    }
    CHECK(f.client().get("/api/entries/1").result_int() == 200);
}

TEST_CASE("service: bad requests get their 4xx and the node keeps serving", "[service]") {
    node_fixture f;
    auto admin = bearer(f.init.admin_token);
    REQUIRE(f.client()
                .send(verb::post, "/api/identities", R"({"identity":"clerk"})", admin)
                .result_int() == 200);
    auto token = bearer(f.token_for("clerk"));
    REQUIRE(f.client()
                .send(verb::post, "/api/identities", R"({"identity":"retired"})", admin)
                .result_int() == 200);
    REQUIRE(f.client().send(verb::post, "/api/identities/retired/revoke", "", admin).result_int() ==
            200);
    struct bad_case {
        verb method;
        std::string target, body, auth;
        unsigned status;
        std::string error;
    };
    const bad_case cases[] = {
        {verb::post, "/api/sign", "{", token, 400, "bad_json"},
        {verb::post, "/api/sign", "[1,2]", token, 400, "bad_json"},
        {verb::post, "/api/sign", R"({"identity":5,"content":"aGk="})", token, 400, "bad_request"},
        {verb::post, "/api/sign", R"({"identity":"clerk","content":7})", token, 400, "bad_request"},
        {verb::post, "/api/sign", R"({"identity":"clerk","content":"not base64!"})", token, 400,
         "bad_base64"},
        {verb::post, "/api/sign", R"({"identity":"clerk","content_sha256":"abc"})", token, 400,
         "bad_request"},
        {verb::post, "/api/sign", R"({"identity":"clerk"})", token, 400, "bad_request"},
        {verb::post, "/api/sign", R"({"identity":"clerk","content":"aGk="})", "", 401,
         "unauthorized"},
        {verb::post, "/api/sign", R"({"identity":"clerk","content":"aGk="})", "Bearer nope", 401,
         "unauthorized"},
        {verb::post, "/api/sign", R"({"identity":"mayor","content":"aGk="})", token, 403,
         "forbidden"},
        {verb::post, "/api/sign", R"({"identity":"mayor","content":"aGk="})", admin, 422,
         "no_signing_key"},
        {verb::post, "/api/sign", std::string(5000, 'x'), token, 413, "body_too_large"},
        {verb::get, "/api/sign", "", token, 405, "method_not_allowed"},
        {verb::post, "/api/identities", R"({"identity":"x"})", token, 403, "forbidden"},
        {verb::post, "/api/identities", R"({"identity":"Bad Name"})", admin, 422,
         "invalid_identity"},
        {verb::post, "/api/identities", R"({"identity":"clerk"})", admin, 422, "identity_exists"},
        {verb::get, "/api/entries/99999999999", "", "", 404, "not_found"},
        {verb::get, "/api/entries/-1", "", "", 400, "bad_index"},
        {verb::get, "/api/entries/184467440737095516160", "", "", 400, "bad_index"},
        {verb::get, "/api/proof/inclusion?index=5&size=1", "", "", 422, "out_of_range"},
        {verb::get, "/api/proof/inclusion?index=x", "", "", 400, "bad_request"},
        {verb::get, "/api/proof/consistency?old=0&new=1", "", "", 422, "out_of_range"},
        {verb::get, "/tile/0/0001", "", "", 400, "bad_tile_path"},
        {verb::get, "/tile/99/000", "", "", 400, "bad_tile_path"},
        {verb::get, "/tile/0/005", "", "", 404, "not_found"},
        {verb::get, "/api/identities/nobody", "", "", 404, "not_found"},
        {verb::get, "/nothing/here", "", "", 404, "not_found"},
        {verb::post, "/api/sign", R"({"identity":"retired","content":"aGk="})", admin, 422,
         "no_signing_key"},
        {verb::post, "/api/identities/retired/revoke", "", admin, 422, "retired"},
        {verb::post, "/api/identities/retired/revoke", "[", admin, 400, "bad_json"},
        {verb::post, "/api/identities/nobody/rotate", "", admin, 404, "not_found"},
        {verb::post, "/api/identities/clerk/rotate", "", token, 403, "forbidden"},
        {verb::post, "/api/verify", "{", "", 400, "bad_json"},
        {verb::post, "/api/verify", R"({"proof":"x","content_sha256":"00"})", "", 400,
         "bad_request"},
        {verb::get, "/api/identities?limit=100000", "", "", 400, "bad_request"},
        {verb::put, "/api/identities", "", admin, 405, "method_not_allowed"},
        {verb::post, "/metrics", "", "", 405, "method_not_allowed"},
    };
    for (const auto& bc : cases) {
        INFO(bc.target << " " << bc.body.substr(0, 60));
        auto res = f.client().send(bc.method, bc.target, bc.body, bc.auth);
        CHECK(res.result_int() == bc.status);
        auto body = json::parse(res.body(), nullptr, false);
        REQUIRE_FALSE(body.is_discarded());
        CHECK(body["error"] == bc.error);
        CHECK(body["message"].is_string());
    }
    // A slow client (headers, then a body that never comes) gets a 408.
    {
        boost::asio::io_context ioc;
        boost::asio::ip::tcp::socket raw(ioc);
        raw.connect({boost::asio::ip::make_address("127.0.0.1"), f.node->http_port()});
        std::string partial = "POST /api/sign HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{";
        boost::asio::write(raw, boost::asio::buffer(partial));
        boost::beast::flat_buffer buf;
        boost::beast::http::response<boost::beast::http::string_body> res;
        boost::beast::http::read(raw, buf, res);
        CHECK(res.result_int() == 408);
    }
    // Still up and correct.
    auto ok =
        f.client().send(verb::post, "/api/sign", R"({"identity":"clerk","content":"aGk="})", token);
    CHECK(ok.result_int() == 200);
    CHECK(json::parse(f.client().get("/healthz").body())["size"] ==
          4); // 3 registry entries, 1 statement
}

TEST_CASE("service: refuses to start on a data directory it cannot trust", "[service]") {
    test::temp_dir dir("service-refuse");
    node::service_options options;
    options.data_dir = dir / "missing";
    CHECK_FALSE(node::service::start(options).ok());
    REQUIRE(node::init_data_dir(dir / "data", "refuse.test/log").ok());
    CHECK_FALSE(
        node::init_data_dir(dir / "data", "refuse.test/log").ok()); // never over an existing one
    // A log key that is not the one the checkpoints were signed with.
    options.data_dir = dir / "data";
    {
        auto started = node::service::start(options);
        REQUIRE(started.ok());
        auto admin = test::read_file(dir / "data/admin.token");
        admin.pop_back();
        REQUIRE(test::client((*started)->http_port())
                    .send(verb::post, "/api/identities", R"({"identity":"x"})", "Bearer " + admin)
                    .result_int() == 200);
    }
    std::filesystem::remove(dir / "data/log.key");
    auto other = ed25519::secret_key::generate();
    std::ofstream(dir / "data/log.key")
        << note::format_signer_key("refuse.test/log", note::type_ed25519, other) << "\n";
    ::chmod((dir / "data/log.key").c_str(), 0600);
    auto refused = node::service::start(options);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.message().find("refusing to start") != std::string::npos);
}

TEST_CASE(
    "service: identities rotate, revoke and list over HTTP and keep their keys across restarts",
    "[service]") {
    node_fixture f;
    auto admin = bearer(f.init.admin_token);
    auto c = f.client();
    for (const char* name : {"a/clerk", "b/mayor", "c/board"})
        REQUIRE(c.send(verb::post, "/api/identities", json{{"identity", name}}.dump(), admin)
                    .result_int() == 200);
    auto sign = [&](const std::string& name, const std::string& text) {
        return f.client().send(
            verb::post, "/api/sign",
            json{{"identity", name}, {"content", base64_encode(byte_view(text))}}.dump(), admin);
    };
    auto first = json::parse(sign("a/clerk", "before").body());

    auto rotated = c.send(verb::post, "/api/identities/a/clerk/rotate", "", admin);
    REQUIRE(rotated.result_int() == 200);
    auto rotation = json::parse(rotated.body());
    CHECK(rotation["previous_key"] != rotation["public_key"]);
    CHECK(c.send(verb::post, "/api/identities/a/clerk/rotate", "", bearer(f.token_for("a/clerk")))
              .result_int() == 403);
    CHECK(c.send(verb::post, "/api/identities/nobody/rotate", "", admin).result_int() == 404);

    // After a restart the signer holds the new key, not the old one.
    f.restart();
    auto after = sign("a/clerk", "after");
    REQUIRE(after.result_int() == 200);
    auto after_entry = json::parse(
        f.client()
            .get("/api/entries/" + std::to_string(json::parse(after.body())["index"].get<int>()))
            .body());
    CHECK(after_entry["public_key"] == rotation["public_key"]);
    // Only the current key's file is left.
    std::size_t key_files = 0;
    for (const auto& file : std::filesystem::directory_iterator(f.dir / "data/keys"))
        key_files += file.path().extension() == ".key";
    CHECK(key_files == 3);

    // Revoking the current key retires the identity; signing for it is refused.
    auto revoked = f.client().send(verb::post, "/api/identities/b/mayor/revoke", "", admin);
    REQUIRE(revoked.result_int() == 200);
    CHECK(json::parse(revoked.body())["retired"] == true);
    auto refused = sign("b/mayor", "too late");
    CHECK(refused.result_int() == 422);
    CHECK(json::parse(refused.body())["error"] == "no_signing_key");
    CHECK(f.client().send(verb::post, "/api/identities/b/mayor/revoke", "", admin).result_int() ==
          422);
    // Revoking the rotated-out key of a/clerk keeps a/clerk signing.
    auto old_key = rotation["previous_key"].get<std::string>();
    auto revoke_old = f.client().send(verb::post, "/api/identities/a/clerk/revoke",
                                      json{{"public_key", old_key}}.dump(), admin);
    REQUIRE(revoke_old.result_int() == 200);
    CHECK(json::parse(revoke_old.body())["retired"] == false);
    CHECK(sign("a/clerk", "still here").result_int() == 200);
    CHECK(f.client()
              .send(verb::post, "/api/identities/a/clerk/revoke", R"({"public_key":"zz"})", admin)
              .result_int() == 400);

    // The registry as the ledger recorded it, paged.
    auto page = json::parse(f.client().get("/api/identities?limit=2").body());
    REQUIRE(page["identities"].size() == 2);
    CHECK(page["identities"][0]["identity"] == "a/clerk");
    CHECK(page["identities"][0]["keys"].size() == 2);
    CHECK(page["identities"][0]["keys"][0]["revoked"] == true);
    CHECK(page["identities"][1]["retired"] == true);
    CHECK(page["next"] == "b/mayor");
    auto rest = json::parse(f.client().get("/api/identities?after=b/mayor").body());
    REQUIRE(rest["identities"].size() == 1);
    CHECK(rest["identities"][0]["identity"] == "c/board");
    CHECK_FALSE(rest.contains("next"));
    CHECK(f.client().get("/api/identities?limit=0").result_int() == 400);
    // The statement signed before the rotation stays valid at its index.
    CHECK(first["index"] == 3);
}

namespace {
json verify_request(test::client& c, const std::string& proof, const std::string& content) {
    auto res =
        c.send(verb::post, "/api/verify",
               json{{"proof", proof}, {"content", base64_encode(byte_view(content))}}.dump());
    REQUIRE(res.result_int() == 200);
    return json::parse(res.body());
}

bool check_passed(const json& verdict, const std::string& name) {
    for (const auto& c : verdict["checks"])
        if (c["name"] == name) return c["passed"].get<bool>();
    FAIL("no check named " << name << " in " << verdict.dump());
    return false;
}
} // namespace

TEST_CASE("service: /api/verify checks a proof offline and against the ledger's registry",
          "[service][verify]") {
    node_fixture f;
    f.node->stop();
    f.node.reset();
    node::service_options options;
    options.data_dir = f.dir / "data";
    options.http.max_body = 64 * 1024;
    f.node = std::move(*node::service::start(options));
    auto admin = bearer(f.init.admin_token);
    auto c = f.client();
    REQUIRE(c.send(verb::post, "/api/identities", R"({"identity":"clerk"})", admin).result_int() ==
            200);
    auto sign = [&](const std::string& text) {
        auto res = f.client().send(
            verb::post, "/api/sign",
            json{{"identity", "clerk"}, {"content", base64_encode(byte_view(text))}}.dump(), admin);
        REQUIRE(res.result_int() == 200);
        return json::parse(res.body())["proof"].get<std::string>();
    };
    auto before = sign("signed before the rotation");

    auto good = verify_request(c, before, "signed before the rotation");
    INFO(good.dump());
    CHECK(good["valid"] == true);
    CHECK(good["identity"] == "clerk");
    for (const char* name : {"entry", "entry-signature", "content", "checkpoint-signature",
                             "inclusion", "ledger-entry", "ledger-checkpoint", "identity-key"})
        CHECK(check_passed(good, name));
    auto wrong_content = verify_request(c, before, "something else");
    CHECK(wrong_content["valid"] == false);
    CHECK_FALSE(check_passed(wrong_content, "content"));

    // Rotating, then revoking the old key, leaves the statement valid at its index,
    // with the later revocation named.
    REQUIRE(c.send(verb::post, "/api/identities/clerk/rotate", "", admin).result_int() == 200);
    auto old_key = json::parse(c.get("/api/identities/clerk").body())["keys"][0]["public_key"];
    REQUIRE(c.send(verb::post, "/api/identities/clerk/revoke", json{{"public_key", old_key}}.dump(),
                   admin)
                .result_int() == 200);
    auto after_revocation = verify_request(c, before, "signed before the rotation");
    CHECK(after_revocation["valid"] == true);
    CHECK(after_revocation.dump().find("revoked later") != std::string::npos);
    CHECK(verify_request(c, sign("after"), "after")["valid"] == true);

    // A proof from another log with the same origin fails its checkpoint signature,
    // and this log's ledger does not hold its entry.
    node_fixture other;
    auto other_admin = bearer(other.init.admin_token);
    auto oc = other.client();
    REQUIRE(oc.send(verb::post, "/api/identities", R"({"identity":"clerk"})", other_admin)
                .result_int() == 200);
    auto foreign =
        json::parse(oc.send(verb::post, "/api/sign",
                            json{{"identity", "clerk"}, {"content", "aGk="}}.dump(), other_admin)
                        .body())["proof"]
            .get<std::string>();
    auto rejected = verify_request(c, foreign, "hi");
    CHECK(rejected["valid"] == false);
    CHECK_FALSE(check_passed(rejected, "checkpoint-signature"));

    // Broken proofs are a verdict, not an error; broken requests are a 400.
    CHECK(verify_request(c, "not a proof", "x")["valid"] == false);
    for (const char* bad : {"{", R"({"content":"aGk="})", R"({"proof":"x"})",
                            R"({"proof":"x","content":"!!"})", R"({"proof":5,"content":"aGk="})"}) {
        INFO(bad);
        auto res = c.send(verb::post, "/api/verify", bad);
        CHECK(res.result_int() == 400);
    }
}

TEST_CASE("service: /metrics counts requests by endpoint and reports batches and tree size",
          "[service][metrics]") {
    CHECK(node::endpoint_of("/api/entries/12") == "/api/entries");
    CHECK(node::endpoint_of("/api/identities/a/b/rotate") == "/api/identities");
    CHECK(node::endpoint_of("/tile/entries/000.p/3") == "/tile/entries");
    CHECK(node::endpoint_of("/tile/0/001") == "/tile");
    CHECK(node::endpoint_of("/api/signature") == "other");
    CHECK(node::endpoint_of("/api/sign?x") == "/api/sign");

    node_fixture f;
    auto admin = bearer(f.init.admin_token);
    auto c = f.client();
    REQUIRE(c.send(verb::post, "/api/identities", R"({"identity":"clerk"})", admin).result_int() ==
            200);
    for (int i = 0; i < 3; ++i)
        REQUIRE(c.send(verb::post, "/api/sign", R"({"identity":"clerk","content":"aGk="})", admin)
                    .result_int() == 200);
    CHECK(c.get("/api/entries/999").result_int() == 404);
    auto res = c.get("/metrics");
    REQUIRE(res.result_int() == 200);
    CHECK(std::string(res[boost::beast::http::field::content_type]).rfind("text/plain", 0) == 0);
    auto text = res.body();
    INFO(text);
    auto has = [&](const std::string& line) { return text.find(line) != std::string::npos; };
    CHECK(has("civic_http_requests_total{code=\"200\",endpoint=\"/api/sign\"} 3"));
    CHECK(has("civic_http_requests_total{code=\"404\",endpoint=\"/api/entries\"} 1"));
    CHECK(has("civic_http_request_duration_seconds_count{endpoint=\"/api/sign\"} 3"));
    CHECK(has("civic_ledger_tree_size 4"));
    CHECK(has("civic_ledger_entries_committed_total 4"));
    CHECK(has("civic_ledger_batch_entries_count"));
    CHECK(has("civic_ledger_commit_duration_seconds_bucket"));
}

namespace {

bytes owner_signed(entry_kind kind, const std::string& identity, const ed25519::secret_key& key,
                   const std::string& content = "") {
    entry e;
    e.kind = kind;
    e.timestamp_ms =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    e.identity = identity;
    e.public_key = key.public_key_bytes();
    if (kind == entry_kind::identity_registration)
        e.payload.assign(owner_held_marker.begin(), owner_held_marker.end());
    if (kind == entry_kind::statement) e.content_hash = sha256(byte_view(content));
    e.sign(key);
    return e.encode();
}

std::string submission(const bytes& raw) { return json{{"entry", base64_encode(raw)}}.dump(); }

} // namespace

TEST_CASE("service: an owner's signed entries submitted to a replica are forwarded, authorised "
          "by the leader, and paged per identity with proofs",
          "[service][owner]") {
    test::temp_dir dir("service-owner");
    test::leader_and_replica net(dir.path, "service.test/log",
                                 [](node::service_options& o) { o.ledger.replica_acks = 1; });
    auto admin = bearer(net.made.admin_token);
    auto key = test::key_for("owner:town/clerk");
    auto rc = test::client(net.replica->http_port());
    // Forwarded once the replica has joined (503 before); the leader checks the token.
    auto registration = owner_signed(entry_kind::identity_registration, "town/clerk", key);
    unsigned status = 0;
    for (int attempt = 0; attempt < 100 && status != 200; ++attempt) {
        status = rc.send(verb::post, "/api/submit", submission(registration), admin).result_int();
        if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(status == 200);
    auto clerk_token = node::make_token();
    {
        auto store = storage::ledger_store::open({dir / "leader/ledger"});
        REQUIRE(store.ok());
        REQUIRE((*store)
                    ->put_token(sha256(byte_view(clerk_token)), {"clerk", false, {"town/clerk"}})
                    .ok());
    }
    auto clerk = bearer(clerk_token);
    // Only the admin registers; the clerk's token may submit the clerk's statements.
    auto another = owner_signed(entry_kind::identity_registration, "town/other", key);
    CHECK(rc.send(verb::post, "/api/submit", submission(another), clerk).result_int() == 403);
    CHECK(rc.send(verb::post, "/api/submit", submission(another), bearer("unknown-token"))
              .result_int() == 401);
    for (int i = 0; i < 3; ++i) {
        auto said = owner_signed(entry_kind::statement, "town/clerk", key, std::to_string(i));
        auto r = rc.send(verb::post, "/api/submit", submission(said), clerk);
        INFO(r.body());
        REQUIRE(r.result_int() == 200);
        CHECK(json::parse(r.body())["index"] == i + 1);
    }
    // The replica knows the identity as owner-held, and will not have it signed.
    auto shown = json::parse(rc.get("/api/identities/town/clerk").body());
    CHECK(shown["kind"] == "owner-held");
    auto refused =
        rc.send(verb::post, "/api/sign", R"({"identity":"town/clerk","content":"aGk="})", clerk);
    CHECK(refused.result_int() == 422);
    CHECK(json::parse(refused.body())["error"] == "owner_held");
    // Its entries, paged, each proven against the checkpoint the replica serves.
    auto page = json::parse(rc.get("/api/identities/town/clerk/entries?limit=2").body());
    REQUIRE(page["entries"].size() == 2);
    CHECK(page["next"] == 1);
    auto rest = json::parse(rc.get("/api/identities/town/clerk/entries?after=1").body());
    REQUIRE(rest["entries"].size() == 2);
    auto cp = parse_signed_checkpoint(rest["checkpoint"].get<std::string>());
    REQUIRE(cp.ok());
    for (const auto& e : rest["entries"]) {
        auto raw = base64_decode(e["entry"].get<std::string>());
        REQUIRE(raw.ok());
        std::vector<hash> proof;
        for (const auto& h : e["inclusion_proof"]) {
            auto decoded = base64_decode(h.get<std::string>());
            REQUIRE(decoded->size() == 32);
            proof.emplace_back();
            std::copy(decoded->begin(), decoded->end(), proof.back().begin());
        }
        CHECK(merkle::verify_inclusion(e["index"].get<std::uint64_t>(), cp->body.size,
                                       merkle::leaf_hash(*raw), proof, cp->body.root)
                  .ok());
    }
    CHECK(rest["entries"][1]["index"] == 3);
    net.replica->stop();
    net.leader->stop();
}
