#include "node/api/handlers.hpp"
#include "node/api/tiles.hpp"
#include "protocol/sha256.hpp"
#include "storage/ledger_store.hpp"

namespace civic::node::api {

using actors::errc;

http_response json_ok(const json& body) {
    http_response r;
    r.body = body.dump();
    return r;
}

http_response read_only_response(const std::string& message) {
    auto r = json_error(503, "read_only", message);
    r.headers.push_back({"Retry-After", "5"});
    return r;
}

http_response failure_response(const failure& f) {
    const auto& message = f.message;
    switch (static_cast<errc>(f.code)) {
    case errc::invalid_entry:
        return json_error(422, "invalid_entry", message);
    case errc::unknown_identity:
        return json_error(404, "unknown_identity", message);
    case errc::no_checkpoint:
        return json_error(404, "not_found", message);
    case errc::identity_exists:
        return json_error(422, "identity_exists", message);
    case errc::key_mismatch:
        return json_error(422, "key_mismatch", message);
    case errc::unknown_key:
        return json_error(422, "no_signing_key", message);
    case errc::overloaded: {
        auto r = json_error(429, "overloaded", message);
        r.headers.push_back({"Retry-After", "1"});
        return r;
    }
    case errc::unauthorized:
        return json_error(401, "unauthorized", message);
    case errc::forbidden:
        return json_error(403, "forbidden", message);
    case errc::not_leader:
        return json_error(421, "not_leader", message);
    case errc::no_space:
        return read_only_response(message);
    case errc::unavailable:
    case errc::storage_failure:
    case errc::gap:
    case errc::inconsistent:
        break;
    }
    // Also CAF's own errors (code 0), e.g. a request that timed out.
    auto r = json_error(503, "unavailable", message);
    r.headers.push_back({"Retry-After", "1"});
    return r;
}

http_response read_failed(operations& ops, const error& e) {
    if (!storage::is_damage(e)) return json_error(503, "storage", e.message);
    ops.report_damage(e.message);
    return damaged_response(e.message);
}

http_response not_leader(const operations& ops, const char* what) {
    return json_error(421, "not_leader",
                      std::string(what) + " is done by the leader; node '" + ops.facts().node_name +
                          "' is a replica");
}

std::optional<http_response> refuse_while_read_only(const operations& ops) {
    if (!ops.facts().leading) return std::nullopt; // the leader's store takes them
    auto why = ops.read_only_reason();
    if (!why) return std::nullopt;
    return read_only_response("the ledger is read-only: " + *why +
                              "; writes resume by themselves once the store has room");
}

std::optional<hash> bearer_token_hash(const http_request& request) {
    constexpr std::string_view bearer = "Bearer ";
    if (request.authorization.compare(0, bearer.size(), bearer) != 0) return std::nullopt;
    return sha256(byte_view(std::string_view(request.authorization).substr(bearer.size())));
}

std::optional<storage::token_record> caller(const operations& ops, const http_request& request) {
    auto token = bearer_token_hash(request);
    if (!token) return std::nullopt;
    return ops.token(*token);
}

std::optional<http_response> refuse_unless_admin(const operations& ops, const http_request& request,
                                                 const char* what) {
    auto who = caller(ops, request);
    if (!who)
        return json_error(401, "unauthorized",
                          "an 'Authorization: Bearer <token>' header is required");
    if (!who->admin)
        return json_error(403, "forbidden", std::string(what) + " needs the admin token");
    return std::nullopt;
}

std::optional<http_response> parse_content_hash(const json& body, hash& out) {
    if (body.contains("content") == body.contains("content_sha256"))
        return json_error(400, "bad_request",
                          "give exactly one of 'content' (base64) and 'content_sha256' (hex)");
    if (body.contains("content")) {
        if (!body["content"].is_string())
            return json_error(400, "bad_request", "'content' must be a base64 string");
        auto decoded = base64_decode(body["content"].get<std::string>());
        if (!decoded) return json_error(400, "bad_base64", "'content': " + decoded.message());
        out = sha256(*decoded);
        return std::nullopt;
    }
    if (!body["content_sha256"].is_string())
        return json_error(400, "bad_request", "'content_sha256' must be a hex string");
    auto decoded = hex_decode(body["content_sha256"].get<std::string>());
    if (!decoded || decoded->size() != 32)
        return json_error(400, "bad_request", "'content_sha256' must be 64 hex digits");
    std::copy(decoded->begin(), decoded->end(), out.begin());
    return std::nullopt;
}

std::vector<std::string> proof_json(const std::vector<hash>& proof) {
    std::vector<std::string> out;
    out.reserve(proof.size());
    for (const auto& h : proof)
        out.push_back(base64_encode(h));
    return out;
}

result<std::uint64_t> number_param(const request_target& target, const char* name) {
    auto value = target.param(name);
    if (!value) return make_error(std::string("'") + name + "' is required");
    return parse_decimal(*value);
}

std::optional<json> json_object(const std::string& body) {
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
    return parsed;
}

std::optional<http_response> refuse_owner_held(const operations& ops, const std::string& name) {
    auto rec = ops.identity(name);
    if (!rec || !*rec || !(*rec)->owner_held) return std::nullopt;
    return json_error(422, "owner_held",
                      "identity '" + name +
                          "' holds its own key: no node signs for it. Its owner signs on their "
                          "machine (civic-attest sign --key FILE, or POST /api/submit)");
}

} // namespace civic::node::api
