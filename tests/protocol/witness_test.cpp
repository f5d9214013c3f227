// tlog-witness add-checkpoint bodies: every line rule of the spec, and the
// round trip of what a log sends.
#include "protocol/witness.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace civic;

TEST_CASE("add-checkpoint bodies parse by the spec's line rules", "[witness]") {
    const std::string cp =
        "example.com/log\n3\n" + base64_encode(hash{}) + "\n\n\xe2\x80\x94 x AAAA\n";
    std::vector<hash> proof(2, hash{});
    auto body = witness::serialize({7, proof, cp});
    auto parsed = witness::parse_add_checkpoint(body);
    REQUIRE(parsed);
    CHECK(parsed->old_size == 7);
    CHECK(parsed->proof.size() == 2);
    CHECK(parsed->checkpoint == cp);
    CHECK(witness::serialize(*parsed) == body);

    CHECK(witness::parse_add_checkpoint("old 0\n\n" + cp));
    CHECK(witness::parse_add_checkpoint("old 18446744073709551615\n\n" + cp));
    struct bad_body {
        const char* what;
        std::string body;
    };
    for (const auto& bad : std::vector<bad_body>{
             {"a leading zero", "old 01\n\n" + cp},
             {"no size", "old\n\n" + cp},
             {"not a number", "old -1\n\n" + cp},
             {"above 2^64 - 1", "old 18446744073709551616\n\n" + cp},
             {"the keyword is \"old\"", "Old 1\n\n" + cp},
             {"no empty line", "old 1\n" + cp},
             {"a proof line that is no 32-byte hash", "old 1\nAAAA\n\n" + cp},
             {"no checkpoint", "old 1\n\n"},
             {"no newline at all", "old 1"},
         }) {
        INFO(bad.what);
        CHECK_FALSE(witness::parse_add_checkpoint(bad.body));
    }
    // At most 63 proof lines.
    CHECK(witness::parse_add_checkpoint(witness::serialize({9, std::vector<hash>(63), cp})));
    CHECK_FALSE(witness::parse_add_checkpoint(witness::serialize({9, std::vector<hash>(64), cp})));
    CHECK_FALSE(witness::parse_add_checkpoint(std::string(witness::max_request_size + 1, 'o')));
}

TEST_CASE("a witness trusts only Ed25519 log keys, by origin", "[witness]") {
    witness::trusted_logs logs;
    auto log = test::log_signer("example.com/log");
    REQUIRE(logs.add(note::format_vkey(log.verifier_key())));
    CHECK(logs.find("example.com/log") != nullptr);
    CHECK(logs.find("other.example/log") == nullptr);
    CHECK_FALSE(logs.add(note::format_vkey(test::witness("w").verifier_key())));
    CHECK_FALSE(logs.add("not a key"));
}

TEST_CASE("only a fork is evidence: a failing proof is the requester's, not the log's",
          "[witness]") {
    witness::trusted_logs logs;
    auto log = test::log_signer("example.com/log");
    REQUIRE(logs.add(note::format_vkey(log.verifier_key())));
    auto leaves = test::make_leaves(16);
    auto signed_at = [&](std::uint64_t size, std::optional<hash> root = std::nullopt) {
        checkpoint cp{
            "example.com/log", size, root ? *root : test::reference_root(leaves, 0, size), {}};
        return note::serialize({cp.text(), {log.sign(cp.text())}});
    };
    witness::cosigned_state latest{8, test::reference_root(leaves, 0, 8), {}};

    auto forked = witness::check_add_checkpoint(
        {8, {}, signed_at(8, sha256(byte_view(std::string("fork"))))}, logs, latest);
    CHECK(forked.result == witness::outcome::conflict);
    CHECK(forked.evidence);

    // A genuine checkpoint with a wrong proof: refused, but proves nothing of the log.
    std::vector<hash> wrong(4, hash{});
    auto replayed = witness::check_add_checkpoint({8, wrong, signed_at(12)}, logs, latest);
    CHECK(replayed.result == witness::outcome::inconsistent);
    CHECK_FALSE(replayed.evidence);

    std::vector<hash> proof;
    test::reference_subproof(leaves, 8, 0, 12, true, proof);
    CHECK(witness::check_add_checkpoint({8, proof, signed_at(12)}, logs, latest).result ==
          witness::outcome::cosign);
}
