#include "protocol/note.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace civic;

namespace {
const std::string dash = "\xE2\x80\x94 "; // "— "
const std::string spec_vkey =
    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const std::string spec_note = "This is an example message.\n\n" + dash +
                              "example.com/foo "
                              "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
                              "mFXmRKuwHjG1Yu72IneyaQM=\n";

std::unique_ptr<note::verifier> verifier_of(const std::string& vkey_text) {
    auto key = note::parse_vkey(vkey_text);
    REQUIRE(key.ok());
    auto v = note::make_verifier(*key);
    REQUIRE(v.ok());
    return std::move(*v);
}
} // namespace

TEST_CASE("the signed-note spec example verifies with its verifier key", "[note]") {
    auto key = note::parse_vkey(spec_vkey);
    REQUIRE(key.ok());
    CHECK(key->name == "example.com/foo");
    CHECK(key->key_id == 0x530d903a);
    CHECK(key->type == note::type_ed25519);
    CHECK(note::format_vkey(*key) == spec_vkey);

    auto n = note::parse(spec_note);
    REQUIRE(n.ok());
    CHECK(n->text == "This is an example message.\n");
    REQUIRE(n->signatures.size() == 1);
    CHECK(n->signatures[0].key_id == 0x530d903a);
    CHECK(note::serialize(*n) == spec_note);

    auto v = verifier_of(spec_vkey);
    auto opened = note::open(*n, {v.get()});
    REQUIRE(opened.ok());
    CHECK(opened->signed_by == std::vector<std::size_t>{0});

    // The same note with one changed character of text fails.
    auto tampered = *n;
    tampered.text[0] = 't';
    CHECK_FALSE(note::open(tampered, {v.get()}).ok());
}

TEST_CASE("vkeys: key ID must match, types and lengths are checked", "[note]") {
    CHECK_FALSE(
        note::parse_vkey("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .ok());
    CHECK_FALSE(note::parse_vkey("example.com/foo+530d903a").ok());
    // Key IDs are lowercase hex (found by fuzzing: uppercase broke the round trip).
    CHECK_FALSE(
        note::parse_vkey("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .ok());
    CHECK_FALSE(note::parse_vkey("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k").ok());
    CHECK_FALSE(
        note::parse_vkey("example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .ok());
    CHECK_FALSE(
        note::parse_vkey("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2")
            .ok());
    CHECK_FALSE(note::parse_vkey("example.com/foo+530d903a+AQ==").ok());
    // An unknown type parses (it names a key we simply cannot use) but has no verifier.
    auto unknown = note::parse_vkey("example.com/foo+01020304+/wECAw==");
    REQUIRE(unknown.ok());
    CHECK_FALSE(note::make_verifier(*unknown).ok());

    auto signer = test::log_signer("example.org/log");
    auto vk = signer.verifier_key();
    auto round = note::parse_vkey(note::format_vkey(vk));
    REQUIRE(round.ok());
    CHECK(round->key_id == signer.key_id());
    auto cos = test::witness("w.example/1");
    auto cvk = note::parse_vkey(note::format_vkey(cos.verifier_key()));
    REQUIRE(cvk.ok());
    CHECK(cvk->type == note::type_cosignature_v1);
    // Same key, different type: a different key ID.
    CHECK(note::key_id("n", 1, vk.public_key) != note::key_id("n", 4, vk.public_key));
}

TEST_CASE("note text and signature line rules", "[note]") {
    auto signer = test::log_signer("example.org/log");
    auto sig = note::signature_line(signer.sign("hello\n"));
    // A text with blank lines inside: the split is at the last blank line.
    auto multi = note::parse("a\n\nb\n\n" + sig);
    REQUIRE(multi.ok());
    CHECK(multi->text == "a\n\nb\n");

    const std::pair<std::string, const char*> bad[] = {
        {"", "empty"},
        {"hello\n", "no blank line"},
        {"hello\n\n", "no signatures"},
        {"hello\n\n" + sig.substr(0, sig.size() - 1), "no final newline"},
        {"hello\n\n" + sig + "\n", "blank line after signatures"},
        {"hel\x01lo\n\n" + sig, "control character"},
        {"hel\rlo\n\n" + sig, "carriage return"},
        {"hel\xffo\n\n" + sig, "invalid UTF-8"},
        {"hel\xc0\xafo\n\n" + sig, "overlong UTF-8"},
        {"hel\xed\xa0\x80o\n\n" + sig, "surrogate"},
        {"hello\n\n- example.org/log AAAAAAE=\n", "ascii dash"},
        {"hello\n\n" + dash + "exa+mple AAAAAAE=\n", "plus in name"},
        {"hello\n\n" + dash + "exa\xc2\xa0mple AAAAAAE=\n", "no-break space in name"},
        {"hello\n\n" + dash + " AAAAAAE=\n", "empty name"},
        {"hello\n\n" + dash + "example.org/log AAAAAA==\n", "signature too short"},
        {"hello\n\n" + dash + "example.org/log AAAAAAE\n", "bad base64"},
        {"hello\n\n" + dash + "example.org/log\n", "no signature"},
    };
    for (const auto& [input, why] : bad) {
        INFO(why);
        CHECK_FALSE(note::parse(input).ok());
    }
}

TEST_CASE("opening: unknown keys ignored, failing known key rejects, none known rejects",
          "[note]") {
    auto a = test::log_signer("a.example/log");
    auto b = test::log_signer("b.example/log");
    const std::string text = "origin\n1\n" + base64_encode(hash{}) + "\n";
    note::note n{text, {a.sign(text), b.sign(text)}};
    note::ed25519_verifier va(a.name(), test::public_key_of(a.verifier_key()));
    auto vb = note::make_verifier(b.verifier_key());
    REQUIRE(vb.ok());

    CHECK(note::open(n, {&va})->signed_by == std::vector<std::size_t>{0});
    CHECK(note::open(n, {&va, vb->get()})->signed_by == std::vector<std::size_t>{0, 1});

    // A key sharing the name but not the ID (another key) is unknown: ignored.
    auto other = test::log_signer("other");
    note::ed25519_verifier same_name("a.example/log", test::public_key_of(other.verifier_key()));
    CHECK_FALSE(note::open(n, {&same_name}).ok()); // nothing known verified
    CHECK(note::open(n, {&same_name, &va}).ok());

    // A known key's signature that fails rejects the whole note, even if another verifies.
    auto broken = n;
    broken.signatures[1].data[5] ^= 1;
    CHECK_FALSE(note::open(broken, {&va, vb->get()}).ok());
    CHECK(note::open(broken, {&va}).ok()); // b unknown here: ignored

    // Same name and ID but a different key, as a forger would present: fails verification.
    auto forged = n;
    forged.signatures[0] = note::signature{a.name(), a.key_id(), other.sign(text).data};
    CHECK_FALSE(note::open(forged, {&va}).ok());
}

namespace {
/// A verifier that counts its verifications.
struct counting_verifier final : note::verifier {
    const note::verifier& inner;
    mutable int calls = 0;
    explicit counting_verifier(const note::verifier& v) : inner(v) {}
    const std::string& name() const override { return inner.name(); }
    std::uint32_t key_id() const override { return inner.key_id(); }
    bool verify(std::string_view text, byte_view sig) const override {
        ++calls;
        return inner.verify(text, sig);
    }
};
} // namespace

TEST_CASE("opening: each known key is verified at most once, however often its line repeats",
          "[note]") {
    auto a = test::log_signer("a.example/log");
    const std::string text = "origin\n1\n" + base64_encode(hash{}) + "\n";
    note::ed25519_verifier va(a.name(), test::public_key_of(a.verifier_key()));
    counting_verifier counted(va);
    note::note repeated{text, std::vector<note::signature>(note::max_signatures, a.sign(text))};
    auto opened = note::open(repeated, {&counted});
    REQUIRE(opened.ok());
    CHECK(opened->signed_by == std::vector<std::size_t>{0});
    CHECK(counted.calls == 1);

    // As in Go's note.Open: the first line by a key decides, later ones are dropped.
    auto later_broken = repeated;
    later_broken.signatures[1].data[0] ^= 1;
    CHECK(note::open(later_broken, {&va}).ok());
    auto first_broken = repeated;
    first_broken.signatures[0].data[0] ^= 1;
    CHECK_FALSE(note::open(first_broken, {&va}).ok());
}

TEST_CASE("notes with at least 16 signatures are accepted and limits are enforced", "[note]") {
    const std::string text = "many signers\n";
    note::note n{text, {}};
    std::vector<std::unique_ptr<note::verifier>> verifiers;
    std::vector<const note::verifier*> known;
    for (int i = 0; i < 20; ++i) {
        auto s = test::log_signer("signer" + std::to_string(i) + ".example");
        n.signatures.push_back(s.sign(text));
        verifiers.push_back(std::move(*note::make_verifier(s.verifier_key())));
        known.push_back(verifiers.back().get());
    }
    auto parsed = note::parse(note::serialize(n));
    REQUIRE(parsed.ok());
    CHECK(parsed->signatures.size() == 20);
    auto opened = note::open(*parsed, known);
    REQUIRE(opened.ok());
    CHECK(opened->signed_by.size() == 20);

    // Post-quantum sized signatures: 16 of ~5 kB fit.
    note::note big{text, {}};
    for (int i = 0; i < 16; ++i)
        big.signatures.push_back(
            {"pq" + std::to_string(i), static_cast<std::uint32_t>(i), bytes(4700, 7)});
    CHECK(note::parse(note::serialize(big)).ok());

    note::note too_many{text, {}};
    for (std::size_t i = 0; i <= note::max_signatures; ++i)
        too_many.signatures.push_back(
            {"k" + std::to_string(i), static_cast<std::uint32_t>(i), bytes(64, 1)});
    CHECK_FALSE(note::parse(note::serialize(too_many)).ok());
    note::note too_big{std::string(note::max_note_size, 'a') + "\n", {n.signatures[0]}};
    CHECK_FALSE(note::parse(note::serialize(too_big)).ok());
}

TEST_CASE("signer key strings round-trip and are checked", "[note]") {
    auto key = test::key_for("signer");
    auto text = note::format_signer_key("example.org/log", note::type_ed25519, key);
    CHECK(text.rfind("PRIVATE+KEY+example.org/log+", 0) == 0);
    auto parsed = note::parse_signer_key(text);
    REQUIRE(parsed.ok());
    CHECK(parsed->name == "example.org/log");
    CHECK(parsed->type == note::type_ed25519);
    CHECK(parsed->key.public_key_bytes() == key.public_key_bytes());
    auto witness =
        note::parse_signer_key(note::format_signer_key("w", note::type_cosignature_v1, key));
    REQUIRE(witness.ok());
    CHECK(witness->type == note::type_cosignature_v1);

    auto wrong_id = text;
    wrong_id[wrong_id.find("+", 12 + 15) + 1] ^= 1;
    CHECK_FALSE(note::parse_signer_key(wrong_id).ok());
    CHECK_FALSE(note::parse_signer_key("PRIVATE+KEY+x").ok());
    CHECK_FALSE(note::parse_signer_key(text.substr(8)).ok());
    CHECK_FALSE(note::parse_signer_key(text.substr(0, text.size() - 4)).ok());
}
