#include "protocol/entry.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace civic;

namespace {
entry statement(const ed25519::secret_key& key) {
    entry e;
    e.kind = entry_kind::statement;
    e.timestamp_ms = 1795000000123;
    e.identity = "city-of-example/clerk";
    e.public_key = key.public_key_bytes();
    e.content_hash = sha256(byte_view(std::string_view("Minutes of the council, 2026-11-26")));
    e.payload = bytes{'t', 'e', 'x', 't'};
    e.sign(key);
    return e;
}
} // namespace

TEST_CASE("entries encode canonically and round-trip for every kind", "[entry]") {
    auto key = test::key_for("clerk");
    auto next = test::key_for("clerk-2");
    auto s = statement(key);
    auto bytes_s = s.encode();
    CHECK(bytes_s.size() == entry_fixed_size + s.identity.size() + s.payload.size());
    CHECK(bytes_s[0] == 1);
    CHECK(bytes_s[1] == 1);
    auto decoded = decode_entry(bytes_s);
    REQUIRE(decoded.ok());
    CHECK(*decoded == s);
    CHECK(decoded->encode() == bytes_s);
    CHECK(decoded->signature_valid());

    entry reg;
    reg.kind = entry_kind::identity_registration;
    reg.identity = "clerk";
    reg.public_key = key.public_key_bytes();
    reg.sign(key);
    entry rot = reg;
    rot.kind = entry_kind::key_rotation;
    rot.payload.assign(next.public_key_bytes().begin(), next.public_key_bytes().end());
    rot.sign(key);
    entry rev = rot;
    rev.kind = entry_kind::key_revocation;
    rev.sign(key);
    for (const auto* e : {&reg, &rot, &rev}) {
        auto d = decode_entry(e->encode());
        REQUIRE(d.ok());
        CHECK(*d == *e);
        CHECK(d->signature_valid());
        CHECK(d->encode() == e->encode());
    }
    CHECK(rot.payload_key() == next.public_key_bytes());
    CHECK(s.key_id() == note::key_id("city-of-example/clerk", 1, key.public_key_bytes()));
}

TEST_CASE("every single-byte change to an entry is caught", "[entry]") {
    auto key = test::key_for("clerk");
    auto original = statement(key).encode();
    for (std::size_t i = 0; i < original.size(); ++i) {
        auto tampered = original;
        tampered[i] ^= 0x01;
        auto d = decode_entry(tampered);
        INFO("byte " << i);
        CHECK((!d.ok() || !d->signature_valid()));
    }
    // Truncation and trailing bytes.
    for (std::size_t n = 0; n < original.size(); ++n)
        CHECK_FALSE(decode_entry(byte_view(original.data(), n)).ok());
    auto longer = original;
    longer.push_back(0);
    CHECK_FALSE(decode_entry(longer).ok());
}

TEST_CASE("entry field rules and limits", "[entry]") {
    auto key = test::key_for("k");
    auto base = statement(key);
    auto rejects = [](entry e, const char* why) {
        INFO(why);
        CHECK_FALSE(check_entry(e).ok());
        CHECK_FALSE(decode_entry(e.encode()).ok());
    };
    auto e = base;
    e.identity = "";
    rejects(e, "empty identity");
    e.identity = std::string(65, 'a');
    CHECK_FALSE(check_entry(e).ok()); // (encode would truncate the length byte: check first)
    e.identity = "Upper";
    rejects(e, "uppercase");
    e.identity = "-lead";
    rejects(e, "leading dash");
    e.identity = "sp ace";
    rejects(e, "space");
    e = base;
    e.payload.assign(1025, 0);
    CHECK_FALSE(check_entry(e).ok());
    e = base;
    e.kind = entry_kind::identity_registration;
    rejects(e, "registration with content hash");
    e.content_hash = hash{};
    rejects(e, "registration with payload");
    e.payload.clear();
    CHECK(check_entry(e).ok());
    e.kind = entry_kind::key_rotation;
    rejects(e, "rotation without key");
    e.payload.assign(31, 1);
    rejects(e, "rotation with short key");
    auto bad_version = base.encode();
    bad_version[0] = 2;
    CHECK_FALSE(decode_entry(bad_version).ok());
    auto bad_kind = base.encode();
    bad_kind[1] = 5;
    CHECK_FALSE(decode_entry(bad_kind).ok());
    CHECK(check_identity_name(std::string(64, 'a')).ok());
    CHECK(check_identity_name("a.b_c/d-e0").ok());
}
