// Identities: registering one (its key made and kept by the node), rotating and
// revoking its keys, and reading them and their entries. Owner-held identities
// register, rotate and revoke by POST /api/submit (sign.cpp).
#include "node/api/handlers.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "protocol/tiles.hpp"

namespace civic::node::api {
namespace {

json identity_json(const storage::identity_record& rec) {
    json keys = json::array();
    for (const auto& k : rec.keys) {
        json j{{"public_key", hex_encode(k.key)},
               {"valid_from", k.valid_from},
               {"revoked", k.revoked}};
        if (k.valid_until) j["valid_until"] = *k.valid_until;
        keys.push_back(j);
    }
    return {{"identity", rec.name},
            {"kind", rec.owner_held ? "owner-held" : "custodial"},
            {"keys", keys},
            {"retired", rec.current() == nullptr}};
}

/// The admin check and lookup every change to an existing identity starts
/// with: the record in `out`, or the answer that refuses the change.
std::optional<http_response> identity_for_change(const operations& ops, const call& c,
                                                 const char* what, storage::identity_record& out) {
    if (!ops.facts().leading) return not_leader(ops, "changing identities");
    if (auto refused = refuse_unless_admin(ops, c.request, what)) return refused;
    if (auto ok = check_identity_name(c.wildcard); !ok)
        return json_error(400, "bad_identity", ok.message());
    auto existing = ops.identity(c.wildcard);
    if (!existing) return json_error(503, "storage", existing.message());
    if (!*existing) return json_error(404, "not_found", "no identity '" + c.wildcard + "'");
    if ((*existing)->owner_held) return refuse_owner_held(ops, c.wildcard);
    out = std::move(**existing);
    return refuse_while_read_only(ops);
}

/// A new key for `name`, its file written before the change reaches the ledger
/// (the signer finds it there after a restart); or the 503 answer.
result<actors::new_identity_key> new_key_file(operations& ops, const std::string& name) {
    auto key = std::make_shared<const ed25519::secret_key>(ed25519::secret_key::generate());
    if (auto written = ops.write_identity_key(name, *key); !written) return written.err();
    return actors::new_identity_key{name, key};
}

/// What a registration or rotation answers: the identity's new key.
json new_key_json(const std::string& name, const actors::append_receipt& r,
                  const ed25519::public_key& key) {
    return {{"identity", name},
            {"index", r.index},
            {"public_key", hex_encode(key)},
            {"checkpoint", r.checkpoint}};
}

/// A change that fails must not leave its new key's file behind.
failed_fn drop_new_key(operations& ops, const std::string& name, const ed25519::public_key& key,
                       http_respond respond) {
    auto* node = &ops;
    return [node, name, key, respond](const failure& f) {
        node->remove_identity_key(name, key);
        respond(failure_response(f));
    };
}

} // namespace

void register_identity(context& cx, const call& c, http_respond respond) {
    auto& ops = cx.ops;
    if (!ops.facts().leading) return respond(not_leader(ops, "registering identities"));
    if (auto refused = refuse_unless_admin(ops, c.request, "registering identities"))
        return respond(std::move(*refused));
    auto body = json_object(c.request.body);
    if (!body || !body->contains("identity") || !(*body)["identity"].is_string())
        return respond(json_error(400, "bad_request", "the body must be {\"identity\": name}"));
    std::string name = (*body)["identity"];
    if (auto ok = check_identity_name(name); !ok)
        return respond(json_error(422, "invalid_identity", ok.message()));
    auto existing = ops.identity(name);
    if (existing && *existing)
        return respond(
            json_error(422, "identity_exists", "identity '" + name + "' already exists"));
    if (auto refused = refuse_while_read_only(ops)) return respond(std::move(*refused));
    auto key = new_key_file(ops, name);
    if (!key) return respond(json_error(503, "storage", key.message()));
    auto public_key = key->key->public_key_bytes();
    ops.change_identity(
        identity_change::register_key, std::move(*key),
        [respond, name, public_key](const actors::append_receipt& r) {
            respond(json_ok(new_key_json(name, r, public_key)));
        },
        drop_new_key(ops, name, public_key, respond));
}

void rotate_identity(context& cx, const call& c, http_respond respond) {
    auto& ops = cx.ops;
    storage::identity_record existing;
    if (auto refused = identity_for_change(ops, c, "rotating keys", existing))
        return respond(std::move(*refused));
    const auto& name = c.wildcard;
    auto key = new_key_file(ops, name);
    if (!key) return respond(json_error(503, "storage", key.message()));
    auto public_key = key->key->public_key_bytes();
    auto* node = &ops;
    ops.change_identity(
        identity_change::rotate_key, std::move(*key),
        [node, respond, name, public_key](const actors::append_receipt& r) {
            // The rotation is signed by the key it replaces: that key's file goes.
            auto rotation = decode_entry(r.entry);
            auto out = new_key_json(name, r, public_key);
            if (rotation) {
                node->remove_identity_key(name, rotation->public_key);
                out["previous_key"] = hex_encode(rotation->public_key);
            }
            respond(json_ok(out));
        },
        drop_new_key(ops, name, public_key, respond));
}

void revoke_identity(context& cx, const call& c, http_respond respond) {
    auto& ops = cx.ops;
    storage::identity_record existing;
    if (auto refused = identity_for_change(ops, c, "revoking keys", existing))
        return respond(std::move(*refused));
    const auto& name = c.wildcard;
    ed25519::public_key revoked{};
    auto body =
        c.request.body.empty() ? std::optional<json>(json::object()) : json_object(c.request.body);
    if (!body)
        return respond(json_error(400, "bad_json", "the body must be a JSON object (or empty)"));
    if (body->contains("public_key")) {
        auto decoded = (*body)["public_key"].is_string()
                           ? hex_decode((*body)["public_key"].get<std::string>())
                           : result<bytes>(make_error("not a string"));
        if (!decoded || decoded->size() != revoked.size())
            return respond(json_error(400, "bad_request", "'public_key' must be 64 hex digits"));
        std::copy(decoded->begin(), decoded->end(), revoked.begin());
    } else if (auto current = existing.current()) {
        revoked = current->key;
    } else {
        return respond(json_error(422, "retired", "identity '" + name + "' has no current key"));
    }
    auto* node = &ops;
    ops.revoke_key(
        name, bytes(revoked.begin(), revoked.end()),
        [node, respond, name, revoked](const actors::append_receipt& r) {
            auto revocation = decode_entry(r.entry);
            bool retired = revocation && revocation->public_key == revoked;
            if (retired) node->remove_identity_key(name, revoked); // it can never sign again
            respond(json_ok({{"identity", name},
                             {"index", r.index},
                             {"revoked_key", hex_encode(revoked)},
                             {"retired", retired},
                             {"checkpoint", r.checkpoint}}));
        },
        [respond](const failure& f) { respond(failure_response(f)); });
}

http_response show_identity(context& cx, const call& c) {
    if (auto ok = check_identity_name(c.wildcard); !ok)
        return json_error(400, "bad_identity", ok.message());
    auto rec = cx.ops.identity(c.wildcard);
    if (!rec) return json_error(503, "storage", rec.message());
    if (!*rec) return json_error(404, "not_found", "no identity '" + c.wildcard + "'");
    return json_ok(identity_json(**rec));
}

http_response list_identities(context& cx, const call& c) {
    constexpr std::uint64_t max_page = 1000;
    std::uint64_t limit = 100;
    if (auto text = c.target.param("limit")) {
        auto parsed = parse_decimal(*text, max_page);
        if (!parsed || *parsed == 0)
            return json_error(400, "bad_request", "'limit' must be 1.." + std::to_string(max_page));
        limit = *parsed;
    }
    auto after = c.target.param("after").value_or("");
    auto names = cx.ops.identity_names(after, limit);
    if (!names) return json_error(503, "storage", names.message());
    json list = json::array();
    for (const auto& name : *names) {
        auto rec = cx.ops.identity(name);
        if (rec && *rec) list.push_back(identity_json(**rec));
    }
    json out{{"identities", list}};
    if (names->size() == limit) out["next"] = names->back(); // pass as ?after= for more
    return json_ok(out);
}

namespace {

/// One page of an identity's entries, each with its inclusion proof against
/// `signed_checkpoint` (entries beyond it wait for the next checkpoint).
http_response identity_entries_page(operations& ops, const std::string& name,
                                    std::optional<std::uint64_t> after, std::size_t limit,
                                    const std::string& signed_checkpoint) {
    auto cp = parse_signed_checkpoint(signed_checkpoint);
    auto verified = ops.verified_size();
    if (!cp || cp->body.size > verified)
        return json_error(503, "unavailable", "no checkpoint of this node's tree to prove against");
    auto indexes = ops.identity_entries(name, after, limit);
    if (!indexes) return json_error(503, "storage", indexes.message());
    json entries = json::array();
    for (auto index : *indexes) {
        if (index >= cp->body.size) break;
        auto raw = ops.checked_entry(index);
        if (!raw) return read_failed(ops, raw.err());
        if (!*raw) break;
        auto inclusion = tiles::inclusion_proof(ops.verified_tiles(), index, cp->body.size);
        if (!inclusion) return read_failed(ops, inclusion.err());
        entries.push_back({{"index", index},
                           {"entry", base64_encode(**raw)},
                           {"inclusion_proof", proof_json(*inclusion)}});
    }
    json out{{"identity", name},
             {"size", cp->body.size},
             {"checkpoint", signed_checkpoint},
             {"entries", entries}};
    // A full page may have more behind it: pass "next" as ?after=.
    if (entries.size() == limit) out["next"] = entries.back()["index"];
    return json_ok(out);
}

} // namespace

void show_identity_entries(context& cx, const call& c, http_respond respond) {
    constexpr std::uint64_t max_page = 256;
    auto& ops = cx.ops;
    const auto& name = c.wildcard;
    if (auto ok = check_identity_name(name); !ok)
        return respond(json_error(400, "bad_identity", ok.message()));
    auto rec = ops.identity(name);
    if (!rec) return respond(json_error(503, "storage", rec.message()));
    if (!*rec) {
        // "a/entries" may be an identity's whole name: then this is its record.
        auto whole = ops.identity(name + "/entries");
        if (whole && *whole && !c.target.param("after") && !c.target.param("limit"))
            return respond(json_ok(identity_json(**whole)));
        return respond(json_error(404, "not_found", "no identity '" + name + "'"));
    }
    std::optional<std::uint64_t> after;
    if (c.target.param("after")) {
        auto parsed = number_param(c.target, "after");
        if (!parsed) return respond(json_error(400, "bad_request", parsed.message()));
        after = *parsed;
    }
    std::uint64_t limit = 100;
    if (auto text = c.target.param("limit")) {
        auto parsed = parse_decimal(*text, max_page);
        if (!parsed || *parsed == 0)
            return respond(
                json_error(400, "bad_request", "'limit' must be 1.." + std::to_string(max_page)));
        limit = *parsed;
    }
    auto* node = &ops;
    with_published_checkpoint(
        ops,
        [node, name, after, limit, respond](std::string text) {
            respond(
                identity_entries_page(*node, name, after, static_cast<std::size_t>(limit), text));
        },
        respond);
}

} // namespace civic::node::api
