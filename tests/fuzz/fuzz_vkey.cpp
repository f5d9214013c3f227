// libFuzzer target: note::parse_vkey and format_vkey round trip; note::parse_signer_key
// (the secret-key string) and its round trip.
#include "protocol/note.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    if (auto signer = civic::note::parse_signer_key(input)) {
        auto again = civic::note::format_signer_key(signer->name, signer->type, signer->key);
        if (again != input) CIVIC_FUZZ_FAIL("format_signer_key(parse_signer_key(input)) != input");
    }
    auto key = civic::note::parse_vkey(input);
    if (!key) return 0;
    if (!civic::note::valid_key_name(key->name)) CIVIC_FUZZ_FAIL("invalid key name accepted");
    if (key->public_key.empty()) CIVIC_FUZZ_FAIL("empty key material accepted");

    std::string formatted = civic::note::format_vkey(*key);
    if (formatted != input) CIVIC_FUZZ_FAIL("format_vkey(parse_vkey(input)) != input");
    auto again = civic::note::parse_vkey(formatted);
    if (!again) CIVIC_FUZZ_FAIL("formatted vkey does not parse");
    if (again->name != key->name || again->key_id != key->key_id || again->type != key->type ||
        again->public_key != key->public_key)
        CIVIC_FUZZ_FAIL("vkey changed across format/parse");

    if (key->type == civic::note::type_ed25519 || key->type == civic::note::type_cosignature_v1) {
        auto v = civic::note::make_verifier(*key);
        if (!v) CIVIC_FUZZ_FAIL("make_verifier rejects a parsed Ed25519/cosignature vkey");
        if ((*v)->key_id() != key->key_id || (*v)->name() != key->name)
            CIVIC_FUZZ_FAIL("verifier identity differs");
        (void)(*v)->verify("text\n", civic::byte_view(key->public_key));
    }
    return 0;
}
