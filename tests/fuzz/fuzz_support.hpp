// Shared by the libFuzzer targets: how a harness reports a broken invariant, and
// verifiers made from fixed test keys.
#pragma once

#include "protocol/note.hpp"

#include <cstdio>
#include <memory>
#include <string_view>

namespace civic::fuzz {

/// A broken invariant: print it and stop (libFuzzer saves the input as a crash).
[[noreturn]] inline void fail(const char* what) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    __builtin_trap();
}

/// A verifier for a fixed, known-good vkey.
inline std::unique_ptr<note::verifier> fixed_verifier(std::string_view vkey_text) {
    auto key = note::parse_vkey(vkey_text);
    if (!key) fail("fixed vkey does not parse");
    auto v = note::make_verifier(*key);
    if (!v) fail("fixed vkey has no verifier");
    return std::move(*v);
}

} // namespace civic::fuzz
