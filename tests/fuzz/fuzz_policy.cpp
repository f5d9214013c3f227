// libFuzzer target: parse_policy; quorum_met on all-true / all-false vectors, and
// verifying a fixed signed checkpoint under the parsed policy.
#include "protocol/policy.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

namespace {

// Signed by log.civic.example/fuzz (seed 0x11 * 32) and cosigned by
// witness.civic.example/w1 and /w2 (seeds 0x22 * 32, 0x33 * 32); see fuzz/corpus/policy/.
constexpr std::string_view fixed_checkpoint =
    "log.civic.example/fuzz\n"
    "13\n"
    "WH4eXc3P3afZ3wFVlTDhoWZtmfy2XOaZvvqrsnF4NPI=\n"
    "\n"
    "\xE2\x80\x94 log.civic.example/fuzz "
    "wxtcMDhh+EnxqSRahOc8HVkDgKf3DMHq48alFBLAmoygEncCTsRSw3bIecpDrfOYdQ+sBaGGe9d/ue7OiO8cau7fvQI=\n"
    "\xE2\x80\x94 witness.civic.example/w1 "
    "ldPhjQAAAABpVbkBOpLx62jjzD16iBxExtiyq57LMZBDv8GbB7IyAFStjKMteUDCmAKCasNzvP6VVliPfofkc7qNcTabO3"
    "hpniiTCQ==\n"
    "\xE2\x80\x94 witness.civic.example/w2 "
    "uAS7+gAAAABpVbkCgm18d5BCJfEOmBYzWVJVvLy8NT4qimQqHnZWBFoh7q9/"
    "oUSF8BqsM88C77Yx+d39i8BVrbi1RNDz2PBUkZ7JBA==\n";

void check_structure(const civic::policy& p) {
    using kind = civic::policy::quorum_kind;
    if (p.quorum == kind::witness && p.quorum_index >= p.witnesses.size())
        CIVIC_FUZZ_FAIL("quorum witness out of range");
    if (p.quorum == kind::group && p.quorum_index >= p.groups.size())
        CIVIC_FUZZ_FAIL("quorum group out of range");
    for (std::size_t g = 0; g < p.groups.size(); ++g) {
        const auto& group = p.groups[g];
        if (group.members.empty()) CIVIC_FUZZ_FAIL("empty group accepted");
        if (group.threshold < 1 || group.threshold > group.members.size())
            CIVIC_FUZZ_FAIL("threshold out of range");
        for (const auto& m : group.members) {
            if (m.is_group && m.index >= g)
                CIVIC_FUZZ_FAIL("group refers to itself or a later group");
            if (!m.is_group && m.index >= p.witnesses.size())
                CIVIC_FUZZ_FAIL("group member witness out of range");
        }
    }
    for (const auto& l : p.logs)
        if (l.key.type != civic::note::type_ed25519)
            CIVIC_FUZZ_FAIL("log key with wrong type accepted");
    for (const auto& w : p.witnesses)
        if (w.key.type != civic::note::type_cosignature_v1)
            CIVIC_FUZZ_FAIL("witness key with wrong type accepted");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto p = civic::parse_policy(input);
    if (!p) return 0;
    check_structure(*p);

    const bool none = p->quorum == civic::policy::quorum_kind::none;
    const std::size_t n = p->witnesses.size();
    if (!p->quorum_met(std::vector<bool>(n, true)))
        CIVIC_FUZZ_FAIL("quorum not met when every witness cosigned");
    if (p->quorum_met(std::vector<bool>(n, false)) != none)
        CIVIC_FUZZ_FAIL("quorum met with no cosignature");
    if (p->quorum_met(std::vector<bool>()) != none)
        CIVIC_FUZZ_FAIL("quorum met with an empty cosigner vector");

    auto verifier = civic::policy_verifier::make(*p);
    if (!verifier) CIVIC_FUZZ_FAIL("policy_verifier::make rejects a parsed policy");
    auto verdict = verifier->verify(fixed_checkpoint);
    if (verdict) {
        if (verdict->log >= p->logs.size()) CIVIC_FUZZ_FAIL("verdict log out of range");
        if (verdict->witnesses.size() > n)
            CIVIC_FUZZ_FAIL("more verified witnesses than the policy has");
        if (none && !verdict->quorum) CIVIC_FUZZ_FAIL("quorum none but verdict says not met");
    }
    return 0;
}
