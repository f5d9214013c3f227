// libFuzzer target: note::parse, serialize round trip, and note::open with fixed verifiers.
#include "protocol/note.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string_view>
#include <vector>

using civic::fuzz::fixed_verifier;

namespace {

struct fixed_verifiers {
    std::unique_ptr<civic::note::verifier> ed25519 =
        fixed_verifier("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
    std::unique_ptr<civic::note::verifier> cosigner = fixed_verifier(
        "witness.civic.example/w1+95d3e18d+BKCapfR6Z1mAL/lV+NwtKhSlyZ0jvpf4ZBJ/+Tg0VaTw");
    std::vector<const civic::note::verifier*> list{ed25519.get(), cosigner.get()};
};

const fixed_verifiers& verifiers() {
    static const fixed_verifiers v;
    return v;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto& known = verifiers().list;

    auto parsed = civic::note::parse(input);
    if (!parsed) return 0;
    const civic::note::note& n = *parsed;
    if (civic::note::serialize(n) != input) CIVIC_FUZZ_FAIL("serialize(parse(input)) != input");
    if (!civic::note::check_text(n.text)) CIVIC_FUZZ_FAIL("parsed note text fails check_text");
    if (n.signatures.empty() || n.signatures.size() > civic::note::max_signatures)
        CIVIC_FUZZ_FAIL("signature count out of range");
    for (const auto& sig : n.signatures)
        if (!civic::note::valid_key_name(sig.name) || sig.data.empty())
            CIVIC_FUZZ_FAIL("bad signature accepted");

    auto opened = civic::note::open(std::move(*parsed), known);
    if (opened) {
        const auto& by = opened->signed_by;
        if (by.empty()) CIVIC_FUZZ_FAIL("open succeeded with no signer");
        for (std::size_t i = 0; i < by.size(); ++i) {
            if (by[i] >= known.size()) CIVIC_FUZZ_FAIL("signed_by index out of range");
            if (i > 0 && by[i] <= by[i - 1]) CIVIC_FUZZ_FAIL("signed_by not ascending and unique");
        }
        if (civic::note::serialize(opened->content) != input)
            CIVIC_FUZZ_FAIL("opened note differs from input");
    }
    return 0;
}
