// tlog-witness add-checkpoint bodies: every line rule of the spec, and the
// round trip of what a log sends.
#include "protocol/witness.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

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
    for (const std::string& bad : {
             "old 01\n\n" + cp,                   // a leading zero
             "old\n\n" + cp,                      // no size
             "old -1\n\n" + cp,                   // not a number
             "old 18446744073709551616\n\n" + cp, // above 2^64 - 1
             "Old 1\n\n" + cp,                    // the keyword is "old"
             "old 1\n" + cp,                      // no empty line
             "old 1\nAAAA\n\n" + cp,              // a proof line that is no 32-byte hash
             std::string("old 1\n\n"),            // no checkpoint
             std::string("old 1"),                // no newline at all
         })
        CHECK_FALSE(witness::parse_add_checkpoint(bad));
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
