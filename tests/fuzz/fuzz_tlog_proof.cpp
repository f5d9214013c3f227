// libFuzzer target: parse_tlog_proof; serialize() must reproduce the input.
#include "protocol/bundle.hpp"
#include "protocol/tlog_proof.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto proof = civic::parse_tlog_proof(input);
    if (!proof) return 0;
    if (proof->serialize() != input) CIVIC_FUZZ_FAIL("serialize(parse_tlog_proof(input)) != input");
    if (proof->inclusion.size() >= civic::merkle::max_proof_hashes)
        CIVIC_FUZZ_FAIL("too many proof hashes accepted");
    if (proof->extra && proof->extra->size() > civic::max_tlog_proof_extra)
        CIVIC_FUZZ_FAIL("oversized extra accepted");

    auto cp = civic::parse_signed_checkpoint(proof->checkpoint);
    if (!cp) CIVIC_FUZZ_FAIL("accepted proof's checkpoint does not parse");
    // Exercise verification against the proof's own checkpoint (result irrelevant).
    civic::hash leaf = civic::merkle::leaf_hash(proof->extra ? civic::byte_view(*proof->extra)
                                                             : civic::byte_view());
    (void)civic::merkle::verify_inclusion(proof->index, cp->body.size, leaf, proof->inclusion,
                                          cp->body.root);
    // The whole offline verification path, under a policy trusting nothing it can meet:
    // it must fail cleanly (never crash, never call a fuzzed proof valid).
    static const auto trust = [] {
        auto p = civic::parse_policy(
            "log example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k\nquorum "
            "none\n");
        if (!p) CIVIC_FUZZ_FAIL("fixed policy does not parse");
        auto v = civic::policy_verifier::make(*p);
        if (!v) CIVIC_FUZZ_FAIL("fixed policy has no verifier");
        return std::move(*v);
    }();
    auto verdict = civic::verify_bundle(trust, input, std::nullopt);
    if (verdict.checks.empty() || verdict.checks.front().name != "format" ||
        !verdict.checks.front().passed)
        CIVIC_FUZZ_FAIL("verify_bundle disagrees with parse_tlog_proof");
    return 0;
}
