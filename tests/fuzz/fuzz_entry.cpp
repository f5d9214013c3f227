// libFuzzer target: decode_entry; encode() must reproduce the input.
#include "protocol/entry.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    civic::byte_view input(data, size);
    auto e = civic::decode_entry(input);
    if (!e) return 0;
    civic::bytes encoded = e->encode();
    if (!civic::equal(encoded, input)) CIVIC_FUZZ_FAIL("encode(decode_entry(input)) != input");
    if (!civic::check_entry(*e)) CIVIC_FUZZ_FAIL("decoded entry fails check_entry");
    auto again = civic::decode_entry(encoded);
    if (!again || !(*again == *e)) CIVIC_FUZZ_FAIL("entry changed across encode/decode");
    civic::bytes message = e->signed_message();
    if (message.size() !=
        civic::entry_signature_context.size() + size - civic::ed25519::signature_size)
        CIVIC_FUZZ_FAIL("signed_message has the wrong length");
    (void)e->signature_valid();
    (void)e->key_id();
    (void)e->payload_key();
    (void)civic::to_string(e->kind);
    return 0;
}
