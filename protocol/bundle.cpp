#include "protocol/bundle.hpp"

namespace civic {

tlog_proof make_bundle(const entry& logged, std::uint64_t index, std::vector<hash> inclusion,
                       std::string signed_checkpoint) {
    tlog_proof proof;
    proof.extra = logged.encode();
    proof.index = index;
    proof.inclusion = std::move(inclusion);
    proof.checkpoint = std::move(signed_checkpoint);
    return proof;
}

bundle_verdict verify_bundle(const policy_verifier& trust, std::string_view proof_text,
                             const std::optional<hash>& content_sha256) {
    bundle_verdict v;
    auto add = [&](std::string name, bool passed, std::string detail) {
        v.checks.push_back({std::move(name), passed, std::move(detail)});
        return passed;
    };

    auto proof = parse_tlog_proof(proof_text);
    if (!add("format", proof.ok(), proof ? "c2sp.org/tlog-proof@v1" : proof.message())) return v;
    if (!proof->extra) {
        add("entry", false, "no extra line: the proof carries no entry to verify");
        return v;
    }
    auto logged = decode_entry(*proof->extra);
    if (!add("entry", logged.ok(),
             logged ? std::string(to_string(logged->kind)) + " by " + logged->identity
                    : logged.message()))
        return v;
    v.logged_entry = *logged;
    v.index = proof->index;
    bool all = true;
    bool signature_ok = logged->signature_valid();
    all &= add("entry-signature", signature_ok,
               signature_ok ? "Ed25519 signature by key " + hex_encode(logged->public_key)
                            : "signature does not verify");
    if (content_sha256) {
        bool match = logged->content_hash == *content_sha256;
        all &= add("content", match,
                   match ? "content SHA-256 matches the entry"
                         : "content SHA-256 differs from the entry's");
    }
    auto verdict = trust.verify(proof->checkpoint);
    if (!add("checkpoint-signature", verdict.ok(),
             verdict ? "signed by log " + verdict->checkpoint.body.origin : verdict.message()))
        return v;
    v.checkpoint_body = verdict->checkpoint.body;
    std::string cosigners;
    for (const auto& w : verdict->witnesses)
        cosigners += (cosigners.empty() ? "" : ", ") + w;
    all &= add("witness-quorum", verdict->quorum,
               (verdict->quorum ? "quorum met" : "quorum NOT met") +
                   std::string(" (cosigned by: ") + (cosigners.empty() ? "none" : cosigners) + ")");
    const auto& cp = verdict->checkpoint.body;
    auto included = merkle::verify_inclusion(
        proof->index, cp.size, merkle::leaf_hash(*proof->extra), proof->inclusion, cp.root);
    all &= add("inclusion", included.ok(),
               included ? "entry " + std::to_string(proof->index) + " is in the tree of size " +
                              std::to_string(cp.size)
                        : included.message());
    v.valid = all;
    return v;
}

} // namespace civic
