// Internal to node/api/: what the handlers share. Each handler file serves one
// concern (sign, identities, proofs, tiles, witness, status); routes.cpp puts
// them in the one table.
#pragma once

#include "node/api/operations.hpp"
#include "node/api/router.hpp"
#include "node/api/witnessed.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace civic::node::api {

using json = nlohmann::json;

/// What every handler reaches the node through.
struct context {
    operations& ops;
    witnessed_waiter& waiter;
};

// answers.cpp: answers and checks more than one concern gives.
http_response json_ok(const json& body);
/// The answer for a failed ask of an actor, by its code.
http_response failure_response(const failure& f);
/// A write refused because the store has no room: 503, with Retry-After.
http_response read_only_response(const std::string& message);
/// The answer for a checked read that failed: 503 "damaged" (reported) or 503 "storage".
http_response read_failed(operations& ops, const error& e);
/// For what only the leader does, asked of a node that does not lead.
http_response not_leader(const operations& ops, const char* what);
/// The 503 for a write while the leader's store is read-only, or nothing.
std::optional<http_response> refuse_while_read_only(const operations& ops);
/// The token's record, if the request carries a known "Bearer" token.
std::optional<storage::token_record> caller(const operations& ops, const http_request& request);
/// SHA-256 of the request's bearer token, or nothing without one.
std::optional<hash> bearer_token_hash(const http_request& request);
/// 401 without a known token, 403 when it is not the admin's, else nothing.
std::optional<http_response> refuse_unless_admin(const operations& ops, const http_request& request,
                                                 const char* what);
/// 422 "owner_held" when `name` is an identity whose key its owner holds (no
/// node signs for it: its owner signs and submits), else nothing.
std::optional<http_response> refuse_owner_held(const operations& ops, const std::string& name);
/// The content's SHA-256 from exactly one of `content` (base64) and
/// `content_sha256` (hex), or the 400 answer.
std::optional<http_response> parse_content_hash(const json& body, hash& out);
std::vector<std::string> proof_json(const std::vector<hash>& proof);
/// A decimal query parameter, or why not.
result<std::uint64_t> number_param(const request_target& target, const char* name);
/// A JSON object from a request body, or nothing.
std::optional<json> json_object(const std::string& body);

// proofs.cpp
/// The bundle answer for `index` against a signed checkpoint: nothing when the
/// checkpoint does not cover it or is not this log's tree; {"error": ...} when
/// a read failed. Says which policy witnesses cosigned and whether they make
/// the quorum.
std::optional<json> bundle_json(operations& ops, std::uint64_t index,
                                const std::string& signed_checkpoint);

// The handlers, by concern.
void sign_statement(context& cx, const call& c, http_respond respond); // sign.cpp
void submit_entry(context& cx, const call& c, http_respond respond);
void register_identity(context& cx, const call& c, http_respond respond); // identities.cpp
void rotate_identity(context& cx, const call& c, http_respond respond);
void revoke_identity(context& cx, const call& c, http_respond respond);
http_response show_identity(context& cx, const call& c);
http_response list_identities(context& cx, const call& c);
void show_identity_entries(context& cx, const call& c, http_respond respond);
http_response show_entry(context& cx, const call& c); // proofs.cpp
void show_bundle(context& cx, const call& c, http_respond respond);
http_response verify_proof(context& cx, const call& c);
http_response inclusion_proof(context& cx, const call& c);
http_response consistency_proof(context& cx, const call& c);
void serve_checkpoint(context& cx, const call& c, http_respond respond); // tiles.cpp
/// The checkpoint this node publishes at /checkpoint, to `done`; a failure is
/// answered on `respond`.
void with_published_checkpoint(operations& ops, std::function<void(std::string)> done,
                               http_respond respond);
http_response serve_tile(context& cx, const call& c);
void witness_add_checkpoint(context& cx, const call& c, http_respond respond); // witness.cpp
void show_witness_status(context& cx, const call& c, http_respond respond);
/// tlog-witness monitoring: GET /<hex sha256(origin)>/checkpoint.
void serve_cosigned_checkpoint(context& cx, const call& c, http_respond respond);
http_response list_evidence(context& cx, const call& c);
void node_status(context& cx, const call& c, http_respond respond); // status.cpp
http_response serve_metrics(context& cx, const call& c);
http_response serve_health(context& cx, const call& c);

} // namespace civic::node::api
