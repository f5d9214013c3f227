// Entries and what proves them: an entry, its bundle against the best
// checkpoint this node has, inclusion and consistency proofs, and checking a
// tlog-proof against this log.
#include "node/api/handlers.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"

namespace civic::node::api {
namespace {

/// Whether `key` of the identity could sign an entry of `kind` at `index`: in
/// force there (statements, registrations), or handing over or revoking there
/// (rotations and revocations are signed by a key whose validity they end).
const storage::identity_key* key_in_force(const storage::identity_record& rec,
                                          const ed25519::public_key& key, std::uint64_t index,
                                          entry_kind kind) {
    bool ends_here = kind == entry_kind::key_rotation || kind == entry_kind::key_revocation;
    for (const auto& k : rec.keys) {
        if (k.key != key || index < k.valid_from) continue;
        if (!k.valid_until || index < *k.valid_until || (ends_here && index == *k.valid_until))
            return &k;
    }
    return nullptr;
}

/// Whether this log holds the same entry at that index.
std::optional<http_response> check_ledger_entry(operations& ops, const civic::entry& logged,
                                                std::uint64_t index,
                                                std::vector<bundle_check>& checks) {
    auto stored = ops.checked_entry(index);
    if (!stored) return read_failed(ops, stored.err());
    auto at = std::to_string(index);
    if (!*stored) {
        checks.push_back({"ledger-entry", false,
                          "this log holds no entry " + at + " (size " +
                              std::to_string(ops.verified_size()) + ")"});
        return std::nullopt;
    }
    bool same = **stored == logged.encode();
    checks.push_back({"ledger-entry", same,
                      same ? "this log holds the same entry at index " + at
                           : "this log holds a different entry at index " + at});
    return std::nullopt;
}

/// Whether the checkpoint is one of this log's trees: its root at that size,
/// from the verified tree (a stored checkpoint is bytes from the disk too).
std::optional<http_response> check_ledger_checkpoint(operations& ops, const civic::checkpoint& cp,
                                                     std::vector<bundle_check>& checks) {
    auto size = ops.verified_size();
    auto at = std::to_string(cp.size);
    if (cp.size > size || cp.size == 0) {
        checks.push_back({"ledger-checkpoint", false, "this log has no tree of size " + at});
        return std::nullopt;
    }
    auto root = tiles::root_at(ops.verified_tiles(), size, cp.size);
    if (!root) return read_failed(ops, root.err());
    bool same = *root == cp.root;
    checks.push_back({"ledger-checkpoint", same,
                      same ? "the checkpoint is this log's tree of size " + at
                           : "this log's tree of size " + at + " has another root: a split view"});
    return std::nullopt;
}

/// Whether the identity's key was in force when the entry was logged.
void check_identity_key(operations& ops, const civic::entry& logged, std::uint64_t index,
                        std::vector<bundle_check>& checks) {
    auto rec = ops.identity(logged.identity);
    if (!rec || !*rec) {
        checks.push_back({"identity-key", false,
                          "identity '" + logged.identity + "' is not registered in this log"});
        return;
    }
    auto k = key_in_force(**rec, logged.public_key, index, logged.kind);
    std::string detail =
        k ? "the key of '" + logged.identity + "' was in force at index " + std::to_string(index)
          : "the key was not registered, or was rotated out or revoked, for '" + logged.identity +
                "' at index " + std::to_string(index);
    if (k && k->revoked && k->valid_until)
        detail += " (revoked later, at index " + std::to_string(*k->valid_until) + ")";
    checks.push_back({"identity-key", k != nullptr, detail});
}

/// The bundle answer against `signed_checkpoint` when it covers the entry.
std::optional<http_response> bundle_against(operations& ops, std::uint64_t index,
                                            const std::string& signed_checkpoint) {
    auto j = bundle_json(ops, index, signed_checkpoint);
    if (!j) return std::nullopt;
    if (j->contains("error")) return read_failed(ops, make_error((*j)["error"].get<std::string>()));
    return json_ok(*j);
}

/// Answers with the bundle against the first checkpoint of `sources` that
/// covers the entry, else against the newest log-signed one.
void bundle_from(operations& ops, std::uint64_t index, std::vector<checkpoint_source> sources,
                 http_respond respond) {
    auto* node = &ops;
    if (!sources.empty()) {
        auto source = sources.front();
        sources.erase(sources.begin());
        auto next = [node, index, sources, respond]() {
            bundle_from(*node, index, sources, respond);
        };
        return ops.checkpoint(
            source,
            [node, index, respond, next](const std::string& text) {
                if (auto r = bundle_against(*node, index, text)) return respond(std::move(*r));
                next();
            },
            [next](const failure&) { next(); });
    }
    // The newest log-signed checkpoint: what this node serves at /checkpoint.
    auto answer = [node, index, respond](const std::string& text) {
        if (auto r = bundle_against(*node, index, text)) return respond(std::move(*r));
        respond(json_error(503, "unavailable",
                           "entry " + std::to_string(index) +
                               " is not under a published checkpoint yet"));
    };
    if (ops.facts().leading && ops.facts().gated)
        return ops.checkpoint(checkpoint_source::ledger, answer,
                              [respond](const failure& f) { respond(failure_response(f)); });
    auto latest = ops.latest_checkpoint();
    if (!latest || !*latest) return respond(json_error(503, "unavailable", "no checkpoint yet"));
    answer(**latest);
}

} // namespace

std::optional<json> bundle_json(operations& ops, std::uint64_t index,
                                const std::string& signed_checkpoint) {
    auto cp = parse_signed_checkpoint(signed_checkpoint);
    auto stored = ops.verified_size();
    if (!cp || index >= cp->body.size || cp->body.size > stored) return std::nullopt;
    // Only a checkpoint of this node's own tree (one from gossip may not be);
    // the entry and every proof hash checked against the verified tree.
    const auto& verified = ops.verified_tiles();
    auto root = tiles::root_at(verified, stored, cp->body.size);
    if (!root) return json{{"error", root.message()}};
    if (*root != cp->body.root) return std::nullopt;
    auto raw = ops.checked_entry(index);
    if (!raw) return json{{"error", raw.message()}};
    if (!*raw) return std::nullopt;
    auto logged = decode_entry(**raw);
    if (!logged) return json{{"error", "entry " + std::to_string(index) + ": " + logged.message()}};
    auto inclusion = tiles::inclusion_proof(verified, index, cp->body.size);
    if (!inclusion) return json{{"error", inclusion.message()}};
    json out{{"index", index},
             {"entry", base64_encode(**raw)},
             {"size", cp->body.size},
             {"checkpoint", signed_checkpoint},
             {"inclusion_proof", proof_json(*inclusion)},
             {"proof", make_bundle(*logged, index, *inclusion, signed_checkpoint).serialize()}};
    // Which witnesses of the network's policy cosigned it, and whether they
    // make its quorum: what a client's `civic-attest verify --policy` will say.
    json cosigners = json::array();
    bool quorum = false;
    if (auto verdict = ops.network_verdict(signed_checkpoint)) {
        for (const auto& w : verdict->witnesses)
            cosigners.push_back(w);
        quorum = verdict->quorum;
    }
    out["witnesses"] = cosigners;
    out["quorum"] = quorum;
    return out;
}

http_response show_entry(context& cx, const call& c) {
    auto index = parse_decimal(c.wildcard);
    if (!index) return json_error(400, "bad_index", "entry index: " + index.message());
    auto raw = cx.ops.checked_entry(*index);
    if (!raw) return read_failed(cx.ops, raw.err());
    if (!*raw) return json_error(404, "not_found", "no entry " + c.wildcard);
    auto e = decode_entry(**raw);
    json out{{"index", *index}, {"entry", base64_encode(**raw)}};
    if (e) {
        out["kind"] = to_string(e->kind);
        out["identity"] = e->identity;
        out["timestamp_ms"] = e->timestamp_ms;
        out["public_key"] = hex_encode(e->public_key);
        out["content_sha256"] = hex_encode(e->content_hash);
    }
    return json_ok(out);
}

void show_bundle(context& cx, const call& c, http_respond respond) {
    auto index = parse_decimal(c.wildcard);
    if (!index) return respond(json_error(400, "bad_index", "entry index: " + index.message()));
    if (*index >= cx.ops.verified_size())
        return respond(json_error(404, "not_found", "no entry " + c.wildcard));
    // A leader with witnesses: the newest checkpoint that met the quorum, else
    // the newest published one with whatever cosignatures it has. A replica:
    // the newest checkpoint gossip brought, with its cosignatures.
    std::vector<checkpoint_source> sources{checkpoint_source::gossiped};
    if (cx.ops.facts().collecting)
        sources = {checkpoint_source::witnessed, checkpoint_source::collected};
    bundle_from(cx.ops, *index, std::move(sources), std::move(respond));
}

http_response verify_proof(context& cx, const call& c) {
    auto body = json_object(c.request.body);
    if (!body) return json_error(400, "bad_json", "the body must be a JSON object");
    if (!body->contains("proof") || !(*body)["proof"].is_string())
        return json_error(400, "bad_request", "'proof' (the tlog-proof text) is required");
    hash content{};
    if (auto bad = parse_content_hash(*body, content)) return *bad;
    auto verdict = cx.ops.verify_bundle((*body)["proof"].get<std::string>(), content);
    // The checks only this log can make: it holds the entry at that index, the
    // checkpoint is one of its own trees, the identity's key was in force.
    if (verdict.logged_entry && verdict.checkpoint_body) {
        if (auto failed =
                check_ledger_entry(cx.ops, *verdict.logged_entry, verdict.index, verdict.checks))
            return *failed;
        if (auto failed = check_ledger_checkpoint(cx.ops, *verdict.checkpoint_body, verdict.checks))
            return *failed;
        check_identity_key(cx.ops, *verdict.logged_entry, verdict.index, verdict.checks);
    }
    bool valid = verdict.valid;
    json checks = json::array();
    for (const auto& check : verdict.checks) {
        valid = valid && check.passed;
        checks.push_back(
            {{"name", check.name}, {"passed", check.passed}, {"detail", check.detail}});
    }
    json out{{"valid", valid}, {"checks", checks}};
    if (verdict.logged_entry) out["identity"] = verdict.logged_entry->identity;
    return json_ok(out);
}

http_response inclusion_proof(context& cx, const call& c) {
    auto size = cx.ops.verified_size();
    auto index = number_param(c.target, "index");
    auto at = number_param(c.target, "size");
    if (!index || !at) return json_error(400, "bad_request", "need ?index=I&size=S (decimal)");
    if (*at > size || *index >= *at)
        return json_error(422, "out_of_range", "need index < size <= " + std::to_string(size));
    auto p = tiles::inclusion_proof(cx.ops.verified_tiles(), *index, *at);
    if (!p) return read_failed(cx.ops, p.err());
    return json_ok({{"index", *index}, {"size", *at}, {"proof", proof_json(*p)}});
}

http_response consistency_proof(context& cx, const call& c) {
    auto size = cx.ops.verified_size();
    auto old_size = number_param(c.target, "old");
    auto new_size = number_param(c.target, "new");
    if (!old_size || !new_size)
        return json_error(400, "bad_request", "need ?old=A&new=B (decimal)");
    if (*old_size == 0 || *old_size > *new_size || *new_size > size)
        return json_error(422, "out_of_range", "need 0 < old <= new <= " + std::to_string(size));
    auto p = tiles::consistency_proof(cx.ops.verified_tiles(), *old_size, *new_size);
    if (!p) return read_failed(cx.ops, p.err());
    return json_ok({{"old", *old_size}, {"new", *new_size}, {"proof", proof_json(*p)}});
}

} // namespace civic::node::api
