// POST /api/sign: one statement signed for an identity (custodial: the node
// holds its key) and appended. POST /api/submit: an entry its owner signed,
// appended as it is. The path goes on in node/service/operations.cpp (sign,
// submit), then the signer and ledger actors; both answer alike.
#include "node/api/handlers.hpp"
#include "protocol/bundle.hpp"
#include "protocol/entry.hpp"

#include <algorithm>

namespace civic::node::api {
namespace {

/// Appends `text` as a JSON string. Our texts (notes, proofs) are valid UTF-8:
/// only quotes, backslashes and control characters need escaping.
void append_json_string(std::string& out, std::string_view text) {
    out.push_back('"');
    std::size_t run = 0; // start of the bytes not yet copied
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto u = static_cast<unsigned char>(text[i]);
        if (u >= 0x20 && u != '"' && u != '\\') continue;
        out.append(text.data() + run, i - run);
        run = i + 1;
        if (u == '"' || u == '\\') {
            out.push_back('\\');
            out.push_back(text[i]);
        } else if (u == '\n') {
            out += "\\n";
        } else {
            static const char digits[] = "0123456789abcdef";
            out += "\\u00";
            out.push_back(digits[u >> 4]);
            out.push_back(digits[u & 15]);
        }
    }
    out.append(text.data() + run, text.size() - run);
    out.push_back('"');
}

/// The answer, written directly: it is the hottest response, and a generic
/// JSON document costs more than the signature behind it. With `quorum` (a
/// "witnessed": true request answered at its deadline): says whether the
/// bundle's checkpoint met the witness quorum.
http_response sign_reply(const actors::append_receipt& r, const std::vector<hash>& inclusion,
                         const std::string& bundle, std::optional<bool> quorum = std::nullopt) {
    http_response res;
    auto& out = res.body;
    out.reserve(256 + 2 * r.checkpoint.size() + bundle.size() + 2 * r.entry.size() +
                48 * inclusion.size());
    out += "{\"index\":" + std::to_string(r.index) + ",\"entry\":";
    append_json_string(out, base64_encode(r.entry));
    out += ",\"checkpoint\":";
    append_json_string(out, r.checkpoint);
    out += ",\"inclusion_proof\":[";
    for (std::size_t i = 0; i < inclusion.size(); ++i) {
        if (i > 0) out.push_back(',');
        append_json_string(out, base64_encode(inclusion[i]));
    }
    out += "],\"proof\":";
    append_json_string(out, bundle);
    if (quorum) out += *quorum ? ",\"quorum\":true" : ",\"quorum\":false";
    out.push_back('}');
    return res;
}

/// What answers an appended entry: the receipt with its bundle, at once or,
/// for a witnessed request, once the bundle's checkpoint meets the quorum.
done_fn<actors::append_receipt> answer_receipt(context& cx, bool witnessed, http_respond respond) {
    // A witnessed answer waits from the request's arrival, within the HTTP
    // server's deadline for the whole exchange.
    auto deadline = cx.ops.now() + cx.ops.facts().witnessed_wait;
    auto* waiter = &cx.waiter;
    return [respond, witnessed, deadline, waiter](const actors::append_receipt& r) {
        auto inclusion = actors::inclusion_hashes(r);
        auto logged = decode_entry(r.entry);
        if (!logged) return respond(json_error(503, "internal", logged.message()));
        auto bundle = make_bundle(*logged, r.index, inclusion, r.checkpoint).serialize();
        if (!witnessed) return respond(sign_reply(r, inclusion, bundle));
        waiter->wait(r.index, deadline, sign_reply(r, inclusion, bundle, false), respond);
    };
}

/// 'witnessed', checked: only on a network with witnesses.
std::optional<http_response> parse_witnessed(const operations& ops, const json& body, bool& out) {
    if (body.contains("witnessed") && !body["witnessed"].is_boolean())
        return json_error(400, "bad_request", "'witnessed' must be true or false");
    out = body.value("witnessed", false);
    if (out && !ops.facts().collecting && !ops.facts().has_policy)
        return json_error(400, "bad_request",
                          "this network has no witnesses: leave 'witnessed' out");
    return std::nullopt;
}

/// A submitted entry, decoded and checked as far as this node can alone.
struct submit_fields {
    bytes entry;
    civic::entry decoded;
    bool witnessed = false;
};

std::optional<http_response> parse_submit_fields(const operations& ops, const std::string& text,
                                                 submit_fields& out) {
    auto body = json_object(text);
    if (!body) return json_error(400, "bad_json", "the body must be a JSON object");
    if (!body->contains("entry") || !(*body)["entry"].is_string())
        return json_error(400, "bad_request", "'entry' (the signed entry, base64) is required");
    auto raw = base64_decode((*body)["entry"].get<std::string>());
    if (!raw) return json_error(400, "bad_entry", "'entry' is not base64: " + raw.message());
    auto decoded = decode_entry(*raw);
    if (!decoded) return json_error(422, "invalid_entry", decoded.message());
    // Checked here too, so a replica forwards no forgery: the leader checks again.
    if (!decoded->signature_valid())
        return json_error(422, "invalid_entry", "the entry's signature does not verify");
    if (decoded->kind == entry_kind::identity_registration && !decoded->registers_owner_held_key())
        return json_error(422, "invalid_entry",
                          "a registration submitted whole must say \"owner-held\": no node "
                          "holds its key (custodial identities: POST /api/identities)");
    out.entry = std::move(*raw);
    out.decoded = std::move(*decoded);
    return parse_witnessed(ops, *body, out.witnessed);
}

/// The request's fields, checked; or the 400 answer.
struct sign_fields {
    std::string identity;
    bool witnessed = false;
    hash content{};
};

std::optional<http_response> parse_sign_fields(const operations& ops, const std::string& text,
                                               sign_fields& out) {
    auto body = json_object(text);
    if (!body) return json_error(400, "bad_json", "the body must be a JSON object");
    if (!body->contains("identity") || !(*body)["identity"].is_string())
        return json_error(400, "bad_request", "'identity' (a string) is required");
    out.identity = (*body)["identity"];
    if (auto bad = parse_witnessed(ops, *body, out.witnessed)) return bad;
    return parse_content_hash(*body, out.content);
}

/// Who asks: a leader checks the token against its table (`who`); a replica
/// forwards its hash (`token`), and the leader checks it.
struct bearer {
    std::optional<hash> token;
    std::optional<storage::token_record> who; // on a leader
};

std::optional<http_response> authenticate(const operations& ops, const http_request& request,
                                          bearer& out) {
    bool leading = ops.facts().leading;
    out.token = bearer_token_hash(request);
    if (leading && out.token) out.who = ops.token(*out.token);
    if (leading ? !out.who : !out.token)
        return json_error(401, "unauthorized",
                          "an 'Authorization: Bearer <token>' header is required");
    return std::nullopt;
}

/// 403 unless the token may act for `identity` (an admin's may for all).
std::optional<http_response> refuse_unless_allowed(const bearer& b, const std::string& identity,
                                                   const char* what) {
    if (!b.who || b.who->admin ||
        std::find(b.who->identities.begin(), b.who->identities.end(), identity) !=
            b.who->identities.end())
        return std::nullopt;
    return json_error(403, "forbidden",
                      std::string("this token may not ") + what + " for '" + identity + "'");
}

} // namespace

void sign_statement(context& cx, const call& c, http_respond respond) {
    auto& ops = cx.ops;
    bearer caller;
    if (auto refused = authenticate(ops, c.request, caller)) return respond(std::move(*refused));
    sign_fields fields;
    if (auto bad = parse_sign_fields(ops, c.request.body, fields)) return respond(std::move(*bad));
    if (auto refused = refuse_unless_allowed(caller, fields.identity, "sign"))
        return respond(std::move(*refused));
    if (auto refused = refuse_while_read_only(ops)) return respond(std::move(*refused));

    auto failed = [respond, ops_ptr = &ops, name = fields.identity](const failure& f) {
        if (f.code == static_cast<std::uint8_t>(actors::errc::unknown_key))
            if (auto owned = refuse_owner_held(*ops_ptr, name)) return respond(std::move(*owned));
        respond(failure_response(f));
    };
    actors::sign_request request{
        fields.identity, bytes(fields.content.begin(), fields.content.end()), {}, fields.witnessed};
    ops.sign(std::move(request), caller.who ? std::nullopt : caller.token,
             answer_receipt(cx, fields.witnessed, respond), failed);
}

void submit_entry(context& cx, const call& c, http_respond respond) {
    auto& ops = cx.ops;
    bearer caller;
    if (auto refused = authenticate(ops, c.request, caller)) return respond(std::move(*refused));
    submit_fields fields;
    if (auto bad = parse_submit_fields(ops, c.request.body, fields))
        return respond(std::move(*bad));
    const auto& e = fields.decoded;
    if (caller.who && !caller.who->admin && e.kind == entry_kind::identity_registration)
        return respond(
            json_error(403, "forbidden", "registering an identity needs the admin token"));
    if (auto refused = refuse_unless_allowed(caller, e.identity, "submit"))
        return respond(std::move(*refused));
    if (auto refused = refuse_while_read_only(ops)) return respond(std::move(*refused));
    auto failed = [respond](const failure& f) { respond(failure_response(f)); };
    ops.submit(std::move(fields.entry), caller.who ? std::nullopt : caller.token, fields.witnessed,
               answer_receipt(cx, fields.witnessed, respond), failed);
}

} // namespace civic::node::api
