#include "protocol/bytes.hpp"
#include "protocol/ed25519.hpp"
#include "protocol/sha256.hpp"

#include <catch2/catch.hpp>

using namespace civic;

TEST_CASE("base64 matches RFC 4648 section 10 and round-trips", "[encoding]") {
    const std::pair<const char*, const char*> cases[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (auto [plain, encoded] : cases) {
        CHECK(base64_encode(byte_view(std::string_view(plain))) == encoded);
        auto decoded = base64_decode(encoded);
        REQUIRE(decoded.ok());
        CHECK(std::string(decoded->begin(), decoded->end()) == plain);
    }
    bytes all(256);
    for (int i = 0; i < 256; ++i)
        all[i] = static_cast<std::uint8_t>(i);
    for (std::size_t n = 0; n <= all.size(); ++n) {
        byte_view v(all.data(), n);
        auto back = base64_decode(base64_encode(v));
        REQUIRE(back.ok());
        CHECK(equal(*back, v));
    }
}

TEST_CASE("base64 decoding is strict: one accepted encoding per byte string", "[encoding]") {
    for (const char* bad : {"Zg=", "Zg", "Zh==", "Zm9=", "Z===", "====", "Zm9v=", "Zm 9", "Zm9v\n",
                            "Zg==Zg==", "Zm-_", "=Zm9"}) {
        INFO(bad);
        CHECK_FALSE(base64_decode(bad).ok());
    }
    CHECK_FALSE(base64_decode_fixed<32>("Zm9v").ok());
}

TEST_CASE("hex encodes lowercase and decodes either case", "[encoding]") {
    bytes b{0x00, 0xab, 0xff, 0x10};
    CHECK(hex_encode(b) == "00abff10");
    auto d = hex_decode("00ABff10");
    REQUIRE(d.ok());
    CHECK(*d == b);
    CHECK_FALSE(hex_decode("abc").ok());
    CHECK_FALSE(hex_decode("zz").ok());
}

TEST_CASE("decimals have no sign, no leading zeros and no overflow", "[encoding]") {
    CHECK(*parse_decimal("0") == 0);
    CHECK(*parse_decimal("18446744073709551615") == UINT64_MAX);
    for (const char* bad :
         {"", "01", "-1", "+1", "1 ", " 1", "18446744073709551616", "1e3", "0x10"}) {
        INFO(bad);
        CHECK_FALSE(parse_decimal(bad).ok());
    }
    CHECK_FALSE(parse_decimal("64", 63).ok());
    CHECK(*parse_decimal("63", 63) == 63);
}

TEST_CASE("SHA-256 known answers, one-shot and incremental", "[sha256]") {
    CHECK(hex_encode(sha256(byte_view())) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hex_encode(sha256(byte_view(std::string_view("abc")))) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    std::string million(1000000, 'a');
    sha256_hasher h;
    for (std::size_t i = 0; i < million.size(); i += 1000)
        h.update(byte_view(std::string_view(million).substr(i, 1000)));
    CHECK(hex_encode(h.finish()) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    // A reused hasher gives the same answer again.
    CHECK(hex_encode(h.reset().update(byte_view(std::string_view("abc"))).finish()) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("Ed25519 matches RFC 8032 test 2 and rejects tampering", "[ed25519]") {
    auto seed = hex_decode("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
    auto key = ed25519::secret_key::from_seed(*seed);
    REQUIRE(key.ok());
    CHECK(hex_encode(key->public_key_bytes()) ==
          "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
    bytes msg{0x72};
    auto sig = key->sign(msg);
    CHECK(hex_encode(sig) == "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                             "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
    CHECK(ed25519::verify(key->public_key_bytes(), msg, sig));
    bytes other{0x73};
    CHECK_FALSE(ed25519::verify(key->public_key_bytes(), other, sig));
    auto bad = sig;
    bad[10] ^= 1;
    CHECK_FALSE(ed25519::verify(key->public_key_bytes(), msg, bad));
    CHECK_FALSE(ed25519::verify(key->public_key_bytes(), msg, byte_view(sig.data(), 63)));
    std::uint8_t seed_out[32];
    key->copy_seed(seed_out);
    CHECK(equal(byte_view(seed_out, 32), *seed));
    CHECK_FALSE(ed25519::secret_key::from_seed(bytes(31)).ok());
}

TEST_CASE("decimal bounds below ten", "[encoding]") {
    // A single digit above a small maximum must not wrap around.
    CHECK_FALSE(parse_decimal("3", 2).ok());
    CHECK_FALSE(parse_decimal("9", 0).ok());
    CHECK(*parse_decimal("2", 2) == 2);
    CHECK_FALSE(parse_decimal("10", 9).ok());
}
