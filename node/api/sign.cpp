// POST /api/sign: one statement signed for an identity and appended. The path
// of a submission goes on in node/service/operations.cpp (sign), then the
// signer and ledger actors.
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
    if (body->contains("witnessed") && !(*body)["witnessed"].is_boolean())
        return json_error(400, "bad_request", "'witnessed' must be true or false");
    out.witnessed = body->value("witnessed", false);
    if (out.witnessed && !ops.facts().collecting && !ops.facts().has_policy)
        return json_error(400, "bad_request",
                          "this network has no witnesses: leave 'witnessed' out");
    return parse_content_hash(*body, out.content);
}

} // namespace

void sign_statement(context& cx, const call& c, http_respond respond) {
    auto& ops = cx.ops;
    bool leading = ops.facts().leading;
    // A leader checks the token; a replica forwards its hash, and the leader checks it.
    auto token = bearer_token_hash(c.request);
    std::optional<storage::token_record> who;
    if (leading && token) who = ops.token(*token);
    if (leading ? !who : !token)
        return respond(json_error(401, "unauthorized",
                                  "an 'Authorization: Bearer <token>' header is required"));
    sign_fields fields;
    if (auto bad = parse_sign_fields(ops, c.request.body, fields)) return respond(std::move(*bad));
    if (who && !who->admin &&
        std::find(who->identities.begin(), who->identities.end(), fields.identity) ==
            who->identities.end())
        return respond(
            json_error(403, "forbidden", "this token may not sign for '" + fields.identity + "'"));
    if (auto refused = refuse_while_read_only(ops)) return respond(std::move(*refused));

    // A witnessed answer waits from the request's arrival, within the HTTP
    // server's deadline for the whole exchange.
    auto deadline = ops.now() + ops.facts().witnessed_wait;
    auto* waiter = &cx.waiter;
    bool witnessed = fields.witnessed;
    auto done = [respond, witnessed, deadline, waiter](const actors::append_receipt& r) {
        auto inclusion = actors::inclusion_hashes(r);
        auto logged = decode_entry(r.entry);
        if (!logged) return respond(json_error(503, "internal", logged.message()));
        auto bundle = make_bundle(*logged, r.index, inclusion, r.checkpoint).serialize();
        if (!witnessed) return respond(sign_reply(r, inclusion, bundle));
        waiter->wait(r.index, deadline, sign_reply(r, inclusion, bundle, false), respond);
    };
    auto failed = [respond](const failure& f) { respond(failure_response(f)); };
    actors::sign_request request{
        fields.identity, bytes(fields.content.begin(), fields.content.end()), {}};
    ops.sign(std::move(request), leading ? std::nullopt : token, done, failed);
}

} // namespace civic::node::api
