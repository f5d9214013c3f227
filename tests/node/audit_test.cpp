// `civic-attest audit` against logs written by hand (tests/node/audit_log.hpp),
// against a node over HTTP, and against a log written by an independent
// implementation (tests/interop/tlogwriter, Go's golang.org/x/mod/sumdb).
#include "node/audit_log.hpp"
#include "node/cli/cli.hpp"
#include "node/service/service.hpp"
#include "process.hpp"
#include "protocol/split_view.hpp"
#include "protocol/tiles.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>

namespace audit_test {

using namespace civic;
namespace fs = std::filesystem;
using test::audit_log::static_log;

struct audit_run {
    int code = -1;
    std::string out, err;
    bool says(const std::string& part) const {
        return out.find(part) != std::string::npos || err.find(part) != std::string::npos;
    }
    /// "audit: read N resources": how much of the log the run read.
    std::uint64_t resources() const {
        auto at = err.find("audit: read ");
        REQUIRE(at != std::string::npos);
        return std::stoull(err.substr(at + 12));
    }
};

audit_run audit(const std::string& log, const std::string& vkey,
                std::vector<std::string> more = {}) {
    std::vector<std::string> args{"audit", "--log", log, "--vkey", vkey};
    args.insert(args.end(), more.begin(), more.end());
    std::ostringstream out, err;
    audit_run r;
    r.code = node::run_cli(args, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
}

/// The evidence of a split as the audit wrote it, checked with nothing but the log's key.
result<split_view_kind> check_written_evidence(const fs::path& dir, const static_log& log) {
    auto j = nlohmann::json::parse(test::read_file((dir / "evidence.json").string()));
    split_view_evidence e{j.at("ours"), j.at("theirs"), std::nullopt, {}};
    if (!j.at("root_at_smaller").get<std::string>().empty())
        e.root_at_smaller = *base64_decode_fixed<32>(j.at("root_at_smaller").get<std::string>());
    std::istringstream lines(j.at("proof").get<std::string>());
    for (std::string line; std::getline(lines, line);)
        e.proof.push_back(*base64_decode_fixed<32>(line));
    CHECK(test::read_file((dir / "ours.checkpoint").string()) == e.ours);
    CHECK(test::read_file((dir / "theirs.checkpoint").string()) == e.theirs);
    CHECK(j.at("origin") == log.origin);
    auto key = note::parse_vkey(log.vkey());
    auto verifier = note::make_verifier(*key);
    return check_split_view(e, **verifier);
}

fs::path only_evidence_dir(const fs::path& state) {
    std::vector<fs::path> found;
    for (const auto& d : fs::directory_iterator(state / "evidence"))
        if (d.path().filename().string()[0] != '.') found.push_back(d.path());
    REQUIRE(found.size() == 1);
    return found[0];
}

TEST_CASE("audit: a clean log audits clean and a second run reads only what is new", "[audit]") {
    test::temp_dir dir("audit-clean");
    static_log log;
    log.add_clean(3000);
    log.write(dir / "log", 2900);
    auto first = audit(dir / "log", log.vkey(), {"--state", dir / "state"});
    INFO(first.out << first.err);
    REQUIRE(first.code == node::exit_ok);
    CHECK(first.out == "audit: audit.test/log size 2900: clean\n");
    CHECK(test::read_file(dir / "state/checkpoint") == log.checkpoint_text(2900));

    log.write(dir / "log");
    auto second = audit(dir / "log", log.vkey(), {"--state", dir / "state"});
    INFO(second.out << second.err);
    REQUIRE(second.code == node::exit_ok);
    CHECK(second.out == "audit: audit.test/log size 3000: clean\n");
    // 12 bundles and their tiles the first time; the last two bundles and
    // the tiles of the edge (and of the consistency proof) the second time.
    CHECK(first.resources() >= 24);
    CHECK(second.resources() * 2 < first.resources());
    auto again = audit(dir / "log", log.vkey(), {"--state", dir / "state"});
    CHECK(again.code == node::exit_ok);
    CHECK(again.resources() == 1);
}

TEST_CASE("audit: a flipped byte in an entry bundle or a hash tile is a violation naming it",
          "[audit]") {
    test::temp_dir dir("audit-flip");
    static_log log;
    log.add_clean(1100);
    SECTION("entry bundle") {
        log.write(dir / "log");
        // A byte inside entry 3 of the bundle (each entry is over 150 bytes).
        test::audit_log::flip_byte(fs::path(dir / "log") / tiles::entries_path(1, 256),
                                   3 * 150 + 100);
        auto r = audit(dir / "log", log.vkey());
        INFO(r.out << r.err);
        CHECK(r.code == node::exit_failed);
        CHECK(r.says("violation tile=tile/entries/001: 1 entry does not hash"));
        CHECK(r.says("audit: audit.test/log size 1100: 1 violation"));
    }
    SECTION("hash tile, level 0 and level 1") {
        log.write(dir / "log");
        test::audit_log::flip_byte(dir / "log/tile/0/002", 40);
        test::audit_log::flip_byte(dir / "log/tile/1/000.p/4", 0);
        auto r = audit(dir / "log", log.vkey());
        INFO(r.out << r.err);
        CHECK(r.code == node::exit_failed);
        CHECK(r.says("violation tile=tile/0/002: 1 hash is not the leaf hash"));
        CHECK(r.says("violation tile=tile/1/000.p/4: 1 hash is not the hash of the tiles"));
        CHECK(r.says("size 1100: 2 violations"));
    }
    SECTION("tree only, the last partial bundle") {
        log.write(dir / "log");
        test::audit_log::flip_byte(fs::path(dir / "log") / tiles::entries_path(4, 76), 10);
        auto r = audit(dir / "log", log.vkey(), {"--tree-only"});
        INFO(r.out << r.err);
        CHECK(r.code == node::exit_failed);
        CHECK(r.says("violation tile=tile/entries/004.p/76: "));
        CHECK(r.says("the checkpoint's root confirms tile/0/004.p/76"));
    }
}

TEST_CASE("audit: another history between two runs is a SECURITY ERROR with evidence that "
          "check_split_view accepts",
          "[audit]") {
    test::temp_dir dir("audit-fork");
    static_log log;
    log.add_clean(1000);
    static_log other = log;
    other.entries.resize(500);
    other.statement("town/clerk-3", "town/clerk-3", "a document the first history never had");
    other.add_clean(999);
    log.write(dir / "log", 800);
    REQUIRE(audit(dir / "log", log.vkey(), {"--state", dir / "state"}).code == node::exit_ok);

    auto expect_split = [&](const char* kind) {
        auto r = audit(dir / "other", log.vkey(), {"--state", dir / "state"});
        INFO(r.out << r.err);
        CHECK(r.code == node::exit_failed);
        CHECK(r.out.rfind("SECURITY ERROR: ", 0) == 0);
        auto evidence = only_evidence_dir(dir / "state");
        CHECK(evidence.filename().string().find(kind) != std::string::npos);
        auto verdict = check_written_evidence(evidence, log);
        INFO((verdict ? "" : verdict.message()));
        REQUIRE(verdict.ok());
        CHECK(to_string(*verdict) == std::string(kind));
        // The state stays at the verified checkpoint: the next run says it again.
        CHECK(audit(dir / "other", log.vkey(), {"--state", dir / "state"}).code ==
              node::exit_failed);
        CHECK(test::read_file(dir / "state/checkpoint") == log.checkpoint_text(800));
    };
    SECTION("the same size") {
        other.write(dir / "other", 800);
        expect_split("fork");
    }
    SECTION("a larger size") {
        other.write(dir / "other", 1000);
        expect_split("inconsistent");
    }
    SECTION("a smaller size (rollback to another history)") {
        other.write(dir / "other", 700);
        expect_split("inconsistent");
        CHECK(fs::exists(only_evidence_dir(dir / "state") / "proof"));
    }
    SECTION("a smaller size of the same history") {
        log.write(dir / "other", 700);
        auto r = audit(dir / "other", log.vkey(), {"--state", dir / "state"});
        CHECK(r.code == node::exit_failed);
        CHECK(r.says("SECURITY ERROR: the log now serves a checkpoint of size 700"));
        auto evidence = only_evidence_dir(dir / "state");
        CHECK(evidence.filename() == "700-rollback");
        // Both checkpoints are the log's, and the proof shows the smaller one is a
        // prefix: no split view, but the log went back on a tree it had signed.
        CHECK_FALSE(check_written_evidence(evidence, log).ok());
    }
}

TEST_CASE("audit: entries that break the registry's rules or carry a bad signature are "
          "violations naming their index",
          "[audit]") {
    test::temp_dir dir("audit-rules");
    static_log log;
    log.register_identity("alice", "alice-1"); // 0
    log.statement("alice", "alice-1");         // 1
    log.revoke("alice", "alice-1", "alice-1"); // 2: retires alice
    log.statement("alice", "alice-1");         // 3: revoked key
    log.statement("bob", "bob-1");             // 4: never registered
    log.register_identity("carol", "carol-1"); // 5
    log.rotate("carol", "carol-2", "carol-3"); // 6: not the current key
    log.rotate("carol", "carol-1", "carol-2"); // 7
    log.statement("carol", "carol-2");         // 8
    auto bad = log.entries[8];
    bad[bad.size() - 1] ^= 1;   // the signature's last byte
    log.entries.push_back(bad); // 9: bad signature
    log.write(dir / "log");
    auto r = audit(dir / "log", log.vkey(), {"--state", dir / "state"});
    INFO(r.out << r.err);
    CHECK(r.code == node::exit_failed);
    CHECK(r.says("violation index=3 identity=alice: statement: not signed with the current key "
                 "of 'alice'; that key was revoked at index 2"));
    CHECK(r.says("violation index=4 identity=bob: statement: no identity 'bob'"));
    CHECK(r.says("violation index=6 identity=carol: key-rotation: a rotation must be signed "
                 "with the current key"));
    CHECK(r.says("violation index=9 identity=carol: the entry's Ed25519 signature does not "
                 "verify"));
    CHECK(r.out.find("index=7") == std::string::npos);
    CHECK(r.out.find("index=8") == std::string::npos);
    CHECK(r.says("size 10: 4 violations"));
    // Reported once: the next run finds nothing new, and says what came before.
    auto again = audit(dir / "log", log.vkey(), {"--state", dir / "state"});
    CHECK(again.code == node::exit_ok);
    CHECK(again.says("(and 4 found by earlier runs with this state)"));
}

TEST_CASE("audit: the first 1000 violations are printed and the rest counted", "[audit]") {
    test::temp_dir dir("audit-many");
    static_log log;
    for (int i = 0; i < 1003; ++i)
        log.statement("nobody", "nobody");
    log.write(dir / "log");
    // The registry in LMDB, not memory: one record cached at most.
    auto r = audit(dir / "log", log.vkey(), {"--identity-cache", "1"});
    CHECK(r.code == node::exit_failed);
    CHECK(r.out.find("violation index=999 identity=nobody: statement: no identity 'nobody'") !=
          std::string::npos);
    CHECK(r.out.find("index=1000 ") == std::string::npos);
    CHECK(r.says("violations: 3 more not shown (1003 in all)"));
    CHECK(r.says("size 1003: 1003 violations"));
}

TEST_CASE("audit: a checkpoint that does not meet the policy's quorum is a violation", "[audit]") {
    test::temp_dir dir("audit-policy");
    static_log log;
    log.add_clean(20);
    auto w1 = test::witness("w1.test"), w2 = test::witness("w2.test");
    test::audit_log::write_file(dir / "policy.txt", [&] {
        auto text = "log " + log.vkey() + "\nwitness W1 " + note::format_vkey(w1.verifier_key()) +
                    "\nwitness W2 " + note::format_vkey(w2.verifier_key()) +
                    "\ngroup both 2 W1 W2\nquorum both\n";
        return bytes(text.begin(), text.end());
    }());
    const std::vector<std::string> policy{"--policy", dir / "policy.txt"};
    log.write(dir / "log", 20, {"w1.test"});
    auto short_of_quorum = audit(dir / "log", log.vkey(), policy);
    INFO(short_of_quorum.out << short_of_quorum.err);
    CHECK(short_of_quorum.code == node::exit_failed);
    CHECK(short_of_quorum.says("violation tile=checkpoint: --policy: cosigned by 1 of the "
                               "policy's witnesses (W1): the policy's quorum is not met"));
    log.write(dir / "log", 20, {"w1.test", "w2.test"});
    CHECK(audit(dir / "log", log.vkey(), policy).code == node::exit_ok);
    // A policy whose log is another key is the caller's mistake.
    auto other = audit(dir / "log", static_log{"other.test/log", {}}.vkey(), policy);
    CHECK(other.code == node::exit_usage);
    CHECK(other.says("--policy"));
}

TEST_CASE("audit: an interrupted run goes on where it stopped and reads only what was left",
          "[audit]") {
    test::temp_dir dir("audit-resume");
    static_log log;
    log.add_clean(3000);
    log.write(dir / "log");
    const auto missing = fs::path(dir / "log") / tiles::entries_path(7, 256);
    fs::rename(missing, dir / "bundle-7");
    const std::vector<std::string> state{"--state", dir / "state", "--commit-every", "2"};
    auto cut = audit(dir / "log", log.vkey(), state);
    INFO(cut.out << cut.err);
    CHECK(cut.code == node::exit_usage);
    CHECK(cut.says("tile/entries/007: the log does not serve it"));
    CHECK(cut.says("the state keeps the audit at index 1792"));

    fs::rename(dir / "bundle-7", missing);
    auto rest = audit(dir / "log", log.vkey(), state);
    INFO(rest.out << rest.err);
    CHECK(rest.code == node::exit_ok);
    CHECK(rest.says("going on with the audit of size 3000 an earlier run left at 1792"));
    auto whole = audit(dir / "log", log.vkey());
    REQUIRE(whole.code == node::exit_ok);
    // Bundles 7..11 and their tiles, not all twelve.
    CHECK(rest.resources() < whole.resources() / 2 + 3);
    CHECK(rest.resources() + cut.resources() <= whole.resources() + 4);
}

TEST_CASE("audit: usage errors and an unreachable log are exit 2 and name the flag", "[audit]") {
    test::temp_dir dir("audit-usage");
    static_log log;
    log.add_clean(3);
    log.write(dir / "log");
    auto no_dir = audit(dir / "nowhere", log.vkey());
    CHECK(no_dir.code == node::exit_usage);
    CHECK(no_dir.says("--log"));
    auto bad_key = audit(dir / "log", "not a key");
    CHECK(bad_key.code == node::exit_usage);
    CHECK(bad_key.says("--vkey"));
    auto down = audit("http://127.0.0.1:1", log.vkey(), {"--attempts", "1"});
    CHECK(down.code == node::exit_usage);
    CHECK(down.says("--log"));
    auto wrong_key = audit(dir / "log", static_log{"other.test/log", {}}.vkey());
    CHECK(wrong_key.code == node::exit_failed);
    CHECK(wrong_key.says("violation tile=checkpoint: not signed by --vkey"));
    REQUIRE(audit(dir / "log", log.vkey(), {"--state", dir / "state", "--tree-only"}).code ==
            node::exit_ok);
    auto mixed = audit(dir / "log", log.vkey(), {"--state", dir / "state"});
    CHECK(mixed.code == node::exit_usage);
    CHECK(mixed.says("--tree-only"));
}

TEST_CASE("audit: a node's log over HTTP audits clean", "[audit]") {
    test::temp_dir dir("audit-node");
    auto made = node::init_data_dir(dir / "data", "audit-node.test/log");
    REQUIRE(made.ok());
    node::service_options options;
    options.data_dir = dir / "data";
    auto started = node::service::start(options);
    REQUIRE(started.ok());
    const auto server = "http://127.0.0.1:" + std::to_string((*started)->http_port());
    auto cli = [&](std::vector<std::string> args) {
        std::ostringstream out, err;
        int code = node::run_cli(args, out, err);
        INFO(err.str());
        CHECK(code == node::exit_ok);
    };
    cli({"identity", "add", "--server", server, "--token-file", dir / "data/admin.token",
         "--identity", "town/clerk"});
    for (int i = 0; i < 3; ++i) {
        auto doc = dir / ("doc" + std::to_string(i));
        test::audit_log::write_file(doc, bytes{'d', static_cast<std::uint8_t>('0' + i)});
        cli({"sign", "--server", server, "--token-file", dir / "data/admin.token", "--identity",
             "town/clerk", "--file", doc});
    }
    cli({"identity", "rotate", "--server", server, "--token-file", dir / "data/admin.token",
         "--identity", "town/clerk"});
    auto r = audit(server, dir / "data/log.vkey", {"--state", dir / "state"});
    INFO(r.out << r.err);
    CHECK(r.code == node::exit_ok);
    CHECK(r.out == "audit: audit-node.test/log size 5: clean\n");
}

TEST_CASE("audit: a log written by Go's sumdb/tlog audits clean with --tree-only and a flipped "
          "byte in one of its hash tiles is caught",
          "[audit][interop]") {
    const std::string writer = CIVIC_TLOGWRITER;
    INFO("the interop test needs Go (golang-go golang-golang-x-mod-dev, which scripts/setup.sh "
         "installs) when CMake runs");
    REQUIRE_FALSE(writer.empty());
    test::temp_dir dir("audit-go");
    auto write_log = [&](int leaves) {
        auto vkey_file = dir / "vkey";
        REQUIRE(test::run_to_end({writer, "-dir", dir / "log", "-n", std::to_string(leaves)},
                                 dir / "tlogwriter.log", vkey_file) == 0);
        auto out = test::read_file(vkey_file);
        return out.substr(0, out.find('\n'));
    };
    auto vkey = write_log(1000);
    const std::vector<std::string> state{"--tree-only", "--state", dir / "state"};
    auto first = audit(dir / "log", vkey, state);
    INFO(first.out << first.err);
    CHECK(first.code == node::exit_ok);
    CHECK(first.out == "audit: interop.example/tlogwriter size 1000: clean\n");
    REQUIRE(write_log(1300) == vkey);
    auto grown = audit(dir / "log", vkey, state);
    INFO(grown.out << grown.err);
    CHECK(grown.code == node::exit_ok);
    CHECK(grown.out == "audit: interop.example/tlogwriter size 1300: clean\n");

    test::audit_log::flip_byte(dir / "log/tile/0/001", 7);
    auto flipped = audit(dir / "log", vkey, {"--tree-only"});
    INFO(flipped.out << flipped.err);
    CHECK(flipped.code == node::exit_failed);
    CHECK(flipped.says("violation tile=tile/0/001: "));
}

} // namespace audit_test
