// libFuzzer target: parse_signed_checkpoint and parse_checkpoint; text() must
// reproduce the note text.
#include "protocol/checkpoint.hpp"
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
    std::unique_ptr<civic::note::verifier> log = fixed_verifier(
        "log.civic.example/fuzz+c31b5c30+AdBKsjJ0K7SrOhNovUYV5ObQIkq3GgFrr4UgozLJd4c3");
    std::unique_ptr<civic::note::verifier> witness = fixed_verifier(
        "witness.civic.example/w1+95d3e18d+BKCapfR6Z1mAL/lV+NwtKhSlyZ0jvpf4ZBJ/+Tg0VaTw");
    std::vector<const civic::note::verifier*> list{log.get(), witness.get()};
};

const fixed_verifiers& verifiers() {
    static const fixed_verifiers v;
    return v;
}

void check_body(const civic::checkpoint& cp) {
    if (cp.origin.empty()) CIVIC_FUZZ_FAIL("empty origin accepted");
    if (cp.extensions.size() > civic::max_checkpoint_extensions)
        CIVIC_FUZZ_FAIL("too many extensions accepted");
    for (const auto& ext : cp.extensions)
        if (ext.empty()) CIVIC_FUZZ_FAIL("empty extension accepted");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);

    if (auto sc = civic::parse_signed_checkpoint(input)) {
        check_body(sc->body);
        if (sc->body.text() != sc->signed_note.text)
            CIVIC_FUZZ_FAIL("checkpoint text() != note text");
        if (civic::note::serialize(sc->signed_note) != input)
            CIVIC_FUZZ_FAIL("signed checkpoint does not round-trip");
        auto body = civic::parse_checkpoint(sc->signed_note.text);
        if (!body || !(*body == sc->body))
            CIVIC_FUZZ_FAIL("parse_checkpoint disagrees with parse_signed_checkpoint");
        auto opened = civic::note::open(sc->signed_note, verifiers().list);
        if (opened && opened->signed_by.empty()) CIVIC_FUZZ_FAIL("open succeeded with no signer");
    }

    if (auto cp = civic::parse_checkpoint(input)) {
        check_body(*cp);
        if (cp->text() != input) CIVIC_FUZZ_FAIL("parse_checkpoint(input).text() != input");
    }
    return 0;
}
