// Our signature bundle end to end at the protocol level: log, tiles, checkpoint,
// cosignatures, tlog-proof, policy; and every single-field tampering fails.
#include "protocol/bundle.hpp"
#include "protocol/tiles.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace civic;

namespace {

struct fixture {
    note::ed25519_signer log = test::log_signer("civic.example/log");
    note::cosigner w1 = test::witness("w1.example"), w2 = test::witness("w2.example"),
                   w3 = test::witness("w3.example");
    ed25519::secret_key clerk = test::key_for("clerk");
    tiles::memory_tiles tree;
    std::vector<entry> entries;
    std::string content = "Resolution 2026-17: the library stays open on Sundays.";

    fixture() {
        for (int i = 0; i < 300; ++i) {
            entry e;
            e.timestamp_ms = 1795000000000 + static_cast<std::uint64_t>(i);
            e.identity = "town/clerk";
            e.public_key = clerk.public_key_bytes();
            e.content_hash = sha256(byte_view(i == 123 ? content : "doc " + std::to_string(i)));
            e.sign(clerk);
            tree.append(merkle::leaf_hash(e.encode()));
            entries.push_back(e);
        }
    }
    std::string signed_checkpoint(int witnesses) const {
        checkpoint cp{log.name(), tree.size(), tree.root(), {}};
        note::note n{cp.text(), {log.sign(cp.text())}};
        const note::cosigner* ws[] = {&w1, &w2, &w3};
        for (int i = 0; i < witnesses; ++i)
            n.signatures.push_back(ws[i]->cosign(cp.text(), 1795000001));
        return note::serialize(n);
    }
    std::string bundle(std::uint64_t index, int witnesses) const {
        return make_bundle(entries[index], index, *tiles::inclusion_proof(tree, index, tree.size()),
                           signed_checkpoint(witnesses))
            .serialize();
    }
    policy_verifier trust(const std::string& quorum = "group G 2 W1 W2 W3\nquorum G\n",
                          std::size_t cache_entries = 0) const {
        auto text = "log " + note::format_vkey(log.verifier_key()) + "\nwitness W1 " +
                    note::format_vkey(w1.verifier_key()) + "\nwitness W2 " +
                    note::format_vkey(w2.verifier_key()) + "\nwitness W3 " +
                    note::format_vkey(w3.verifier_key()) + "\n" + quorum;
        return std::move(*policy_verifier::make(*parse_policy(text), cache_entries));
    }
};

bool check_passed(const bundle_verdict& v, const std::string& name) {
    for (const auto& c : v.checks)
        if (c.name == name) return c.passed;
    return false;
}

} // namespace

TEST_CASE("a bundle verifies offline with content, policy and quorum", "[bundle]") {
    fixture f;
    auto v = verify_bundle(f.trust(), f.bundle(123, 2), sha256(byte_view(f.content)));
    for (const auto& c : v.checks)
        INFO(c.name << ": " << c.detail);
    CHECK(v.valid);
    std::vector<std::string> names;
    for (const auto& c : v.checks)
        names.push_back(c.name);
    CHECK(names == std::vector<std::string>{"format", "entry", "entry-signature", "content",
                                            "checkpoint-signature", "witness-quorum", "inclusion"});
    REQUIRE(v.logged_entry.has_value());
    CHECK(v.logged_entry->identity == "town/clerk");
    CHECK(v.index == 123);

    // Without quorum the same bundle is not valid, and says why.
    auto short_quorum = verify_bundle(f.trust(), f.bundle(123, 1), std::nullopt);
    CHECK_FALSE(short_quorum.valid);
    CHECK_FALSE(check_passed(short_quorum, "witness-quorum"));
    CHECK(check_passed(short_quorum, "inclusion"));
    // With "quorum none" a log-signed bundle is valid.
    CHECK(verify_bundle(f.trust("quorum none\n"), f.bundle(123, 0), std::nullopt).valid);
    // Other content fails the content check only.
    auto other =
        verify_bundle(f.trust(), f.bundle(123, 3), sha256(byte_view(std::string_view("forged"))));
    CHECK_FALSE(other.valid);
    CHECK_FALSE(check_passed(other, "content"));
    CHECK(check_passed(other, "inclusion"));
}

TEST_CASE("offline verify rejects every single-field tampering of a proof file", "[bundle]") {
    fixture f;
    auto trust = f.trust();
    auto content = sha256(byte_view(f.content));
    auto good = f.bundle(123, 3);
    REQUIRE(verify_bundle(trust, good, content).valid);
    auto proof = *parse_tlog_proof(good);

    std::vector<std::pair<std::string, std::string>> tampered; // (what, file)
    auto with = [&](const char* what, auto change) {
        auto copy = proof;
        change(copy);
        tampered.emplace_back(what, copy.serialize());
    };
    // The entry: every byte of it.
    for (std::size_t i = 0; i < proof.extra->size(); ++i)
        with("entry byte", [i](tlog_proof& p) { (*p.extra)[i] ^= 0x20; });
    // Another genuine, validly signed entry in place of this one.
    with("swapped entry", [&](tlog_proof& p) { p.extra = f.entries[124].encode(); });
    // The index.
    with("index+1", [](tlog_proof& p) { p.index += 1; });
    with("index-1", [](tlog_proof& p) { p.index -= 1; });
    with("index far", [](tlog_proof& p) { p.index = 1u << 20; });
    // Each proof hash, and the proof's shape.
    for (std::size_t i = 0; i < proof.inclusion.size(); ++i)
        with("proof hash", [i](tlog_proof& p) { p.inclusion[i][i % 32] ^= 0x01; });
    with("proof hash dropped", [](tlog_proof& p) { p.inclusion.pop_back(); });
    with("proof hash added", [](tlog_proof& p) { p.inclusion.push_back(hash{}); });
    with("proof hashes swapped", [](tlog_proof& p) { std::swap(p.inclusion[0], p.inclusion[1]); });
    // The checkpoint body: origin, size, root.
    auto body_edit = [&](const char* what, std::string from, std::string to) {
        with(what, [from, to](tlog_proof& p) {
            p.checkpoint.replace(p.checkpoint.find(from), from.size(), to);
        });
    };
    body_edit("origin", "civic.example/log\n300", "civic.example/lag\n300");
    body_edit("size", "\n300\n", "\n301\n");
    auto root_b64 = base64_encode(f.tree.root());
    auto other_root = f.tree.root();
    other_root[5] ^= 1;
    body_edit("root", root_b64, base64_encode(other_root));
    // The log's signature and each cosignature.
    auto cp = *parse_signed_checkpoint(proof.checkpoint);
    for (std::size_t s = 0; s < cp.signed_note.signatures.size(); ++s) {
        with("signature", [&, s](tlog_proof& p) {
            auto n = cp.signed_note;
            n.signatures[s].data[n.signatures[s].data.size() - 1] ^= 0x01;
            p.checkpoint = note::serialize(n);
        });
    }
    with("log signature removed", [&](tlog_proof& p) {
        auto n = cp.signed_note;
        n.signatures.erase(n.signatures.begin());
        p.checkpoint = note::serialize(n);
    });

    REQUIRE(tampered.size() > proof.extra->size() + proof.inclusion.size());
    // A verifier that caches checkpoint verdicts, primed with the genuine one,
    // must reject exactly the same files.
    auto cached = f.trust("group G 2 W1 W2 W3\nquorum G\n", 4);
    REQUIRE(verify_bundle(cached, good, content).valid);
    for (const auto& [what, file] : tampered) {
        INFO(what);
        CHECK_FALSE(verify_bundle(trust, file, content).valid);
        CHECK_FALSE(verify_bundle(cached, file, content).valid);
    }
    CHECK(verify_bundle(cached, good, content).valid);
}
