#include "cli_support.hpp"
#include "node/cli/cli.hpp"
#include "node/http/server.hpp"
#include "node/service/service.hpp"
#include "node/system/files.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/note.hpp"
#include "protocol/split_view.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace civic;
using namespace civic::test::cli_support;
namespace fs = std::filesystem;

TEST_CASE("cli: usage, help and unknown commands", "[cli]") {
    CHECK(run({}).code == node::exit_usage);
    auto help = run({"--help"});
    CHECK(help.code == node::exit_ok);
    CHECK(help.out.find("protocol-demo") != std::string::npos);
    CHECK(run({"frobnicate"}).code == node::exit_usage);
    auto verify_help = run({"verify", "--help"});
    CHECK(verify_help.code == node::exit_ok);
    CHECK(verify_help.out.find("--policy") != std::string::npos);
    auto missing = run({"verify", "--content", "x"});
    CHECK(missing.code == node::exit_usage);
    CHECK(missing.err.find("--proof") != std::string::npos);
    CHECK(run({"version"}).out.rfind("civic-attest ", 0) == 0);
}

TEST_CASE("cli: a log level or format it does not know is refused, naming the flag", "[cli]") {
    auto level = run({"serve", "--data", "/nonexistent", "--log-level", "loud"});
    CHECK(level.code == node::exit_usage);
    CHECK(level.err.find("--log-level 'loud': expected debug, info, warning, error or off") !=
          std::string::npos);
    auto format = run({"serve", "--data", "/nonexistent", "--log-format", "xml"});
    CHECK(format.code == node::exit_usage);
    CHECK(format.err.find("--log-format 'xml': expected text or json") != std::string::npos);
    CHECK(run({"serve", "--help"}).out.find("--log-format") != std::string::npos);
}

TEST_CASE("cli: keygen writes a 0600 key file and prints only the vkey", "[cli]") {
    test::temp_dir dir("keygen");
    fs::create_directories(dir.path);
    auto made = run({"keygen", "--name", "w1.example", "--witness", "--out", dir / "w1.key"});
    REQUIRE(made.code == node::exit_ok);
    auto vkey = note::parse_vkey(made.out.substr(0, made.out.find('\n')));
    REQUIRE(vkey.ok());
    CHECK(vkey->type == note::type_cosignature_v1);
    struct stat st {};
    REQUIRE(::stat((dir / "w1.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(run({"vkey", "--key", dir / "w1.key"}).out == made.out);
    // Never overwrites; refuses secrets others can read.
    CHECK(run({"keygen", "--name", "w1.example", "--out", dir / "w1.key"}).code ==
          node::exit_failed);
    ::chmod((dir / "w1.key").c_str(), 0644);
    auto exposed = run({"vkey", "--key", dir / "w1.key"});
    CHECK(exposed.code == node::exit_usage);
    CHECK(exposed.err.find("group or others") != std::string::npos);
    // Without --out the secret is the only thing on stdout.
    auto printed = run({"keygen", "--name", "example.org/log"});
    CHECK(printed.out.rfind("PRIVATE+KEY+example.org/log+", 0) == 0);
    CHECK(note::parse_signer_key(printed.out.substr(0, printed.out.size() - 1)).ok());
    CHECK(run({"keygen", "--name", "bad name"}).code == node::exit_usage);
}

TEST_CASE("cli: token revoke reads the token from a file, never argv, and fails on one it does "
          "not know",
          "[cli]") {
    test::temp_dir dir("token-revoke");
    const std::string data = dir / "data";
    REQUIRE(run({"init", "--data", data, "--origin", "tokens.test/log"}).code == node::exit_ok);
    auto added = run({"token", "add", "--data", data, "--identity", "town/clerk"});
    REQUIRE(added.code == node::exit_ok);
    auto token = added.out.substr(0, added.out.find('\n'));
    REQUIRE_FALSE(token.empty());

    // On the command line it is refused, and nothing is revoked.
    auto on_argv = run({"token", "revoke", "--data", data, "--token", token});
    CHECK(on_argv.code == node::exit_usage);
    CHECK(on_argv.err.find("--token-file") != std::string::npos);
    CHECK(run({"token", "revoke", "--data", data}).code == node::exit_usage);

    // A typo: exit 1 with a message, and the real token still works.
    const std::string typo = dir / "typo.token";
    write(typo, token.substr(0, token.size() - 1) + "x\n");
    ::chmod(typo.c_str(), 0600);
    auto unknown = run({"token", "revoke", "--data", data, "--token-file", typo});
    CHECK(unknown.code == node::exit_failed);
    CHECK(unknown.err.find("no such token") != std::string::npos);

    const std::string file = dir / "clerk.token";
    write(file, token + "\n");
    ::chmod(file.c_str(), 0600);
    auto revoked = run({"token", "revoke", "--data", data, "--token-file", file});
    INFO(revoked.err);
    CHECK(revoked.code == node::exit_ok);
    // Revoked once: a second revocation finds nothing.
    CHECK(run({"token", "revoke", "--data", data, "--token-file", file}).code == node::exit_failed);
}

TEST_CASE("secret key files: the line is written whole, the caller's copy is wiped, nothing is "
          "overwritten",
          "[cli]") {
    test::temp_dir dir("secret-file");
    auto key = ed25519::secret_key::generate();
    auto secret = note::format_signer_key("w1.example", note::type_cosignature_v1, key);
    const auto expected = secret + "\n";
    REQUIRE(node::write_secret_key_file(dir / "w1.key", secret).ok());
    CHECK(std::all_of(secret.begin(), secret.end(), [](char c) { return c == '\0'; }));
    CHECK(read(dir / "w1.key") == expected);
    struct stat st {};
    REQUIRE(::stat((dir / "w1.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto again = expected;
    CHECK_FALSE(node::write_secret_key_file(dir / "w1.key", again).ok());
    CHECK(read(dir / "w1.key") == expected);
    CHECK(node::sync_directory(dir.path.string()).ok());
    CHECK_FALSE(node::sync_directory(dir / "no-such-directory").ok());
}

TEST_CASE("cli: the protocol demo bundle verifies offline and tampering fails", "[cli]") {
    test::temp_dir dir("demo");
    auto demo = run({"protocol-demo", "--dir", dir.path.string(), "--entries", "300"});
    INFO(demo.err);
    REQUIRE(demo.code == node::exit_ok);
    CHECK(demo.out.find("document.txt: VALID") != std::string::npos);
    CHECK(demo.out.find("tampered.txt: INVALID") != std::string::npos);
    CHECK(run({"protocol-demo", "--dir", dir.path.string()}).code ==
          node::exit_usage); // not empty any more

    auto ok = run({"verify", "--proof", dir / "document.tlog-proof", "--content",
                   dir / "document.txt", "--policy", dir / "policy.txt"});
    CHECK(ok.code == node::exit_ok);
    CHECK(ok.out.find(": VALID") != std::string::npos);
    auto tampered = run({"verify", "--proof", dir / "document.tlog-proof", "--content",
                         dir / "tampered.txt", "--policy", dir / "policy.txt", "--json"});
    CHECK(tampered.code == node::exit_failed);
    CHECK(tampered.out.find("\"valid\": false") != std::string::npos);

    // A policy asking for all three witnesses is not met by the demo's two cosignatures.
    auto policy = read(dir / "policy.txt");
    policy.replace(policy.find("group two-of-three 2"), 20, "group two-of-three 3");
    write(dir / "strict.txt", policy);
    CHECK(run({"verify", "--proof", dir / "document.tlog-proof", "--content", dir / "document.txt",
               "--policy", dir / "strict.txt"})
              .code == node::exit_failed);

    // The log key alone (quorum none) is enough when no witnesses are required.
    auto log_line = policy.substr(policy.find("\nlog ") + 5);
    log_line = log_line.substr(0, log_line.find('\n'));
    CHECK(run({"verify", "--proof", dir / "document.tlog-proof", "--content-sha256",
               "00000000000000000000000000000000000000000000000000000000000000zz", "--log-key",
               log_line})
              .code == node::exit_usage);

    // Bad inputs name the file and field.
    write(dir / "broken.txt", "log nonsense\nquorum none\n");
    auto broken =
        run({"verify", "--proof", dir / "document.tlog-proof", "--policy", dir / "broken.txt"});
    CHECK(broken.code == node::exit_usage);
    CHECK(broken.err.find("broken.txt: policy line 1") != std::string::npos);
    auto missing = run({"verify", "--proof", dir / "nope.tlog-proof", "--log-key", log_line});
    CHECK(missing.code == node::exit_usage);
    CHECK(missing.err.find("nope.tlog-proof") != std::string::npos);
    write(dir / "garbage.tlog-proof", "not a proof\n");
    auto garbage = run({"verify", "--proof", dir / "garbage.tlog-proof", "--log-key", log_line});
    CHECK(garbage.code == node::exit_failed);
    CHECK(garbage.out.find("FAIL format") != std::string::npos);
}

// ------------------------------------------------ commands against a node ----

namespace {

/// A server that answers every request with `body` (status 200): a misbehaving node.
struct fake_node {
    node::http_server http;
    explicit fake_node(std::string body)
        : http(node::http_options{}, [body](const node::http_request&, node::http_respond r) {
              node::http_response res;
              res.body = body;
              r(res);
          }) {
        REQUIRE(http.start().ok());
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(http.port()); }
};

} // namespace

TEST_CASE("cli: identity add, rotate, revoke and list against a node", "[cli]") {
    cli_node n;
    auto added = n.identity("add", {"--identity", "town/clerk"});
    INFO(added.err);
    REQUIRE(added.code == node::exit_ok);
    CHECK(is_key_line(added.out)); // just the key: scripts capture it
    CHECK(has(added.err, "registered 'town/clerk'"));
    auto clerk_key = added.out.substr(0, 64);
    auto mayor = n.identity("add", {"--identity", "town/mayor"});
    REQUIRE(mayor.code == node::exit_ok);
    auto mayor_key = mayor.out.substr(0, 64);

    auto listed = n.identity("list");
    REQUIRE(listed.code == node::exit_ok);
    CHECK(lines(listed.out) == std::vector<std::string>{"town/clerk " + clerk_key + " 1 key",
                                                        "town/mayor " + mayor_key + " 1 key"});

    // Rotation: a new key on stdout, and list shows it as current.
    auto rotated = n.identity("rotate", {"--identity", "town/clerk"});
    INFO(rotated.err);
    REQUIRE(rotated.code == node::exit_ok);
    REQUIRE(is_key_line(rotated.out));
    auto new_key = rotated.out.substr(0, 64);
    CHECK(new_key != clerk_key);
    CHECK(has(rotated.err, clerk_key)); // names the key it replaced
    CHECK(n.identity("list", {"--identity", "town/clerk"}).out ==
          "town/clerk " + new_key + " 2 keys\n");

    // Revoking the old key leaves the identity its current key.
    auto old_revoked = n.identity("revoke", {"--identity", "town/clerk", "--revoke", clerk_key});
    INFO(old_revoked.err);
    REQUIRE(old_revoked.code == node::exit_ok);
    CHECK(old_revoked.out.empty());
    CHECK_FALSE(has(old_revoked.err, "retired"));
    CHECK(n.identity("list", {"--identity", "town/clerk"}).out ==
          "town/clerk " + new_key + " 2 keys\n");

    // Revoking the current key retires it.
    auto retired = n.identity("revoke", {"--identity", "town/clerk"});
    REQUIRE(retired.code == node::exit_ok);
    CHECK(retired.out.empty());
    CHECK(has(retired.err, "retired"));
    CHECK(has(retired.err, new_key));

    // Pages of one identity each: list follows "next" to the end.
    auto paged = n.identity("list", {"--page-size", "1"});
    REQUIRE(paged.code == node::exit_ok);
    CHECK(lines(paged.out) == std::vector<std::string>{"town/clerk retired 2 keys",
                                                       "town/mayor " + mayor_key + " 1 key"});

    // The token may come from the environment instead of a file.
    ::setenv("CIVIC_ATTEST_TOKEN", n.init.admin_token.c_str(), 1);
    auto by_env = run({"identity", "add", "--server", n.server, "--identity", "town/treasurer"});
    ::unsetenv("CIVIC_ATTEST_TOKEN");
    CHECK(by_env.code == node::exit_ok);
    CHECK(is_key_line(by_env.out));

    auto help = run({"identity", "--help"});
    CHECK(help.code == node::exit_ok);
    CHECK(has(help.out, "--key"));
}

TEST_CASE("cli: identity errors name the flag or repeat the node's message", "[cli]") {
    cli_node n;
    REQUIRE(n.identity("add", {"--identity", "clerk"}).code == node::exit_ok);

    ::unsetenv("CIVIC_ATTEST_TOKEN");
    auto no_token = run({"identity", "add", "--server", n.server, "--identity", "other"});
    CHECK(no_token.code == node::exit_usage);
    CHECK(has(no_token.err, "--token-file"));

    auto again = n.identity("add", {"--identity", "clerk"});
    CHECK(again.code == node::exit_failed);
    CHECK(has(again.err, "422 identity_exists: identity 'clerk' already exists"));
    CHECK(again.out.empty());

    auto unknown = n.identity("rotate", {"--identity", "nobody"});
    CHECK(unknown.code == node::exit_failed);
    CHECK(has(unknown.err, "404 not_found: no identity 'nobody'"));
    CHECK(n.identity("list", {"--identity", "nobody"}).code == node::exit_failed);

    // A token the node does not know is refused with its 401.
    write(n.dir / "weak.token", "cat_not-a-real-token\n");
    ::chmod((n.dir / "weak.token").c_str(), 0600);
    auto weak = run({"identity", "add", "--server", n.server, "--token-file", n.dir / "weak.token",
                     "--identity", "other"});
    CHECK(weak.code == node::exit_failed);
    CHECK(has(weak.err, "401 unauthorized"));

    CHECK(has(n.identity("add", {"--identity", "Bad Name"}).err, "--identity 'Bad Name'"));
    CHECK(n.identity("add", {"--identity", "Bad Name"}).code == node::exit_usage);
    CHECK(n.identity("add").code == node::exit_usage);
    auto bad_key = n.identity("revoke", {"--identity", "clerk", "--revoke", "abc"});
    CHECK(bad_key.code == node::exit_usage);
    CHECK(has(bad_key.err, "--revoke"));
    CHECK(n.identity("rotate", {"--identity", "clerk", "--key", std::string(64, 'a')}).code ==
          node::exit_usage);
    CHECK(has(n.identity("list", {"--page-size", "0"}).err, "--page-size"));
    CHECK(n.identity("frobnicate").code == node::exit_usage);
    auto bad_server = run({"identity", "list", "--server", "ftp://example.org"});
    CHECK(bad_server.code == node::exit_usage);
    CHECK(has(bad_server.err, "--server"));

    // Nothing listens on port 1.
    auto down = run({"identity", "list", "--server", "http://127.0.0.1:1"});
    CHECK(down.code == node::exit_failed);
    CHECK(has(down.err, "request failed"));
    CHECK(has(down.err, "127.0.0.1:1"));
}

TEST_CASE("cli: a misbehaving node gives exit 1, not a crash or an endless loop", "[cli]") {
    fake_node looping(R"({"identities":[],"next":"a"})");
    auto loop = run({"identity", "list", "--server", looping.url()});
    CHECK(loop.code == node::exit_failed);
    CHECK(has(loop.err, "malformed"));

    fake_node not_hex(R"({"identity":"x","index":0,"public_key":"\u001b[2Jzz","checkpoint":""})");
    ::setenv("CIVIC_ATTEST_TOKEN", "cat_x", 1);
    auto bad_key = run({"identity", "add", "--server", not_hex.url(), "--identity", "x"});
    ::unsetenv("CIVIC_ATTEST_TOKEN");
    CHECK(bad_key.code == node::exit_failed);
    CHECK(bad_key.out.empty());
    CHECK(has(bad_key.err, "not 64 hex digits"));

    fake_node garbage("\x1b[31mnot json");
    auto text = run({"log", "entry", "--server", garbage.url(), "--index", "0"});
    CHECK(text.code == node::exit_failed);
    CHECK(has(text.err, "not a JSON object"));
    CHECK_FALSE(has(text.err, "\x1b")); // no terminal escapes from a node
    auto checkpoint = run({"log", "checkpoint", "--server", garbage.url()});
    CHECK(checkpoint.code == node::exit_failed);
    CHECK(has(checkpoint.err, "does not parse"));
}

TEST_CASE("cli: log checkpoint, entry, proof and consistency, checked with the log key", "[cli]") {
    cli_node n;
    auto empty = n.log("checkpoint");
    CHECK(empty.code == node::exit_failed);
    CHECK(has(empty.err, "no checkpoint yet"));

    REQUIRE(n.identity("add", {"--identity", "town/clerk"}).code == node::exit_ok);
    // The root at size 1: kept for the consistency check later.
    auto first = n.log("checkpoint", {"--vkey", n.vkey_file});
    INFO(first.err);
    REQUIRE(first.code == node::exit_ok);
    auto first_cp = parse_signed_checkpoint(first.out);
    REQUIRE(first_cp.ok());
    REQUIRE(first_cp->body.size == 1);
    auto first_root = base64_encode(first_cp->body.root);

    for (int i = 0; i < 4; ++i) {
        auto doc = n.dir / ("doc" + std::to_string(i) + ".txt");
        write(doc, "document " + std::to_string(i) + "\n");
        auto signed_doc = run({"sign", "--server", n.server, "--token-file", n.admin_token_file,
                               "--identity", "town/clerk", "--file", doc});
        INFO(signed_doc.err);
        REQUIRE(signed_doc.code == node::exit_ok);
    }

    SECTION("checkpoint") {
        auto cp = n.log("checkpoint", {"--vkey", n.vkey_file});
        REQUIRE(cp.code == node::exit_ok);
        CHECK(cp.out.rfind("cli.test/log\n5\n", 0) == 0);
        CHECK(has(cp.err, "verified"));
        // The key itself works as well as its file; no key: printed, not checked.
        CHECK(n.log("checkpoint", {"--vkey", n.init.log_vkey}).code == node::exit_ok);
        auto unchecked = n.log("checkpoint");
        CHECK(unchecked.code == node::exit_ok);
        CHECK(unchecked.out == cp.out);
        CHECK(has(unchecked.err, "not checked"));
        // Another key with the log's name, or another log's key, does not verify.
        for (const auto& name : {"cli.test/log", "other.test/log"}) {
            auto wrong = n.log(
                "checkpoint", {"--vkey", note::format_vkey(test::log_signer(name).verifier_key())});
            CHECK(wrong.code == node::exit_failed);
            CHECK(has(wrong.err, "does NOT verify with --vkey"));
            CHECK(wrong.out.empty());
        }
        auto nonsense = n.log("checkpoint", {"--vkey", n.dir / "missing.vkey"});
        CHECK(nonsense.code == node::exit_usage);
        CHECK(has(nonsense.err, "--vkey"));
    }
    SECTION("entry") {
        auto e = n.log("entry", {"--index", "2"});
        REQUIRE(e.code == node::exit_ok);
        auto j = nlohmann::json::parse(e.out);
        CHECK(j["index"] == 2);
        CHECK(j["kind"] == "statement");
        CHECK(j["identity"] == "town/clerk");
        CHECK(j["content_sha256"] ==
              hex_encode(sha256(byte_view(std::string_view("document 1\n")))));
        auto missing = n.log("entry", {"--index", "99"});
        CHECK(missing.code == node::exit_failed);
        CHECK(has(missing.err, "404 not_found: no entry 99"));
        for (const auto& bad : {"x", "-1", "01", ""}) {
            auto r = n.log("entry", {"--index", bad});
            CHECK(r.code == node::exit_usage);
            CHECK(has(r.err, "--index"));
        }
        CHECK(n.log("entry").code == node::exit_usage);
        auto unused = n.log("entry", {"--index", "1", "--old", "2"});
        CHECK(unused.code == node::exit_usage);
        CHECK(has(unused.err, "--old"));
        CHECK(n.log("frobnicate").code == node::exit_usage);
    }
    SECTION("proof") {
        auto p = n.log("proof", {"--index", "3", "--vkey", n.vkey_file});
        INFO(p.err);
        REQUIRE(p.code == node::exit_ok);
        CHECK(has(p.err, "verified: entry 3"));
        CHECK(nlohmann::json::parse(p.out)["size"] == 5);
        // An older tree size: checked through a consistency proof to the checkpoint.
        auto older = n.log("proof", {"--index", "1", "--size", "3", "--vkey", n.init.log_vkey});
        INFO(older.err);
        CHECK(older.code == node::exit_ok);
        CHECK(has(older.err, "a prefix of"));
        auto unchecked = n.log("proof", {"--index", "0"});
        CHECK(unchecked.code == node::exit_ok);
        CHECK(has(unchecked.err, "not checked"));
        CHECK(n.log("proof", {"--index", "3", "--size", "3"}).code == node::exit_usage);
        auto beyond = n.log("proof", {"--index", "1", "--size", "9", "--vkey", n.vkey_file});
        CHECK(beyond.code == node::exit_failed);
        CHECK(has(beyond.err, "--size 9"));
        auto wrong_key =
            n.log("proof", {"--index", "3", "--vkey",
                            note::format_vkey(test::log_signer("cli.test/log").verifier_key())});
        CHECK(wrong_key.code == node::exit_failed);
        CHECK(wrong_key.out.empty());
    }
    SECTION("consistency") {
        auto c =
            n.log("consistency", {"--old", "1", "--old-root", first_root, "--vkey", n.vkey_file});
        INFO(c.err);
        REQUIRE(c.code == node::exit_ok);
        CHECK(has(c.err, "verified"));
        CHECK(nlohmann::json::parse(c.out)["new"] == 5);
        // A root the log never had at size 1 is not a prefix.
        auto forged = n.log("consistency", {"--old", "1", "--old-root",
                                            base64_encode(sha256(byte_view(std::string_view("x")))),
                                            "--vkey", n.vkey_file});
        CHECK(forged.code == node::exit_failed);
        CHECK(has(forged.err, "does NOT verify"));
        auto unchecked = n.log("consistency", {"--old", "2", "--new", "4"});
        CHECK(unchecked.code == node::exit_ok);
        CHECK(has(unchecked.err, "not checked"));
        CHECK(nlohmann::json::parse(unchecked.out)["old"] == 2);
        auto no_vkey = n.log("consistency", {"--old", "1", "--old-root", first_root});
        CHECK(no_vkey.code == node::exit_usage);
        CHECK(has(no_vkey.err, "--vkey"));
        auto not_latest = n.log("consistency", {"--old", "1", "--new", "3", "--old-root",
                                                first_root, "--vkey", n.vkey_file});
        CHECK(not_latest.code == node::exit_failed);
        CHECK(has(not_latest.err, "--new 3"));
        CHECK(has(n.log("consistency", {"--old", "0"}).err, "--old"));
        CHECK(has(n.log("consistency", {"--old", "3", "--new", "2"}).err, "--new"));
        CHECK(has(n.log("consistency", {"--old", "1", "--old-root", "abc"}).err, "--old-root"));
        CHECK(n.log("consistency").code == node::exit_usage);
        auto server_refuses = n.log("consistency", {"--old", "1", "--new", "50"});
        CHECK(server_refuses.code == node::exit_failed);
        CHECK(has(server_refuses.err, "422 out_of_range"));
    }
}
