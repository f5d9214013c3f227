// Shared by the libFuzzer targets: how a harness reports a broken invariant, and
// verifiers made from fixed test keys.
#pragma once

#include "protocol/assert.hpp"
#include "protocol/note.hpp"

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace civic::fuzz {

/// A broken invariant: reported as a failed CIVIC_ASSERT (what, file, line),
/// then abort; libFuzzer saves the input as a crash. The code under test
/// asserts its own invariants the same way, in the fuzzers too.
#define CIVIC_FUZZ_FAIL(what)                                                                      \
    ::civic::detail::assertion_failed(what, std::string(), __FILE__, __LINE__)

/// A verifier for a fixed, known-good vkey.
inline std::unique_ptr<note::verifier> fixed_verifier(std::string_view vkey_text) {
    auto key = note::parse_vkey(vkey_text);
    if (!key) CIVIC_FUZZ_FAIL("fixed vkey does not parse");
    auto v = note::make_verifier(*key);
    if (!v) CIVIC_FUZZ_FAIL("fixed vkey has no verifier");
    return std::move(*v);
}

} // namespace civic::fuzz
