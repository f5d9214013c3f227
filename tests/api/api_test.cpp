// The HTTP API's routes and handlers against a fake node (fake_operations.hpp):
// no actor system, no store, no sockets.
#include "fake_operations.hpp"
#include "node/api/node_api.hpp"
#include "node/http/target.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "protocol/merkle.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace civic;
using json = nlohmann::json;
using node::api::checkpoint_source;

namespace {

const std::string origin = "api.test/log";

/// A request answered; `answered` says whether it was (some answer later).
struct exchange {
    bool answered = false;
    node::http_response response;
    json body() const { return json::parse(response.body, nullptr, false); }
    std::string header(const std::string& name) const {
        for (const auto& [k, v] : response.headers)
            if (k == name) return v;
        return {};
    }
};

std::shared_ptr<exchange> ask(node::api::node_api& api, const std::string& method,
                              const std::string& target, std::string body = {},
                              std::string authorization = {}) {
    auto out = std::make_shared<exchange>();
    node::http_request req{method, target, std::move(body), std::move(authorization)};
    api.handle(req, [out](node::http_response r) {
        out->answered = true;
        out->response = std::move(r);
    });
    return out;
}

/// A leader's facts; tests change what they need.
node::api::node_facts leader_facts() {
    node::api::node_facts f;
    f.node_name = "n1";
    f.holds_ledger = true;
    f.leading = true;
    f.witnessed_wait = std::chrono::milliseconds(1000);
    return f;
}

/// A statement entry of `identity`, signed by its test key.
bytes statement(const std::string& identity, int n) {
    entry e;
    e.kind = entry_kind::statement;
    e.timestamp_ms = 1000 + static_cast<std::uint64_t>(n);
    e.identity = identity;
    auto key = test::key_for("identity:" + identity);
    e.public_key = key.public_key_bytes();
    e.content_hash = sha256(byte_view(std::to_string(n)));
    e.sign(key);
    return e.encode();
}

std::string bearer(const std::string& token) { return "Bearer " + token; }

hash token_hash(const std::string& token) { return sha256(byte_view(token)); }

std::vector<hash> decode_proof(const json& list) {
    std::vector<hash> out;
    for (const auto& h : list) {
        auto decoded = base64_decode(h.get<std::string>());
        REQUIRE(decoded.ok());
        REQUIRE(decoded->size() == 32);
        hash x{};
        std::copy(decoded->begin(), decoded->end(), x.begin());
        out.push_back(x);
    }
    return out;
}

actors::append_receipt receipt_for(test::fake_operations& node, std::uint64_t index) {
    return {index, node.sign_checkpoint(origin), {}, node.entries[index]};
}

} // namespace

TEST_CASE("request targets: strict percent-decoding, refusals named", "[api][target]") {
    auto t = node::parse_target("/api/identities/town%2Dclerk?after=a%20b&limit=5+1");
    REQUIRE(t.ok());
    CHECK(t->path == "/api/identities/town-clerk"); // unreserved: decoded
    CHECK(t->param("after") == "a b");
    CHECK(t->param("limit") == "5 1");
    CHECK(!t->param("none"));
    // A '/' sent escaped stays escaped: the path has only the slashes the client sent.
    CHECK(node::parse_target("/api/identities/a%2Fb")->path == "/api/identities/a%2Fb");
    CHECK(node::parse_target("/x?a=1&&b=2&")->query.size() == 2);
    CHECK(!node::parse_target("x"));
    CHECK(!node::parse_target(""));
    CHECK(!node::parse_target("/bad%2"));
    CHECK(!node::parse_target("/bad%zz"));
    CHECK(node::parse_target("/nul%00")->path == "/nul%00"); // escaped, so kept escaped
    CHECK(!node::parse_target(std::string("/raw\x01")));
    CHECK(!node::parse_target("/q?a=%0a"));
    CHECK(node::parse_target("/q?a=1&a=2").message().find("given twice") != std::string::npos);
    std::string many = "/q?";
    for (int i = 0; i <= 16; ++i)
        many += "p" + std::to_string(i) + "=1&";
    CHECK(node::parse_target(many).message().find("more than 16") != std::string::npos);
}

TEST_CASE("routes: 404, 405 with Allow, 400 for a bad target, patterns with slashes",
          "[api][routes]") {
    test::fake_operations node;
    node.node_facts = leader_facts();
    node::api::node_api api(node);

    auto missing = ask(api, "GET", "/api/nothing");
    CHECK(missing->response.status == 404);
    CHECK(missing->body()["error"] == "not_found");
    CHECK(missing->body()["message"] == "no such endpoint: /api/nothing");

    auto wrong = ask(api, "DELETE", "/api/identities");
    CHECK(wrong->response.status == 405);
    CHECK(wrong->header("Allow") == "POST, GET");
    CHECK(wrong->body()["message"] == "use POST or GET");
    CHECK(ask(api, "POST", "/checkpoint")->header("Allow") == "GET");

    auto bad = ask(api, "GET", "/api/proof/inclusion?index=1&index=2");
    CHECK(bad->response.status == 400);
    CHECK(bad->body()["error"] == "bad_target");

    // An identity name with slashes reaches the handler whole.
    storage::identity_record rec;
    rec.name = "town/clerk";
    node.identities["town/clerk"] = rec;
    auto shown = ask(api, "GET", "/api/identities/town/clerk");
    CHECK(shown->response.status == 200);
    CHECK(shown->body()["identity"] == "town/clerk");
    // .../rotate is a POST; GET of it names an identity "town/clerk/rotate".
    CHECK(ask(api, "GET", "/api/identities/town/clerk/rotate")->response.status == 404);
    CHECK(ask(api, "GET", "/api/identities/")->response.status == 404);

    // A node that is only a witness has only a witness's routes.
    test::fake_operations witness_node;
    witness_node.node_facts.node_name = "w1";
    witness_node.node_facts.witness = true;
    node::api::node_api witness_api(witness_node);
    auto sign = ask(witness_api, "POST", "/api/sign", "{}");
    CHECK(sign->response.status == 404);
    CHECK(sign->body()["message"] == "no such endpoint on a witness: /api/sign");
    CHECK(ask(witness_api, "GET", "/healthz")->body() == json{{"status", "ok"}});
    CHECK(ask(witness_api, "GET", "/metrics")->response.body == "civic_up 1\n");
}

TEST_CASE("witness: a 429 and a 503 say when to ask again and monitoring serves the cosigned "
          "checkpoint by the origin's hash (404 for another)",
          "[api][witness]") {
    for (bool holds_ledger : {false, true}) {
        test::fake_operations node;
        node.node_facts.node_name = "w1";
        node.node_facts.witness = true;
        node.node_facts.holds_ledger = holds_ledger;
        node::api::node_api api(node);
        const std::string body =
            "old 0\n\n" + origin + "\n1\n" + base64_encode(hash{}) + "\n\n\xe2\x80\x94 x AAAA\n";
        node.cosign = actors::cosign_answer{429, false, "beyond its qpd\n", 1800};
        auto limited = ask(api, "POST", "/add-checkpoint", body);
        CHECK(limited->response.status == 429);
        CHECK(limited->header("Retry-After") == "1800");
        CHECK(limited->body()["error"] == "rate_limited");
        CHECK(limited->body()["message"] == "beyond its qpd");
        node.cosign = actors::cosign_answer{503, false, "disk full\n", 0};
        CHECK(ask(api, "POST", "/add-checkpoint", body)->header("Retry-After") == "1");

        auto hash_hex = hex_encode(sha256(byte_view(std::string_view(origin))));
        node.cosigned = "the note\n";
        auto served = ask(api, "GET", "/" + hash_hex + "/checkpoint");
        CHECK(served->response.status == 200);
        CHECK(served->response.body == "the note\n");
        CHECK(served->response.content_type.find("text/plain") == 0);
        REQUIRE(node.asked_cosigned.size() == 1);
        CHECK(node.asked_cosigned[0] == hash_hex);
        node.cosigned.reset();
        node.refusal = {static_cast<std::uint8_t>(actors::errc::no_checkpoint), "never cosigned"};
        auto never = ask(api, "GET", "/" + hash_hex + "/checkpoint");
        CHECK(never->response.status == 404);
        CHECK(never->body()["error"] == "not_found");
        // Not a lowercase hex SHA-256: 404 without asking the witness.
        for (const std::string& bad :
             {"/" + hash_hex.substr(1) + "/checkpoint",
              "/ABCDEF" + hash_hex.substr(6) + "/checkpoint", "/a/" + hash_hex + "/checkpoint"})
            CHECK(ask(api, "GET", bad)->response.status == 404);
        CHECK(node.asked_cosigned.size() == 2);
        if (holds_ledger) CHECK(ask(api, "GET", "/checkpoint")->answered);
    }
}

TEST_CASE("sign: tokens, refusals before any ask, forwarding from a replica", "[api][sign]") {
    test::fake_operations node;
    node.node_facts = leader_facts();
    node.append(statement("clerk", 0));
    node.tokens[token_hash("clerk-token")] = {"clerk", false, {"clerk"}};
    node::api::node_api api(node);
    const std::string body =
        R"({"identity":"clerk","content_sha256":")" + std::string(64, 'a') + R"("})";

    CHECK(ask(api, "POST", "/api/sign", body)->response.status == 401);
    CHECK(ask(api, "POST", "/api/sign", body, bearer("unknown"))->response.status == 401);
    auto other = ask(api, "POST", "/api/sign",
                     R"({"identity":"mayor","content_sha256":")" + std::string(64, 'a') + R"("})",
                     bearer("clerk-token"));
    CHECK(other->response.status == 403);
    CHECK(ask(api, "POST", "/api/sign", "[]", bearer("clerk-token"))->body()["error"] ==
          "bad_json");
    CHECK(ask(api, "POST", "/api/sign", R"({"identity":"clerk"})", bearer("clerk-token"))
              ->response.status == 400);
    auto witnessed =
        ask(api, "POST", "/api/sign", R"({"identity":"clerk","witnessed":true,"content":"eA=="})",
            bearer("clerk-token"));
    CHECK(witnessed->body()["message"] == "this network has no witnesses: leave 'witnessed' out");
    node.read_only = "no space left";
    auto refused = ask(api, "POST", "/api/sign", body, bearer("clerk-token"));
    CHECK(refused->response.status == 503);
    CHECK(refused->header("Retry-After") == "5");
    CHECK(node.signed_requests.empty()); // nothing reached the node's actors
    node.read_only.reset();

    // Refused by the ledger: its code decides the status.
    node.refusal = {static_cast<std::uint8_t>(actors::errc::overloaded), "queue full"};
    auto busy = ask(api, "POST", "/api/sign", body, bearer("clerk-token"));
    CHECK(busy->response.status == 429);
    CHECK(busy->header("Retry-After") == "1");
    node.refusal = {0, "request_timeout"}; // CAF's own: 503
    CHECK(ask(api, "POST", "/api/sign", body, bearer("clerk-token"))->response.status == 503);

    node.receipt = receipt_for(node, 0);
    auto ok = ask(api, "POST", "/api/sign", body, bearer("clerk-token"));
    REQUIRE(ok->response.status == 200);
    auto answer = ok->body();
    CHECK(answer["index"] == 0);
    CHECK(answer["checkpoint"] == node.receipt->checkpoint);
    CHECK(!answer.contains("quorum"));
    REQUIRE(node.signed_requests.size() == 3);
    CHECK(node.signed_requests.back().identity == "clerk");
    CHECK(node.signed_requests.back().content_sha256 == bytes(32, 0xaa));
    CHECK(!node.forwarded_tokens.back()); // the leader checked the token itself

    // A replica checks no token: it forwards the token's hash for the leader to check.
    test::fake_operations replica;
    replica.node_facts = leader_facts();
    replica.node_facts.leading = false;
    replica.append(statement("clerk", 0));
    replica.receipt = receipt_for(replica, 0);
    node::api::node_api replica_api(replica);
    CHECK(ask(replica_api, "POST", "/api/sign", body, bearer("anything"))->response.status == 200);
    REQUIRE(replica.forwarded_tokens.size() == 1);
    CHECK(replica.forwarded_tokens[0] == token_hash("anything"));
    CHECK(ask(replica_api, "POST", "/api/sign", body)->response.status == 401);
}

namespace {

/// A leader whose collector answers witnessed polls, with the clerk's entry 0
/// and an admin token "t".
void collecting_leader(test::fake_operations& node) {
    node.node_facts = leader_facts();
    node.node_facts.collecting = true;
    node.append(statement("clerk", 0));
    node.tokens[token_hash("t")] = {"admin", true, {}};
    node.receipt = receipt_for(node, 0);
}

} // namespace

namespace {

/// The collector answers the one held poll with a checkpoint that meets the
/// quorum; returns it.
std::string answer_held_poll(test::fake_operations& node) {
    auto witnessed = node.sign_checkpoint(origin);
    node.quorum_checkpoints.insert(witnessed);
    REQUIRE(node.awaits.size() == 1);
    auto held = std::move(node.awaits[0]);
    node.awaits.clear();
    held.done(witnessed);
    return witnessed;
}

} // namespace

TEST_CASE("witnessed answers: one held poll for all who wait, answered at the quorum",
          "[api][witnessed]") {
    test::fake_operations node;
    collecting_leader(node);
    node::api::node_api api(node);
    const std::string body = R"({"identity":"clerk","witnessed":true,"content":"eA=="})";

    std::vector<std::shared_ptr<exchange>> waiting;
    for (int i = 0; i < 16; ++i)
        waiting.push_back(ask(api, "POST", "/api/sign", body, bearer("t")));
    // Each carried its flag to the ledger (a round at its commit); the first
    // started the one poll, which the collector holds: all wait.
    REQUIRE(node.signed_requests.size() == 16);
    for (const auto& r : node.signed_requests)
        CHECK(r.witnessed);
    REQUIRE(node.awaits.size() == 1);
    CHECK(node.awaits[0].size == 1);
    // Held until the first deadline (1 s here), at most a second.
    CHECK(node.awaits[0].max_wait == std::chrono::milliseconds(1000));
    CHECK(node.checkpoint_asks.empty());
    CHECK(api.witnessed_waiting() == 16);
    for (const auto& w : waiting)
        CHECK(!w->answered);

    // The collector answers at the quorum: every waiter at once, no 100 ms poll.
    auto witnessed = answer_held_poll(node);
    for (const auto& w : waiting) {
        REQUIRE(w->answered);
        CHECK(w->response.status == 200);
        CHECK(w->body()["quorum"] == true);
        CHECK(w->body()["checkpoint"] == witnessed);
    }
    CHECK(api.witnessed_waiting() == 0);
    CHECK(node.awaits.empty()); // nobody left: no new poll
    CHECK(node.scheduled.empty());
}

TEST_CASE("witnessed answers: the log-signed answer at the deadline, no spinning on failures",
          "[api][witnessed]") {
    test::fake_operations node;
    collecting_leader(node);
    node::api::node_api api(node);
    auto w = ask(api, "POST", "/api/sign",
                 R"({"identity":"clerk","witnessed":true,"content":"eA=="})", bearer("t"));
    REQUIRE(node.awaits.size() == 1);
    // A failed poll answers nobody: the next waits 100 ms rather than spin.
    auto first = std::move(node.awaits[0]);
    node.awaits.clear();
    first.failed({static_cast<std::uint8_t>(actors::errc::unavailable), "collector gone"});
    CHECK(!w->answered);
    CHECK(node.awaits.empty());
    REQUIRE(node.scheduled.size() == 1);
    CHECK(node.scheduled[0].first == std::chrono::milliseconds(100));
    // A held poll that times out with a checkpoint short of the quorum: the
    // waiter is answered with it once its deadline passed, marked.
    int polls = 0;
    while (!w->answered && polls < 100) {
        node.run_scheduled();
        if (node.awaits.empty()) break;
        auto held = std::move(node.awaits.back());
        node.awaits.clear();
        // What is left of the deadline after the 100 ms pause, and a bit.
        CHECK(held.max_wait == std::chrono::milliseconds(901));
        node.clock += held.max_wait;
        ++polls;
        held.done(node.sign_checkpoint(origin)); // no quorum
    }
    REQUIRE(w->answered);
    CHECK(polls == 1); // held until the deadline, not polled every 100 ms
    CHECK(w->response.status == 200);
    CHECK(w->body()["quorum"] == false);
    CHECK(w->body()["index"] == 0);
    CHECK(api.witnessed_waiting() == 0);
}

TEST_CASE("proofs and bundles: checked against the verified tree, best checkpoint first",
          "[api][proofs]") {
    test::fake_operations node;
    node.node_facts = leader_facts();
    node.node_facts.leading = false; // a replica: bundles against what gossip brought
    for (int i = 0; i < 9; ++i)
        node.append(statement("clerk", i));
    auto root = node.tree.root();
    node.latest = node.sign_checkpoint(origin);
    node::api::node_api api(node);

    auto inclusion = ask(api, "GET", "/api/proof/inclusion?index=3&size=9");
    REQUIRE(inclusion->response.status == 200);
    auto path = decode_proof(inclusion->body()["proof"]);
    CHECK(merkle::verify_inclusion(3, 9, merkle::leaf_hash(node.entries[3]), path, root).ok());
    CHECK(ask(api, "GET", "/api/proof/inclusion?index=9&size=9")->response.status == 422);
    CHECK(ask(api, "GET", "/api/proof/inclusion?index=x&size=9")->response.status == 400);
    CHECK(ask(api, "GET", "/api/proof/inclusion?size=9")->response.status == 400);

    auto consistency = ask(api, "GET", "/api/proof/consistency?old=4&new=9");
    REQUIRE(consistency->response.status == 200);
    tiles::memory_tiles first_four;
    for (int i = 0; i < 4; ++i)
        first_four.append(merkle::leaf_hash(node.entries[static_cast<std::size_t>(i)]));
    CHECK(merkle::verify_consistency(4, 9, decode_proof(consistency->body()["proof"]),
                                     first_four.root(), root)
              .ok());
    CHECK(ask(api, "GET", "/api/proof/consistency?old=0&new=9")->response.status == 422);

    auto shown = ask(api, "GET", "/api/entries/2");
    CHECK(shown->body()["kind"] == "statement");
    CHECK(shown->body()["identity"] == "clerk");
    CHECK(ask(api, "GET", "/api/entries/9")->response.status == 404);
    CHECK(ask(api, "GET", "/api/entries/-1")->body()["error"] == "bad_index");

    // No gossiped checkpoint: the bundle is against the store's latest.
    auto bundle = ask(api, "GET", "/api/bundle/5");
    REQUIRE(bundle->response.status == 200);
    CHECK(bundle->body()["size"] == 9);
    CHECK(bundle->body()["quorum"] == false);
    CHECK(node.checkpoint_asks == std::vector<checkpoint_source>{checkpoint_source::gossiped});
    auto bundle_path = decode_proof(bundle->body()["inclusion_proof"]);
    CHECK(
        merkle::verify_inclusion(5, 9, merkle::leaf_hash(node.entries[5]), bundle_path, root).ok());
    // A checkpoint that is not this log's tree is passed over.
    node.checkpoints[checkpoint_source::gossiped] = "not a checkpoint";
    CHECK(ask(api, "GET", "/api/bundle/5")->body()["size"] == 9);
    CHECK(ask(api, "GET", "/api/bundle/9")->response.status == 404);
    node.latest.reset();
    CHECK(ask(api, "GET", "/api/bundle/5")->body()["message"] == "no checkpoint yet");
    CHECK(node.damage.empty());
}

TEST_CASE("identities: only the admin, only on the leader, and a failed change leaves no key",
          "[api][identities]") {
    test::fake_operations node;
    node.node_facts = leader_facts();
    node.tokens[token_hash("admin")] = {"admin", true, {}};
    node.tokens[token_hash("clerk")] = {"clerk", false, {"clerk"}};
    node::api::node_api api(node);

    const std::string body = R"({"identity":"town/clerk"})";
    CHECK(ask(api, "POST", "/api/identities", body)->response.status == 401);
    CHECK(ask(api, "POST", "/api/identities", body, bearer("clerk"))->response.status == 403);
    CHECK(ask(api, "POST", "/api/identities", R"({"identity":"Bad Name"})", bearer("admin"))
              ->body()["error"] == "invalid_identity");
    // The ledger refuses it: the key file written for it is removed.
    auto refused = ask(api, "POST", "/api/identities", body, bearer("admin"));
    CHECK(refused->response.status == 503);
    CHECK(node.written_keys == std::vector<std::string>{"town/clerk"});
    CHECK(node.removed_keys == std::vector<std::string>{"town/clerk"});

    node.append(statement("town/clerk", 0));
    node.receipt = receipt_for(node, 0);
    auto made = ask(api, "POST", "/api/identities", body, bearer("admin"));
    REQUIRE(made->response.status == 200);
    CHECK(made->body()["identity"] == "town/clerk");
    CHECK(made->body()["public_key"].get<std::string>().size() == 64);

    storage::identity_record rec;
    rec.name = "town/clerk";
    node.identities[rec.name] = rec;
    CHECK(ask(api, "POST", "/api/identities", body, bearer("admin"))->body()["error"] ==
          "identity_exists");
    CHECK(ask(api, "POST", "/api/identities/town/clerk/revoke", "", bearer("admin"))
              ->body()["error"] == "retired"); // no current key
    CHECK(ask(api, "POST", "/api/identities/nobody/rotate", "", bearer("admin"))->response.status ==
          404);

    for (const char* name : {"a", "b", "c"})
        node.identities[name] = storage::identity_record{name, {}, false};
    auto page = ask(api, "GET", "/api/identities?limit=2");
    CHECK(page->body()["identities"].size() == 2);
    CHECK(page->body()["next"] == "b");
    CHECK(ask(api, "GET", "/api/identities?after=b&limit=2")->body()["identities"].size() == 2);
    CHECK(ask(api, "GET", "/api/identities?limit=0")->response.status == 400);

    // A replica sends every change to the leader.
    test::fake_operations replica;
    replica.node_facts = leader_facts();
    replica.node_facts.leading = false;
    replica.tokens[token_hash("admin")] = {"admin", true, {}};
    node::api::node_api replica_api(replica);
    CHECK(ask(replica_api, "POST", "/api/identities", body, bearer("admin"))->response.status ==
          421);
    CHECK(ask(replica_api, "POST", "/api/identities/town/clerk/rotate", "", bearer("admin"))
              ->body()["error"] == "not_leader");
    CHECK(replica.written_keys.empty());
}

TEST_CASE("checkpoint and status: a gated leader publishes what its collector has, else the "
          "ledger's",
          "[api][status]") {
    test::fake_operations node;
    node.node_facts = leader_facts();
    node.node_facts.gated = true;
    node.node_facts.collecting = true;
    node.append(statement("clerk", 0));
    node.latest = "the store's newest, not published yet";
    node::api::node_api api(node);

    node.checkpoints[checkpoint_source::ledger] = "the ledger's";
    auto cp = ask(api, "GET", "/checkpoint");
    CHECK(cp->response.body == "the ledger's"); // the collector had none
    CHECK(cp->response.content_type == "text/plain; charset=utf-8");
    node.checkpoints[checkpoint_source::collected] = "the collector's";
    CHECK(ask(api, "GET", "/checkpoint")->response.body == "the collector's");

    // The status: the ledger's, the collector's and the scrubber's, or each's error.
    CHECK(ask(api, "GET", "/api/status")->response.status == 503); // no ledger status
    node.ledger = actors::ledger_status{};
    node.ledger->size = 1;
    auto status = ask(api, "GET", "/api/status")->body();
    CHECK(status["role"] == "leader");
    CHECK(status["size"] == 1);
    CHECK(status["witnessing"]["error"] == "not set");
    CHECK(status["scrub"]["error"] == "not set");
    node.collector = actors::collector_status{};
    node.scrub = actors::scrub_status{};
    status = ask(api, "GET", "/api/status")->body();
    CHECK(status["witnessing"].contains("quorum"));
    CHECK(status["scrub"].contains("passes"));

    // A replica: how far behind its leader it is.
    test::fake_operations replica;
    replica.node_facts = leader_facts();
    replica.node_facts.leading = false;
    replica.append(statement("clerk", 0));
    replica.link = actors::link_status{};
    replica.link->leader_size = 5;
    replica.read_only = "disk full";
    node::api::node_api replica_api(replica);
    auto r = ask(replica_api, "GET", "/api/status")->body();
    CHECK(r["role"] == "replica");
    CHECK(r["behind"] == 4);
    CHECK(r["writable"] == false);
    CHECK(r["read_only_reason"] == "disk full");
    CHECK(ask(replica_api, "GET", "/checkpoint")->response.status == 404);
    CHECK(ask(replica_api, "GET", "/healthz")->body()["size"] == 1);
}

namespace {

/// An entry of `kind` for `identity`, signed by `key`.
bytes owner_entry(entry_kind kind, const std::string& identity, const ed25519::secret_key& key,
                  bytes payload = {}) {
    entry e;
    e.kind = kind;
    e.timestamp_ms = 5000;
    e.identity = identity;
    e.public_key = key.public_key_bytes();
    e.payload = std::move(payload);
    if (kind == entry_kind::statement) e.content_hash = sha256(byte_view("doc"));
    e.sign(key);
    return e.encode();
}

bytes owner_marker() { return bytes(owner_held_marker.begin(), owner_held_marker.end()); }

std::string submit_body(const bytes& raw) { return json{{"entry", base64_encode(raw)}}.dump(); }

} // namespace

TEST_CASE("submit: an owner's signed entry, authorised by kind, checked before it is appended",
          "[api][submit]") {
    test::fake_operations node;
    node.node_facts = leader_facts();
    node.tokens[token_hash("admin")] = {"admin", true, {}};
    node.tokens[token_hash("clerk")] = {"clerk", false, {"town/clerk"}};
    node::api::node_api api(node);
    auto key = test::key_for("owner:town/clerk");
    auto registration =
        owner_entry(entry_kind::identity_registration, "town/clerk", key, owner_marker());

    // Registration needs the admin token; a token for the identity is not enough.
    auto by_clerk = ask(api, "POST", "/api/submit", submit_body(registration), bearer("clerk"));
    CHECK(by_clerk->response.status == 403);
    CHECK(ask(api, "POST", "/api/submit", submit_body(registration))->response.status == 401);
    // A registration without the owner-held marker would leave a custodial
    // identity whose key no node holds.
    auto custodial = owner_entry(entry_kind::identity_registration, "town/clerk", key);
    auto unmarked = ask(api, "POST", "/api/submit", submit_body(custodial), bearer("admin"));
    CHECK(unmarked->response.status == 422);
    CHECK(unmarked->body()["message"].get<std::string>().find("owner-held") != std::string::npos);
    // Not base64, not an entry, a broken signature.
    CHECK(ask(api, "POST", "/api/submit", R"({"entry":"***"})", bearer("admin"))->response.status ==
          400);
    CHECK(
        ask(api, "POST", "/api/submit", R"({"entry":"AAAA"})", bearer("admin"))->response.status ==
        422);
    auto forged = registration;
    forged[20] ^= 1;
    auto bad_signature = ask(api, "POST", "/api/submit", submit_body(forged), bearer("admin"));
    CHECK(bad_signature->response.status == 422);
    CHECK(bad_signature->body()["message"].get<std::string>().find("signature") !=
          std::string::npos);
    CHECK(ask(api, "POST", "/api/submit", "{}", bearer("admin"))->response.status == 400);
    CHECK(node.submitted_entries.empty());

    // Accepted: appended as it is, answered like /api/sign.
    node.append(registration);
    node.receipt = receipt_for(node, 0);
    auto done = ask(api, "POST", "/api/submit", submit_body(registration), bearer("admin"));
    REQUIRE(done->response.status == 200);
    REQUIRE(node.submitted_entries.size() == 1);
    CHECK(node.submitted_entries[0] == registration);
    CHECK(done->body()["index"] == 0);
    CHECK(base64_decode(done->body()["entry"].get<std::string>()).value() == registration);
    CHECK(done->body()["proof"].get<std::string>().rfind("c2sp.org/tlog-proof@v1", 0) == 0);

    // A statement: the identity's token may submit it, another's may not.
    auto said = owner_entry(entry_kind::statement, "town/clerk", key);
    CHECK(ask(api, "POST", "/api/submit", submit_body(said), bearer("clerk"))->response.status ==
          200);
    auto other = owner_entry(entry_kind::statement, "town/mayor", key);
    CHECK(ask(api, "POST", "/api/submit", submit_body(other), bearer("clerk"))->response.status ==
          403);
    // The ledger's refusal (e.g. not the current key) is the client's answer.
    node.receipt.reset();
    node.refusal = {static_cast<std::uint8_t>(actors::errc::key_mismatch), "not the current key"};
    CHECK(ask(api, "POST", "/api/submit", submit_body(said), bearer("clerk"))->response.status ==
          422);
}

namespace {

/// A replica holding one statement its owner (town/clerk) signed: what the
/// tests of submissions through a replica send. Returns the entry.
bytes replica_with_owner_statement(test::fake_operations& node) {
    node.node_facts = leader_facts();
    node.node_facts.leading = false;
    auto said = owner_entry(entry_kind::statement, "town/clerk", test::key_for("owner:town/clerk"));
    node.append(said);
    node.receipt = receipt_for(node, 0);
    return said;
}

} // namespace

TEST_CASE("submit on a replica: forwarded with the token's hash for the leader to check",
          "[api][submit]") {
    test::fake_operations node;
    auto said = replica_with_owner_statement(node);
    node::api::node_api api(node);
    CHECK(ask(api, "POST", "/api/submit", submit_body(said))->response.status == 401);
    auto forwarded = ask(api, "POST", "/api/submit", submit_body(said), bearer("anything"));
    CHECK(forwarded->response.status == 200);
    REQUIRE(node.forwarded_tokens.size() == 1);
    CHECK(node.forwarded_tokens[0] == std::optional<hash>(token_hash("anything")));
    // A forgery is refused here, not forwarded.
    auto forged = said;
    forged[30] ^= 1;
    CHECK(ask(api, "POST", "/api/submit", submit_body(forged), bearer("x"))->response.status ==
          422);
    CHECK(node.submitted_entries.size() == 1);
}

TEST_CASE("witnessed submit on a replica: the flag goes to the leader, and the replica waits on "
          "the leader's collector, not on gossip",
          "[api][submit][witnessed]") {
    test::fake_operations node;
    auto said = replica_with_owner_statement(node);
    node.node_facts.has_policy = true;
    node::api::node_api api(node);
    auto body = json{{"entry", base64_encode(said)}, {"witnessed", true}}.dump();
    auto w = ask(api, "POST", "/api/submit", body, bearer("anything"));
    REQUIRE(node.submitted_witnessed == std::vector<bool>{true});
    // The leader's ledger starts the round at the commit; this node holds one
    // poll on the leader's collector (through its uplink) for a tree of size 1.
    REQUIRE(node.awaits.size() == 1);
    CHECK(node.awaits[0].size == 1);
    CHECK(node.checkpoint_asks.empty());
    CHECK(!w->answered);
    auto witnessed = answer_held_poll(node);
    REQUIRE(w->answered);
    CHECK(w->response.status == 200);
    CHECK(w->body()["quorum"] == true);
    CHECK(w->body()["checkpoint"] == witnessed);
    // Without the flag, the entry is forwarded as before and answered at once.
    auto plain = ask(api, "POST", "/api/submit", submit_body(said), bearer("anything"));
    CHECK(plain->answered);
    CHECK(node.submitted_witnessed == std::vector<bool>{true, false});
}

TEST_CASE("owner-held identities: the node refuses to sign or change their keys, and says so",
          "[api][submit]") {
    test::fake_operations node;
    node.node_facts = leader_facts();
    node.tokens[token_hash("admin")] = {"admin", true, {}};
    auto key = test::key_for("owner:town/clerk");
    storage::identity_record owned{"town/clerk", {{key.public_key_bytes(), 0, {}, false}}, true};
    storage::identity_record custodial{
        "town/mayor", {{key.public_key_bytes(), 1, {}, false}}, false};
    node.identities[owned.name] = owned;
    node.identities[custodial.name] = custodial;
    node::api::node_api api(node);

    CHECK(ask(api, "GET", "/api/identities/town/clerk")->body()["kind"] == "owner-held");
    CHECK(ask(api, "GET", "/api/identities/town/mayor")->body()["kind"] == "custodial");
    // The signer holds no key for it: the answer says why, and what to do.
    node.refusal = {static_cast<std::uint8_t>(actors::errc::unknown_key), "no key"};
    auto sign =
        ask(api, "POST", "/api/sign",
            json{{"identity", "town/clerk"}, {"content_sha256", std::string(64, 'a')}}.dump(),
            bearer("admin"));
    CHECK(sign->response.status == 422);
    CHECK(sign->body()["error"] == "owner_held");
    CHECK(sign->body()["message"].get<std::string>().find("--key") != std::string::npos);
    auto rotate = ask(api, "POST", "/api/identities/town/clerk/rotate", "", bearer("admin"));
    CHECK(rotate->response.status == 422);
    CHECK(rotate->body()["error"] == "owner_held");
    CHECK(ask(api, "POST", "/api/identities/town/clerk/revoke", "", bearer("admin"))
              ->body()["error"] == "owner_held");
    CHECK(node.written_keys.empty());
}

TEST_CASE("an identity's entries: paged, each proven against the published checkpoint",
          "[api][identity-entries]") {
    test::fake_operations node;
    node.node_facts = leader_facts();
    for (int i = 0; i < 40; ++i)
        node.append(statement(i % 3 == 0 ? "town/clerk" : "town/mayor", i));
    node.latest = node.sign_checkpoint(origin);
    node.identities["town/clerk"] = {"town/clerk", {}, true};
    node.identities["town/mayor"] = {"town/mayor", {}, false};
    node.append(statement("town/clerk", 40)); // beyond the checkpoint: not yet provable
    node::api::node_api api(node);

    std::vector<std::uint64_t> seen;
    std::string target = "/api/identities/town/clerk/entries?limit=5";
    for (int page = 0; page < 10; ++page) {
        auto r = ask(api, "GET", target);
        REQUIRE(r->response.status == 200);
        auto body = r->body();
        CHECK(body["size"] == 40);
        auto cp = parse_signed_checkpoint(body["checkpoint"].get<std::string>());
        REQUIRE(cp.ok());
        for (const auto& e : body["entries"]) {
            auto index = e["index"].get<std::uint64_t>();
            auto raw = base64_decode(e["entry"].get<std::string>());
            REQUIRE(raw.ok());
            CHECK(decode_entry(*raw)->identity == "town/clerk");
            CHECK(merkle::verify_inclusion(index, cp->body.size, merkle::leaf_hash(*raw),
                                           decode_proof(e["inclusion_proof"]), cp->body.root)
                      .ok());
            seen.push_back(index);
        }
        if (!body.contains("next")) break;
        target = "/api/identities/town/clerk/entries?limit=5&after=" +
                 std::to_string(body["next"].get<std::uint64_t>());
    }
    std::vector<std::uint64_t> expected;
    for (std::uint64_t i = 0; i < 40; i += 3)
        expected.push_back(i);
    CHECK(seen == expected);
    CHECK(ask(api, "GET", "/api/identities/nobody/entries")->response.status == 404);
    CHECK(ask(api, "GET", "/api/identities/town/clerk/entries?limit=0")->response.status == 400);
    CHECK(ask(api, "GET", "/api/identities/town/clerk/entries?limit=257")->response.status == 400);
    CHECK(ask(api, "GET", "/api/identities/town/clerk/entries?after=x")->response.status == 400);
}
