// The one table of a node's HTTP routes: every path, its methods and its
// handler. The first route whose pattern and method match runs.
#include "node/api/node_api.hpp"

namespace civic::node::api {
namespace {

const std::vector<std::string> get{"GET"};
const std::vector<std::string> post{"POST"};

} // namespace

node_api::node_api(operations& ops)
    : waiter_(ops), context_{ops, waiter_},
      routes_(ops.facts().holds_ledger ? "no such endpoint" : "no such endpoint on a witness") {
    if (ops.facts().holds_ledger)
        add_ledger_routes();
    else
        add_witness_routes();
}

void node_api::handle(const http_request& request, http_respond respond) {
    routes_.dispatch(request, std::move(respond));
}

void node_api::add(const std::vector<std::string>& methods, std::string pattern, now_handler run) {
    routes_.add(methods, std::move(pattern),
                [this, run](const call& c, http_respond respond) { respond(run(context_, c)); });
}

void node_api::add(const std::vector<std::string>& methods, std::string pattern,
                   later_handler run) {
    routes_.add(methods, std::move(pattern), [this, run](const call& c, http_respond respond) {
        run(context_, c, std::move(respond));
    });
}

void node_api::add_ledger_routes() {
    if (context_.ops.facts().witness) add(post, "/add-checkpoint", witness_add_checkpoint);
    // tlog-tiles
    add(get, "/checkpoint", serve_checkpoint);
    add(get, "/tile/*", serve_tile);
    // Signing and identities: the leader does them (a replica forwards signing).
    add(post, "/api/sign", sign_statement);
    add(post, "/api/submit", submit_entry);
    add(post, "/api/identities", register_identity);
    add(get, "/api/identities", list_identities);
    add(post, "/api/identities/*/rotate", rotate_identity);
    add(post, "/api/identities/*/revoke", revoke_identity);
    add(get, "/api/identities/*/entries", show_identity_entries);
    add(get, "/api/identities/*", show_identity);
    // Entries and their proofs.
    add(get, "/api/entries/*", show_entry);
    add(get, "/api/bundle/*", show_bundle);
    add(post, "/api/verify", verify_proof);
    add(get, "/api/proof/inclusion", inclusion_proof);
    add(get, "/api/proof/consistency", consistency_proof);
    // The node.
    add(get, "/api/status", node_status);
    add(get, "/api/evidence", list_evidence);
    add(get, "/metrics", serve_metrics);
    add(get, "/healthz", serve_health);
    if (context_.ops.facts().witness) add(get, "/*/checkpoint", serve_cosigned_checkpoint);
}

void node_api::add_witness_routes() {
    add(post, "/add-checkpoint", witness_add_checkpoint);
    add(get, "/api/status", show_witness_status);
    add(get, "/api/evidence", list_evidence);
    add(get, "/metrics", serve_metrics);
    add(get, "/healthz", serve_health);
    add(get, "/*/checkpoint", serve_cosigned_checkpoint);
}

} // namespace civic::node::api
