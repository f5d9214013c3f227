// The CLI of an identity's owner and of its monitor, against a node in this
// process: keys held by their owners (keygen --identity, identity --key,
// sign --key --journal) and `civic-attest monitor`.
#include "cli_support.hpp"
#include "node/system/files.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/note.hpp"
#include "protocol/split_view.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sys/stat.h>

using namespace civic;
using namespace civic::test::cli_support;
namespace fs = std::filesystem;

TEST_CASE("cli: an identity whose owner holds its key signs end to end without the node ever "
          "holding it",
          "[cli][owner]") {
    cli_node n;
    auto key_file = n.dir / "owner/clerk.key";
    auto made = run({"keygen", "--identity", "town/clerk", "--out", key_file});
    INFO(made.err);
    REQUIRE(made.code == node::exit_ok);
    REQUIRE(is_key_line(made.out));
    auto public_key = made.out.substr(0, 64);
    struct stat st {};
    REQUIRE(::stat(key_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(run({"keygen", "--identity", "town/clerk"}).code == node::exit_usage); // no --out
    CHECK(run({"keygen", "--identity", "Bad Name", "--out", key_file + "2"}).code ==
          node::exit_usage);

    auto added = n.identity("add", {"--identity", "town/clerk", "--key", key_file});
    INFO(added.err);
    REQUIRE(added.code == node::exit_ok);
    CHECK(added.out == public_key + "\n");
    // Another identity's key file is refused by name before anything is sent.
    auto wrong = n.identity("add", {"--identity", "town/mayor", "--key", key_file});
    CHECK(wrong.code == node::exit_usage);
    CHECK(has(wrong.err, "not of 'town/mayor'"));
    CHECK(n.identity("list", {"--identity", "town/clerk"}).out ==
          "town/clerk " + public_key + " 1 key owner-held\n");

    // Signed here, submitted whole; the proof verifies offline; the journal has it.
    auto doc = n.dir / "minutes.txt";
    write(doc, "minutes of the council, 2 December 2026\n");
    auto journal = n.dir / "owner/journal.jsonl";
    std::vector<std::string> sign{
        "sign",       "--server", n.server, "--token-file", n.admin_token_file, "--identity",
        "town/clerk", "--file",   doc,      "--key",        key_file,           "--journal",
        journal};
    auto signed_doc = run(sign);
    INFO(signed_doc.err);
    REQUIRE(signed_doc.code == node::exit_ok);
    auto verified = run({"verify", "--proof", doc + ".tlog-proof", "--content", doc, "--log-key",
                         read(n.vkey_file).substr(0, read(n.vkey_file).find('\n'))});
    INFO(verified.out << verified.err);
    CHECK(verified.code == node::exit_ok);
    auto journaled = lines(read(journal));
    REQUIRE(journaled.size() == 1);
    auto line = nlohmann::json::parse(journaled[0]);
    CHECK(line["index"] == 1);
    CHECK(line["identity"] == "town/clerk");
    CHECK(line["kind"] == "statement");
    CHECK(line["content_sha256"] == hex_encode(sha256(byte_view(read(doc)))));

    // The node keeps nothing for it, and will not sign for it.
    for (const auto& f : fs::directory_iterator(n.dir / "data/keys"))
        FAIL("a key file in keys/: " << f.path());
    auto custodial = run({"sign", "--server", n.server, "--token-file", n.admin_token_file,
                          "--identity", "town/clerk", "--file", doc, "--out", doc + ".2"});
    CHECK(custodial.code == node::exit_failed);
    CHECK(has(custodial.err, "owner_held"));
    CHECK(has(custodial.err, "--key"));
    CHECK(n.identity("rotate", {"--identity", "town/clerk"}).code == node::exit_failed);

    // Rotation signed by the old key; then only the new key signs.
    auto next_file = n.dir / "owner/clerk-2.key";
    auto next = run({"keygen", "--identity", "town/clerk", "--out", next_file});
    REQUIRE(next.code == node::exit_ok);
    auto rotated = n.identity(
        "rotate", {"--identity", "town/clerk", "--key", key_file, "--new-key", next_file});
    INFO(rotated.err);
    REQUIRE(rotated.code == node::exit_ok);
    CHECK(rotated.out == next.out);
    auto stale = run(sign);
    CHECK(stale.code == node::exit_failed);
    CHECK(has(stale.err, "current key"));
    sign[10] = next_file;
    REQUIRE(run(sign).code == node::exit_ok);
    CHECK(lines(read(journal)).size() == 2);
    // The new key revokes itself: the identity is retired.
    auto revoked = n.identity("revoke", {"--identity", "town/clerk", "--key", next_file});
    INFO(revoked.err);
    REQUIRE(revoked.code == node::exit_ok);
    CHECK(has(revoked.err, "retired"));
    CHECK(run(sign).code == node::exit_failed);
    for (const auto& f : fs::directory_iterator(n.dir / "data/keys"))
        FAIL("a key file in keys/: " << f.path());
}

namespace {

/// `civic-attest monitor --once` for `identity` of the node, with `extra` flags.
cli_result monitor_once(cli_node& n, const std::string& state, std::vector<std::string> extra) {
    std::vector<std::string> args{"monitor",   "--once",  "--log", n.server,     "--vkey",
                                  n.vkey_file, "--state", state,   "--identity", "town/clerk"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
}

std::vector<nlohmann::json> events(const std::string& out) {
    std::vector<nlohmann::json> parsed;
    for (const auto& line : lines(out))
        parsed.push_back(nlohmann::json::parse(line));
    return parsed;
}

} // namespace

TEST_CASE("cli: monitor reports each entry of a watched identity and alarms on a statement the "
          "owner's journal does not hold and on key changes",
          "[cli][monitor]") {
    cli_node n;
    REQUIRE(n.identity("add", {"--identity", "town/clerk"}).code == node::exit_ok);
    auto journal = n.dir / "journal.jsonl";
    auto sign = [&](const std::string& name, bool journaled) {
        auto doc = n.dir / name;
        write(doc, name);
        std::vector<std::string> args{"sign",         "--server",         n.server,
                                      "--token-file", n.admin_token_file, "--identity",
                                      "town/clerk",   "--file",           doc};
        if (journaled) args.insert(args.end(), {"--journal", journal});
        auto r = run(args);
        INFO(r.err);
        REQUIRE(r.code == node::exit_ok);
    };
    sign("owner-signed.txt", true);
    sign("operator-signed.txt", false); // through the custodial path, not by the owner
    auto state = n.dir / "monitor";
    auto alarms = n.dir / "alarms.jsonl";
    auto first = monitor_once(n, state, {"--journal", journal, "--exec", "cat >> " + alarms});
    INFO(first.err);
    CHECK(first.code == node::exit_failed);
    auto seen = events(first.out);
    REQUIRE(seen.size() == 3);
    CHECK(seen[0]["event"] == "registration");
    CHECK(seen[0]["alarm"] == true); // a key change
    CHECK(seen[1]["index"] == 1);
    CHECK(seen[1]["journaled"] == true);
    CHECK(seen[1]["alarm"] == false);
    CHECK(seen[2]["index"] == 2);
    CHECK(seen[2]["journaled"] == false);
    CHECK(seen[2]["alarm"] == true);
    CHECK(seen[2]["content_sha256"] == hex_encode(sha256(byte_view("operator-signed.txt"))));
    auto exec_got = events(read(alarms));
    REQUIRE(exec_got.size() == 2);
    CHECK(exec_got[1]["index"] == 2);

    // Nothing new: quiet, exit 0. Then one journaled statement: reported, no alarm.
    auto quiet = monitor_once(n, state, {"--journal", journal});
    CHECK(quiet.code == node::exit_ok);
    CHECK(quiet.out.empty());
    sign("owner-again.txt", true);
    auto again = monitor_once(n, state, {"--journal", journal});
    CHECK(again.code == node::exit_ok);
    REQUIRE(events(again.out).size() == 1);
    CHECK(events(again.out)[0]["index"] == 3);
    // A rotation is an alarm.
    REQUIRE(n.identity("rotate", {"--identity", "town/clerk"}).code == node::exit_ok);
    auto rotated = monitor_once(n, state, {"--journal", journal});
    CHECK(rotated.code == node::exit_failed);
    REQUIRE(events(rotated.out).size() == 1);
    CHECK(events(rotated.out)[0]["event"] == "rotation");
    // Usage: a bad identity name, an unreachable log.
    CHECK(run({"monitor", "--once", "--log", n.server, "--vkey", n.vkey_file, "--state", state,
               "--identity", "Bad Name"})
              .code == node::exit_usage);
    CHECK(run({"monitor", "--once", "--log", "http://127.0.0.1:1", "--vkey", n.vkey_file, "--state",
               n.dir / "other", "--identity", "town/clerk"})
              .code == node::exit_usage);
}

TEST_CASE("cli: monitor catches a fork and a rollback between two runs and writes evidence "
          "anyone can check",
          "[cli][monitor]") {
    cli_node n;
    for (const char* name : {"town/clerk", "town/a", "town/b", "town/c"})
        REQUIRE(n.identity("add", {"--identity", name}).code == node::exit_ok);
    auto state = n.dir / "monitor";
    REQUIRE(monitor_once(n, state, {}).code == node::exit_failed); // the registration
    // What a log showing another history would have shown the monitor before:
    // a checkpoint signed by the same log key, at the same size, another root.
    auto log_key = node::read_signer_key_file(n.dir / "data/log.key");
    REQUIRE(log_key.ok());
    note::ed25519_signer signer(log_key->name, std::move(log_key->key));
    auto saved = nlohmann::json::parse(read(state + "/monitor.json"));
    auto real = parse_signed_checkpoint(saved["checkpoint"].get<std::string>());
    REQUIRE(real.ok());
    auto forge = [&](std::uint64_t size) {
        civic::checkpoint other{real->body.origin, size, sha256(byte_view("another history")), {}};
        return note::serialize(note::note{other.text(), {signer.sign(other.text())}});
    };
    auto other_history = forge(real->body.size);
    saved["checkpoint"] = other_history;
    write(state + "/monitor.json", saved.dump());
    auto forked = monitor_once(n, state, {});
    INFO(forked.err);
    CHECK(forked.code == node::exit_failed);
    auto seen = events(forked.out);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0]["event"] == "fork");
    auto evidence = seen[0]["evidence"].get<std::string>();
    split_view_evidence ev{read(evidence + "/ours.checkpoint"),
                           read(evidence + "/theirs.checkpoint"),
                           std::nullopt,
                           {}};
    CHECK(nlohmann::json::parse(read(evidence + "/evidence.json"))["kind"] == "fork");
    auto verifier = note::make_verifier(signer.verifier_key());
    REQUIRE(verifier.ok());
    auto kind = check_split_view(ev, **verifier);
    INFO((kind ? "" : kind.message()));
    REQUIRE(kind.ok());
    CHECK(*kind == split_view_kind::fork);
    // The state keeps what it saw before: the next run alarms again.
    CHECK(monitor_once(n, state, {}).code == node::exit_failed);

    saved["checkpoint"] = forge(real->body.size + 100);
    write(state + "/monitor.json", saved.dump());
    auto rolled_back = monitor_once(n, state, {});
    CHECK(rolled_back.code == node::exit_failed);
    REQUIRE(events(rolled_back.out).size() == 1);
    CHECK(events(rolled_back.out)[0]["event"] == "rollback");

    // Before, a smaller tree of another history: the log's own tiles prove it.
    saved["checkpoint"] = forge(real->body.size - 2);
    write(state + "/monitor.json", saved.dump());
    auto other = monitor_once(n, state, {});
    CHECK(other.code == node::exit_failed);
    REQUIRE(events(other.out).size() == 1);
    auto inconsistent = events(other.out)[0];
    CHECK(inconsistent["event"] == "inconsistent");
    auto held =
        nlohmann::json::parse(read(inconsistent["evidence"].get<std::string>() + "/evidence.json"));
    split_view_evidence shown{held["ours"], held["theirs"], std::nullopt, {}};
    shown.root_at_smaller =
        base64_decode_fixed<32>(held["root_at_smaller"].get<std::string>()).value();
    std::istringstream lines_of_proof(held["proof"].get<std::string>());
    for (std::string h; std::getline(lines_of_proof, h);)
        shown.proof.push_back(base64_decode_fixed<32>(h).value());
    auto shown_kind = check_split_view(shown, **verifier);
    INFO((shown_kind ? "" : shown_kind.message()));
    REQUIRE(shown_kind.ok());
    CHECK(*shown_kind == split_view_kind::inconsistent);
}
