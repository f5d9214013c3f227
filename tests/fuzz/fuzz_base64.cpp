// libFuzzer target: base64_decode / hex_decode / parse_decimal round trips.
#include "protocol/bytes.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    civic::byte_view raw(data, size);

    // Strict base64: every accepted encoding is the canonical one.
    if (auto decoded = civic::base64_decode(text)) {
        if (civic::base64_encode(*decoded) != text)
            CIVIC_FUZZ_FAIL("base64_encode(base64_decode(x)) != x");
    }
    // And every encoding decodes back.
    {
        std::string encoded = civic::base64_encode(raw);
        auto decoded = civic::base64_decode(encoded);
        if (!decoded || !civic::equal(*decoded, raw))
            CIVIC_FUZZ_FAIL("base64_decode(base64_encode(x)) != x");
    }
    if (auto fixed = civic::base64_decode_fixed<32>(text)) {
        if (civic::base64_encode(*fixed) != text)
            CIVIC_FUZZ_FAIL("base64_decode_fixed<32> accepted a non-canonical input");
    }

    if (auto decoded = civic::hex_decode(text)) {
        if (civic::hex_encode(*decoded) != lowercase(text))
            CIVIC_FUZZ_FAIL("hex_encode(hex_decode(x)) != lower(x)");
    }
    {
        auto decoded = civic::hex_decode(civic::hex_encode(raw));
        if (!decoded || !civic::equal(*decoded, raw))
            CIVIC_FUZZ_FAIL("hex_decode(hex_encode(x)) != x");
    }

    if (auto v = civic::parse_decimal(text)) {
        if (std::to_string(*v) != text)
            CIVIC_FUZZ_FAIL("parse_decimal accepted a non-canonical number");
    }
    if (size >= 8) {
        std::uint64_t max = civic::get_u64_be(data);
        if (auto v = civic::parse_decimal(text.substr(8), max)) {
            if (*v > max) CIVIC_FUZZ_FAIL("parse_decimal exceeded its maximum");
            if (std::to_string(*v) != text.substr(8))
                CIVIC_FUZZ_FAIL("parse_decimal (with max) not canonical");
        }
    }
    return 0;
}
