// libFuzzer target: cosignature::decode (and the cosignature/v1 verifier on the input).
#include "protocol/cosignature.hpp"
#include "protocol/note.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace {

const civic::note::verifier& witness() {
    static const std::unique_ptr<civic::note::verifier> v = [] {
        auto key = civic::note::parse_vkey(
            "witness.civic.example/w1+95d3e18d+BKCapfR6Z1mAL/lV+NwtKhSlyZ0jvpf4ZBJ/+Tg0VaTw");
        if (!key) CIVIC_FUZZ_FAIL("fixed vkey does not parse");
        auto made = civic::note::make_verifier(*key);
        if (!made) CIVIC_FUZZ_FAIL("fixed vkey has no verifier");
        return std::move(*made);
    }();
    return *v;
}

// The checkpoint text that fuzz/corpus/cosignature/w1.bin cosigns.
constexpr std::string_view checkpoint_text =
    "log.civic.example/fuzz\n13\nWH4eXc3P3afZ3wFVlTDhoWZtmfy2XOaZvvqrsnF4NPI=\n";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    civic::byte_view input(data, size);
    bool verified = witness().verify(checkpoint_text, input);
    auto ts = civic::cosignature::decode(input);
    if (!ts) {
        if (verified) CIVIC_FUZZ_FAIL("verifier accepted a signature that does not decode");
        return 0;
    }
    if (size != civic::cosignature::timestamped_signature_size)
        CIVIC_FUZZ_FAIL("wrong size accepted");
    if (ts->timestamp > civic::cosignature::max_timestamp)
        CIVIC_FUZZ_FAIL("timestamp above 2^63 - 1 accepted");
    if (!civic::equal(civic::cosignature::encode(*ts), input))
        CIVIC_FUZZ_FAIL("encode(decode(x)) != x");
    std::string message = civic::cosignature::signed_message(checkpoint_text, ts->timestamp);
    std::string prefix = "cosignature/v1\ntime " + std::to_string(ts->timestamp) + "\n";
    if (message != prefix + std::string(checkpoint_text))
        CIVIC_FUZZ_FAIL("signed_message has the wrong form");
    return 0;
}
