#include "protocol/checkpoint.hpp"
#include "protocol/cosignature.hpp"
#include "protocol/tiles.hpp"
#include "protocol/tlog_proof.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace civic;

TEST_CASE("checkpoint bodies parse and format exactly as tlog-checkpoint says", "[checkpoint]") {
    const std::string spec =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    auto cp = parse_checkpoint(spec);
    REQUIRE(cp.ok());
    CHECK(cp->origin == "example.com/behind-the-sofa");
    CHECK(cp->size == 20852163);
    CHECK(base64_encode(cp->root) == "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
    CHECK(cp->text() == spec);

    auto ext = parse_checkpoint("o\n0\n" + base64_encode(hash{}) + "\nextension one\nfoo\n");
    REQUIRE(ext.ok());
    CHECK(ext->size == 0);
    CHECK(ext->extensions == std::vector<std::string>{"extension one", "foo"});

    const std::string root = base64_encode(hash{});
    for (const std::string& bad : std::vector<std::string>{
             std::string(""), "o\n1\n", "o\n1\n" + root, "\n1\n" + root + "\n",
             "o\n01\n" + root + "\n", "o\n-1\n" + root + "\n", "o\n1 \n" + root + "\n",
             "o\n18446744073709551616\n" + root + "\n", "o\n1\nAAAA\n", "o\n1\n" + root + "\n\nx\n",
             "o\n1\n" + root + "\next\n\n", "o\r\n1\n" + root + "\n"}) {
        INFO(bad);
        CHECK_FALSE(parse_checkpoint(bad).ok());
    }
}

TEST_CASE("cosignature/v1: signed message, 72-byte signature, verification", "[cosignature]") {
    const std::string body =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    CHECK(cosignature::signed_message(body, 1679315147) ==
          "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
          "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");

    auto w = test::witness("witness.example.com/w1");
    auto sig = w.cosign(body, 1679315147);
    CHECK(sig.data.size() == 72);
    CHECK(get_u64_be(sig.data.data()) == 1679315147);
    CHECK(sig.key_id == note::key_id("witness.example.com/w1", 0x04, w.verifier_key().public_key));

    note::cosignature_verifier v(w.name(), test::public_key_of(w.verifier_key()));
    CHECK(v.verify(body, sig.data));
    auto later = sig.data;
    later[7] ^= 1; // a different timestamp is a different message
    CHECK_FALSE(v.verify(body, later));
    CHECK_FALSE(v.verify(body + "x\n", sig.data));
    CHECK_FALSE(v.verify(body, byte_view(sig.data.data(), 71)));

    bytes too_late(72, 0);
    too_late[0] = 0x80;
    CHECK_FALSE(cosignature::decode(too_late).ok());
    too_late[0] = 0x7f;
    CHECK(cosignature::decode(too_late).ok());

    // A cosignature does not verify as a plain Ed25519 note signature (domain separation).
    note::ed25519_verifier plain(w.name(), test::public_key_of(w.verifier_key()));
    CHECK_FALSE(plain.verify(body, byte_view(sig.data.data() + 8, 64)));
}

TEST_CASE("a signed checkpoint with log signature and cosignatures parses and opens",
          "[checkpoint]") {
    auto log = test::log_signer("example.org/log");
    auto w1 = test::witness("w1.example"), w2 = test::witness("w2.example");
    checkpoint cp{"example.org/log", 42, merkle::leaf_hash(byte_view(std::string_view("x"))), {}};
    auto text = cp.text();
    note::note n{text, {log.sign(text), w1.cosign(text, 100), w2.cosign(text, 200)}};
    auto wire = note::serialize(n);
    auto parsed = parse_signed_checkpoint(wire);
    REQUIRE(parsed.ok());
    CHECK(parsed->body == cp);
    CHECK(parsed->signed_note.signatures.size() == 3);

    auto lv = note::make_verifier(log.verifier_key());
    auto w1v = note::make_verifier(w1.verifier_key());
    auto opened = note::open(parsed->signed_note, {lv->get(), w1v->get()});
    REQUIRE(opened.ok());
    CHECK(opened->signed_by == std::vector<std::size_t>{0, 1});
    CHECK_FALSE(
        parse_signed_checkpoint("not a checkpoint\n\n" + note::signature_line(log.sign("x\n")))
            .ok());
}

TEST_CASE("tlog-proof files round-trip and parse strictly", "[tlog-proof]") {
    auto log = test::log_signer("example.org/log");
    auto leaves = test::make_leaves(100);
    tiles::memory_tiles store;
    for (const auto& l : leaves)
        store.append(l);
    checkpoint cp{"example.org/log", 100, store.root(), {}};
    auto signed_cp = note::serialize(note::note{cp.text(), {log.sign(cp.text())}});

    tlog_proof proof;
    proof.extra = bytes{1, 2, 3};
    proof.index = 37;
    proof.inclusion = *tiles::inclusion_proof(store, 37, 100);
    proof.checkpoint = signed_cp;
    auto text = proof.serialize();
    CHECK(text.rfind("c2sp.org/tlog-proof@v1\nextra AQID\nindex 37\n", 0) == 0);
    auto parsed = parse_tlog_proof(text);
    REQUIRE(parsed.ok());
    CHECK(parsed->index == 37);
    CHECK(parsed->extra == proof.extra);
    CHECK(parsed->inclusion == proof.inclusion);
    CHECK(parsed->checkpoint == signed_cp);
    CHECK(parsed->serialize() == text);
    CHECK(merkle::verify_inclusion(37, 100, leaves[37], parsed->inclusion, cp.root).ok());

    // Without extra, and with an empty proof (a one-entry tree).
    tlog_proof bare{std::nullopt, 0, {}, signed_cp};
    auto bare_parsed = parse_tlog_proof(bare.serialize());
    REQUIRE(bare_parsed.ok());
    CHECK_FALSE(bare_parsed->extra.has_value());
    CHECK(bare_parsed->inclusion.empty());

    auto replace = [&](const std::string& from, const std::string& to) {
        auto copy = text;
        copy.replace(copy.find(from), from.size(), to);
        return copy;
    };
    const std::pair<std::string, const char*> bad[] = {
        {replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"), "wrong header"},
        {replace("index 37", "index 037"), "leading zero"},
        {replace("index 37", "index -1"), "negative index"},
        {replace("index 37", "idx 37"), "no index line"},
        {replace("extra AQID", "extra AQI"), "bad extra base64"},
        {replace(base64_encode(proof.inclusion[0]), "AAAA"), "short hash"},
        {replace(base64_encode(proof.inclusion[0]) + "\n", ""),
         "still parses (verification fails)"},
        {text.substr(0, text.find("\n\n") + 1), "no checkpoint"},
        {replace("\n\nexample.org/log\n", "\nexample.org/log\n"), "no blank line"},
        {"c2sp.org/tlog-proof@v1", "truncated"},
    };
    for (const auto& [input, why] : bad) {
        INFO(why);
        bool parses = parse_tlog_proof(input).ok();
        CHECK(parses == (std::string(why) == "still parses (verification fails)"));
    }
    tlog_proof long_proof = proof;
    long_proof.inclusion.assign(64, hash{});
    CHECK_FALSE(parse_tlog_proof(long_proof.serialize()).ok());
}
