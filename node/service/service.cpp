#include "node/service/service.hpp"

#include "actors/bridge.hpp"
#include "actors/collector.hpp"
#include "actors/committer.hpp"
#include "actors/directory.hpp"
#include "actors/errors.hpp"
#include "actors/gateway.hpp"
#include "actors/gossip.hpp"
#include "actors/replica.hpp"
#include "actors/signer.hpp"
#include "actors/supervisor.hpp"
#include "actors/system.hpp"
#include "actors/uplink.hpp"
#include "actors/witness.hpp"
#include "node/api/tiles.hpp"
#include "node/http/connection_book.hpp"
#include "node/peer/peer_tls.hpp"
#include "node/service/metrics.hpp"
#include "node/service/node_tree.hpp"
#include "node/system/files.hpp"
#include "protocol/bundle.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "protocol/witness.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sys/stat.h>

namespace civic::node {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using storage::origin_setting;

http_response json_ok(const json& body) {
    http_response r;
    r.body = body.dump();
    return r;
}

/// A write refused because the store has no room: 503, retry later (writes
/// resume by themselves once it has).
http_response read_only_response(const std::string& message) {
    auto r = json_error(503, "read_only", message);
    r.headers.push_back({"Retry-After", "5"});
    return r;
}

/// The HTTP answer for an error from our actors (or CAF's own, e.g. a timeout).
http_response error_response(const caf::error& e) {
    using actors::errc;
    auto message = actors::message_of(e);
    switch (static_cast<errc>(actors::code_of(e))) {
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
    auto r = json_error(503, "unavailable", message);
    r.headers.push_back({"Retry-After", "1"});
    return r;
}

/// Path without the query, and the query's parameters.
struct target {
    std::string path;
    std::map<std::string, std::string> query;
};

target split_target(const std::string& raw) {
    target t;
    auto q = raw.find('?');
    t.path = raw.substr(0, q);
    if (q == std::string::npos) return t;
    std::string_view rest(raw);
    rest.remove_prefix(q + 1);
    while (!rest.empty() && t.query.size() < 16) {
        auto amp = rest.find('&');
        auto pair = rest.substr(0, amp);
        auto eq = pair.find('=');
        if (eq != std::string_view::npos)
            t.query[std::string(pair.substr(0, eq))] = std::string(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
    return t;
}

/// The content's SHA-256 from exactly one of `content` (base64) and
/// `content_sha256` (hex), or the 400 answer.
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

/// The /api/sign answer, written directly: it is the hottest response, and a
/// generic JSON document costs more than the signature behind it.
/// With `quorum` (a "witnessed": true request answered at its deadline): says
/// whether the bundle's checkpoint met the witness quorum.
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

std::vector<std::string> proof_json(const std::vector<hash>& proof) {
    std::vector<std::string> out;
    for (const auto& h : proof)
        out.push_back(base64_encode(h));
    return out;
}

} // namespace

struct service::impl {
    service_options options;
    log::logger_ptr logger = log::logger::none(); // the node's one log
    std::string origin;
    std::shared_ptr<storage::ledger_store> store;
    std::unique_ptr<actors::system_config> cfg;
    std::unique_ptr<caf::actor_system> sys;
    /// The current handles of the supervised actors: "committer", then "ledger"
    /// and "signer" on a leader, "replica" and "uplink" on a replica.
    std::shared_ptr<actors::directory> directory = std::make_shared<actors::directory>();
    actors::supervisor_actor supervision_root;
    actors::gateway_actor gateway;
    std::uint16_t published_port = 0;
    std::string role_note;     // why the role differs from the topology's, if it does
    json identity_keys_report; // a leader's identity keys at start (null elsewhere)
    mutable std::mutex failure_mutex;
    std::optional<std::string> failure;
    std::vector<actors::bridge_actor> bridges;
    std::atomic<std::size_t> next_bridge{0};
    std::unique_ptr<http_server> http;
    std::unique_ptr<peer_tls> peer_front; // the peer port, on a TLS network
    /// Remote CAF nodes by the names their certificates carry (filled by the front).
    std::shared_ptr<actors::peer_directory> peers;
    /// The gateway's actor id, for the front's receiver check (0 until spawned).
    std::atomic<std::uint64_t> gateway_id{0};
    std::unique_ptr<policy_verifier> trust; // this log's key; caches checkpoint verdicts
    /// The network's policy (when it has one): which witnesses cosigned a checkpoint.
    std::unique_ptr<policy_verifier> network_trust;
    bool collecting = false;           // a leader with witnesses to ask
    std::size_t evidence_at_start = 0; // split-view evidence held, for the start-up line
    std::unique_ptr<metrics> stats;    // outlives the actors and the HTTP server
    std::shared_ptr<storage::witness_store> witness_store; // witnesses only
    std::shared_ptr<storage::witness_store> gossip_store;  // split-view evidence
    /// Why a store refuses writes, as its actor last reported; empty while it
    /// takes them. Guarded: set on an actor's thread, read on HTTP ones.
    struct read_only_report {
        std::string reason;
        std::chrono::steady_clock::time_point since{};
    };
    mutable std::mutex read_only_mutex;
    read_only_report read_only_store;   // the ledger's or the replica's
    read_only_report read_only_witness; // the witness's

    /// The ledger, replica or witness (`role`) reported a change (see
    /// node_runtime::on_read_only): logged and shown in the metrics once per
    /// change, not once per request.
    void set_read_only(read_only_report& report, const char* role, const std::string& reason);
    /// Why writes are refused now, or nothing.
    std::optional<std::string> read_only_now() const {
        std::lock_guard lock(read_only_mutex);
        if (read_only_store.reason.empty()) return std::nullopt;
        return read_only_store.reason;
    }
    /// The 503 for a write while the leader's ledger is read-only (at once: no
    /// key file written, nothing asked of the ledger), or nothing.
    std::optional<http_response> refuse_while_read_only() const {
        if (!options.network.leading) return std::nullopt; // the leader's store takes them
        auto why = read_only_now();
        if (!why) return std::nullopt;
        return read_only_response("the ledger is read-only: " + *why +
                                  "; writes resume by themselves once the store has room");
    }

    /// GET /api/evidence: every split-view evidence record this node holds.
    http_response evidence_list(const target& t) const;

    /// Spawns the supervision tree and waits until its last child runs.
    civic::status start_tree(actors::supervisor_config tree);
    /// Logs what disables identities at start and keeps it for /api/status.
    void report_identity_keys(const opened_ledger& ledger);
    /// On a TLS network: binds the peer port behind its TLS front and points every
    /// peer endpoint at the front's forwarder for it (see peer_tls.hpp).
    civic::status start_peer_front();
    /// Spawns the gateway and publishes it on the CAF port (TLS unless insecure_dev).
    civic::status publish_gateway();
    /// Starts the HTTP server on the routes of this node.
    civic::status start_http();
    /// How this node's actors run in a process, reporting to its metrics.
    node_runtime runtime();
    /// Builds and starts the supervision tree (`ledger`: null on a node that is
    /// only a witness) and publishes the gateway.
    civic::status start_actors(const opened_ledger* ledger);

    /// The token's record, if the request carries a known "Bearer" token.
    std::optional<storage::token_record> caller(const http_request& req) const {
        constexpr std::string_view bearer = "Bearer ";
        if (req.authorization.compare(0, bearer.size(), bearer) != 0) return std::nullopt;
        auto record = store->token(
            sha256(byte_view(std::string_view(req.authorization).substr(bearer.size()))));
        if (!record || !*record) return std::nullopt;
        return **record;
    }

    /// Runs `job(self)` in one of the bridges (HTTP threads must not block, and
    /// spawning an actor per request costs more than the request).
    template <class Job>
    void on_bridge(Job job) {
        auto n = next_bridge.fetch_add(1, std::memory_order_relaxed) % bridges.size();
        caf::anon_send(bridges[n], actors::bridge_job{std::move(job)});
    }

    /// Asks the actor in `slot` through one of the bridges (actors::ask_actor):
    /// `done(result)` or `failed(error)`, once.
    template <class Result, class Handle, class Done, class Failed, class... Ts>
    void ask(actors::actor_slot<Handle> slot, Done done, Failed failed, Ts... xs) {
        auto n = next_bridge.fetch_add(1, std::memory_order_relaxed) % bridges.size();
        actors::ask_actor<Result>(
            bridges[n], directory, slot, [done](const Result& r) { done(r); },
            [failed](const caf::error& e) { failed(e); }, xs...);
    }

    /// Sends `xs...` to the signer through a bridge and calls `done(receipt)` or
    /// `failed(error)`.
    template <class Done, class Failed, class... Ts>
    void ask_signer(Done done, Failed failed, Ts... xs) {
        ask<actors::append_receipt>(actors::slots::signer, done, failed, xs...);
    }

    /// The answer for what only the leader does, on a node that does not lead.
    http_response not_leader(const char* what) const {
        return json_error(421, "not_leader",
                          std::string(what) + " is done by the leader; node '" +
                              options.network.node_name + "' is a replica");
    }

    void status(http_respond respond);
    /// A leader with replicas publishes only checkpoints whose batch enough
    /// replicas hold: a newer one in its store may belong to a history that dies
    /// with it (a crash before replication, then a promotion elsewhere).
    void published_checkpoint(http_respond respond);
    /// The ledger's published checkpoint (log-signed only).
    void ledger_checkpoint(http_respond respond);
    /// GET /api/bundle/<index>: the entry's proof against the newest witnessed
    /// checkpoint that covers it, else against the newest log-signed one.
    void bundle(const std::string& index_text, http_respond respond);
    /// The bundle answer for `index` against a signed checkpoint, or nothing
    /// when the checkpoint does not cover the index.
    std::optional<json> bundle_json(std::uint64_t index,
                                    const std::string& signed_checkpoint) const;
    /// A request of /api/sign with "witnessed": true, waiting.
    struct witnessed_wait {
        std::uint64_t index = 0;
        std::chrono::steady_clock::time_point deadline;
        http_response fallback; // the log-signed answer, "quorum": false
        http_respond respond;
    };
    /// Answers `w` with the entry's bundle once a checkpoint that covers it
    /// meets the witness quorum, or at its deadline with its fallback. All
    /// waiting requests share one poll (every 100 ms while any wait, one ask of
    /// the collector or gossip for all), not one each.
    void wait_witnessed(witnessed_wait w);
    /// One round of that poll: asks for the witnessed checkpoint, answers what
    /// it covers and what has expired, and runs again while any still wait.
    void poll_witnessed();
    static constexpr std::size_t max_witnessed_waits = 65536;
    std::mutex witnessed_mutex;
    std::vector<witnessed_wait> witnessed_waits; // guarded by witnessed_mutex
    bool witnessed_polling = false;              // guarded by witnessed_mutex
    std::optional<http_response> bundle_against(std::uint64_t index,
                                                const std::string& signed_checkpoint) const;

    std::optional<http_response> refuse_unless_admin(const http_request& req,
                                                     const char* what) const;
    /// The admin check and lookup every change to an existing identity starts
    /// with: the record in `out`, or the answer that refuses the change.
    std::optional<http_response> identity_for_change(const http_request& req,
                                                     const std::string& name, const char* what,
                                                     storage::identity_record& out) const;
    /// Writes an identity key file (0600, never overwriting); returns its path.
    result<std::string> write_identity_key(const std::string& name,
                                           const ed25519::secret_key& key) const;
    void remove_identity_key(const std::string& name, const ed25519::public_key& key) const;

    void route(const http_request& req, http_respond respond);
    /// tlog-witness: POST /add-checkpoint, answered exactly as the spec says.
    void add_checkpoint(const http_request& req, http_respond respond);
    void witness_status(http_respond respond);
    /// One line of what the node found at start: its role, tree, epoch and
    /// what is wrong with its store or keys.
    void log_start_summary() const;
    /// The routes of a node that is only a witness.
    void route_witness_only(const http_request& req, http_respond respond);
    void sign(const http_request& req, http_respond respond);
    void register_identity(const http_request& req, http_respond respond);
    void rotate_identity(const std::string& name, const http_request& req, http_respond respond);
    void revoke_identity_key(const std::string& name, const http_request& req,
                             http_respond respond);
    http_response entry(const std::string& index_text) const;
    http_response identity(const std::string& name) const;
    http_response identities(const target& t) const;
    http_response verify(const http_request& req) const;
    /// The checks only this log can make: it holds the entry at that index, the
    /// checkpoint is one of its own trees, the identity's key was in force.
    /// Returns the 503 answer instead when what it reads is damaged.
    std::optional<http_response> check_against_ledger(const civic::entry& logged,
                                                      std::uint64_t index, const checkpoint& cp,
                                                      std::vector<bundle_check>& checks) const;
    http_response proof(const target& t, bool inclusion) const;
    /// A checked read was answered 503 "damaged": counts it.
    void report_damage(const std::string& what) const;
    /// Logs each range the store newly finds damaged, once, and counts it.
    void watch_damage();
    /// Answers `out` with the scrubber's status added as "scrub".
    void respond_with_scrub(json out, http_respond respond);
    /// The answer for a checked read that failed: 503 "damaged" (reported) or
    /// 503 "storage".
    http_response read_failed(const error& e) const;
};

void service::impl::set_read_only(read_only_report& report, const char* role,
                                  const std::string& reason) {
    std::chrono::steady_clock::time_point since;
    {
        std::lock_guard lock(read_only_mutex);
        if (reason == report.reason) return;
        since = report.since;
        report.reason = reason;
        report.since = std::chrono::steady_clock::now();
    }
    const bool witness = &report == &read_only_witness;
    if (witness)
        stats->set_witness_read_only(!reason.empty());
    else
        stats->set_read_only(!reason.empty());
    if (!reason.empty()) {
        auto kind = storage::shortage_label(storage::shortage_of(make_error(reason)));
        logger->error(role, std::string("read-only ") + role,
                      {{"kind", kind},
                       {"reason", reason},
                       {"meanwhile", witness ? "checkpoints answered 503, nothing cosigned that "
                                               "is not durable; each round tries the store again"
                                             : "writes answered 503 read_only; reads go on; it "
                                               "probes the store and takes writes again once it "
                                               "has room"}});
        return;
    }
    auto held_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - since)
                       .count();
    logger->info(role, std::string("writable ") + role + " again",
                 {{"read_only_ms", held_ms}, {"why", "the store took a write again"}});
}

void service::impl::report_damage(const std::string&) const { stats->store_damage_found(); }

void service::impl::watch_damage() {
    auto* counters = stats.get();
    auto out = logger;
    std::weak_ptr<storage::ledger_store> weak = store;
    store->on_damage(
        [counters, out, weak](const storage::damaged_range& r, const std::string& what) {
            // The first index the damage names ("index N"), else the range's first.
            std::string index = std::to_string(r.entries ? r.index * tiles::tile_width : 0);
            if (auto at = what.find("index "); at != std::string::npos) {
                auto digits = what.substr(at + 6);
                index = digits.substr(0, digits.find_first_not_of("0123456789"));
            }
            auto held = weak.lock();
            counters->damaged_range_found(held ? held->damaged_ranges().size() : 0);
            out->error("store", "store damage",
                       {{"index", index},
                        {"range", r.name()},
                        {"what", what},
                        {"meanwhile", "every read of the range answered 503 until healed; check "
                                      "with 'civic-attest fsck'"}});
        });
}

void service::impl::respond_with_scrub(json out, http_respond respond) {
    ask<actors::scrub_status>(
        actors::slots::scrubber,
        [respond, out](const actors::scrub_status& s) {
            auto with = out;
            with["scrub"] = {{"entries_per_second", s.entries_per_second},
                             {"position", s.position},
                             {"passes", s.passes},
                             {"last_pass_seconds", static_cast<double>(s.last_pass_ms) / 1000.0},
                             {"entries_checked", s.entries_checked},
                             {"damage_found", s.damage_found},
                             {"healed", s.healed},
                             {"damaged_ranges", s.damaged_ranges},
                             {"damaged", s.damaged}};
            respond(json_ok(with));
        },
        [respond, out](const caf::error& e) {
            auto with = out;
            with["scrub"] = {{"error", actors::message_of(e)}};
            respond(json_ok(with));
        },
        atoms::status_atom_v);
}

http_response service::impl::read_failed(const error& e) const {
    if (!storage::is_damage(e)) return json_error(503, "storage", e.message);
    report_damage(e.message);
    return damaged_response(e.message);
}

void service::impl::add_checkpoint(const http_request& req, http_respond respond) {
    if (req.method != "POST") return respond(json_error(405, "method_not_allowed", "use POST"));
    auto parsed = witness::parse_add_checkpoint(req.body);
    if (!parsed) return respond(json_error(400, "bad_request", parsed.message()));
    actors::cosign_request request{parsed->old_size, {}, std::move(parsed->checkpoint)};
    for (const auto& h : parsed->proof)
        request.proof.insert(request.proof.end(), h.begin(), h.end());
    ask<actors::cosign_answer>(
        actors::slots::witness,
        [respond](const actors::cosign_answer& a) {
            if (a.status == 200) {
                http_response r;
                r.content_type = "text/plain; charset=utf-8";
                r.body = a.body;
                return respond(std::move(r));
            }
            if (a.size_body) {
                http_response r;
                r.status = 409;
                r.content_type = "text/x.tlog.size";
                r.body = a.body;
                return respond(std::move(r));
            }
            static const std::map<unsigned, const char*> codes{
                {400, "bad_request"}, {403, "forbidden"},    {404, "unknown_origin"},
                {409, "conflict"},    {422, "inconsistent"}, {503, "unavailable"}};
            auto code = codes.find(a.status);
            auto message = a.body;
            while (!message.empty() && message.back() == '\n')
                message.pop_back();
            auto r = json_error(a.status, code == codes.end() ? "error" : code->second, message);
            if (a.status == 503) r.headers.push_back({"Retry-After", "1"}); // e.g. a full disk
            respond(std::move(r));
        },
        [respond](const caf::error& e) { respond(error_response(e)); }, atoms::add_atom_v,
        std::move(request));
}

void service::impl::witness_status(http_respond respond) {
    auto node = options.network.node_name;
    ask<actors::witness_status>(
        actors::slots::witness,
        [respond, node](const actors::witness_status& w) {
            json logs = json::array();
            for (std::size_t i = 0; i < w.origins.size(); ++i) {
                json log{{"origin", w.origins[i]}, {"cosigned_size", w.sizes[i]}};
                if (!w.halted[i].empty()) log["halted"] = w.halted[i];
                logs.push_back(std::move(log));
            }
            json out{{"node", node},           {"role", "witness"},
                     {"witness", w.name},      {"logs", logs},
                     {"cosigned", w.cosigned}, {"refused", w.refused},
                     {"evidence", w.evidence}, {"writable", w.read_only_reason.empty()}};
            if (!w.read_only_reason.empty()) out["read_only_reason"] = w.read_only_reason;
            respond(json_ok(std::move(out)));
        },
        [respond](const caf::error& e) { respond(error_response(e)); }, atoms::status_atom_v);
}

void service::impl::route_witness_only(const http_request& req, http_respond respond) {
    auto t = split_target(req.target);
    if (t.path == "/add-checkpoint") return add_checkpoint(req, std::move(respond));
    if (req.method != "GET") return respond(json_error(405, "method_not_allowed", "use GET"));
    if (t.path == "/metrics") {
        http_response r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = stats->render();
        return respond(std::move(r));
    }
    if (t.path == "/healthz") return respond(json_ok({{"status", "ok"}}));
    if (t.path == "/api/status") return witness_status(std::move(respond));
    if (t.path == "/api/evidence") return respond(evidence_list(t));
    respond(json_error(404, "not_found", "no such endpoint on a witness: " + t.path));
}

void service::impl::route(const http_request& req, http_respond respond) {
    if (!store) return route_witness_only(req, std::move(respond));
    if (options.witness.enabled && split_target(req.target).path == "/add-checkpoint")
        return add_checkpoint(req, std::move(respond));
    if (req.method == "GET" && split_target(req.target).path == "/checkpoint" &&
        options.network.leading && (options.ledger.replica_acks > 0 || collecting))
        return published_checkpoint(std::move(respond));
    if (auto tiles =
            serve_tiles(*store, req, [this](const std::string& what) { report_damage(what); }))
        return respond(std::move(*tiles));
    auto t = split_target(req.target);
    auto get = req.method == "GET";
    auto post = req.method == "POST";
    if (t.path == "/metrics") {
        if (!get) return respond(json_error(405, "method_not_allowed", "use GET"));
        http_response r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = stats->render();
        return respond(std::move(r));
    }
    if (t.path == "/healthz") {
        if (!get) return respond(json_error(405, "method_not_allowed", "use GET"));
        return respond(json_ok({{"status", "ok"}, {"size", store->stored_size()}}));
    }
    if (t.path == "/api/sign") {
        if (!post) return respond(json_error(405, "method_not_allowed", "use POST"));
        return sign(req, std::move(respond));
    }
    if (t.path == "/api/verify") {
        if (!post) return respond(json_error(405, "method_not_allowed", "use POST"));
        return respond(verify(req));
    }
    bool leading = options.network.leading;
    if (t.path == "/api/identities") {
        if (post && !leading) return respond(not_leader("registering identities"));
        if (post) return register_identity(req, std::move(respond));
        if (get) return respond(identities(t));
        return respond(json_error(405, "method_not_allowed", "use GET or POST"));
    }
    if (post && t.path.rfind("/api/identities/", 0) == 0) {
        // Identity names may contain '/', but only these two POSTs exist under a name.
        auto name = t.path.substr(16);
        auto ends_with = [&](std::string_view suffix) {
            return name.size() > suffix.size() &&
                   name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
        };
        if (!leading && (ends_with("/rotate") || ends_with("/revoke")))
            return respond(not_leader("changing identities"));
        if (ends_with("/rotate"))
            return rotate_identity(name.substr(0, name.size() - 7), req, std::move(respond));
        if (ends_with("/revoke"))
            return revoke_identity_key(name.substr(0, name.size() - 7), req, std::move(respond));
    }
    if (!get) return respond(json_error(405, "method_not_allowed", "use GET"));
    if (t.path.rfind("/api/entries/", 0) == 0) return respond(entry(t.path.substr(13)));
    if (t.path.rfind("/api/bundle/", 0) == 0) return bundle(t.path.substr(12), std::move(respond));
    if (t.path.rfind("/api/identities/", 0) == 0) return respond(identity(t.path.substr(16)));
    if (t.path == "/api/proof/inclusion") return respond(proof(t, true));
    if (t.path == "/api/proof/consistency") return respond(proof(t, false));
    if (t.path == "/api/status") return status(std::move(respond));
    if (t.path == "/api/evidence") return respond(evidence_list(t));
    respond(json_error(404, "not_found", "no such endpoint: " + t.path));
}

void service::impl::report_identity_keys(const opened_ledger& ledger) {
    json disabled = json::array();
    for (const auto& p : ledger.identity_key_problems) {
        disabled.push_back({{"identity", p.identity}, {"file", p.file}, {"reason", p.reason}});
        // One line each (at most identity_keys::max_problems): an operator must
        // learn at start which identities cannot sign, and why.
        logger->error("keys",
                      p.identity.empty() ? "an unreadable identity key file"
                                         : "an identity cannot sign until its key file is fixed",
                      {{"identity", p.identity.empty() ? "-" : p.identity},
                       {"file", options.data_dir + "/" + p.file},
                       {"problem", p.reason}});
    }
    if (ledger.identity_key_problem_count > ledger.identity_key_problems.size())
        logger->error(
            "keys", "more identity key problems (see /api/status)",
            {{"more", ledger.identity_key_problem_count - ledger.identity_key_problems.size()}});
    identity_keys_report = {{"loaded", ledger.identity_keys_loaded},
                            {"problems", ledger.identity_key_problem_count},
                            {"disabled", disabled}};
}

void service::impl::status(http_respond respond) {
    auto failed = [respond](const caf::error& e) { respond(error_response(e)); };
    json node{{"node", options.network.node_name},
              {"role", options.network.leading ? "leader" : "replica"},
              {"epoch", storage::stored_epoch(*store)}};
    if (!identity_keys_report.is_null()) node["identity_keys"] = identity_keys_report;
    if (options.network.leading) {
        return ask<actors::ledger_status>(
            actors::slots::ledger,
            [this, respond, node](const actors::ledger_status& s) {
                auto out = node;
                out.update({{"size", s.size},
                            {"committed_size", s.committed_size},
                            {"replicated_size", s.replicated_size},
                            {"pending", s.pending},
                            {"batches", s.batches},
                            {"last_batch_size", s.last_batch_size},
                            {"last_commit_us", s.last_commit_us},
                            {"replicas", s.replicas},
                            {"replica_lag_p50_us", s.replica_lag_p50_us},
                            {"replica_lag_p95_us", s.replica_lag_p95_us},
                            {"writable", s.read_only_reason.empty()}});
                if (!s.read_only_reason.empty()) out["read_only_reason"] = s.read_only_reason;
                if (!collecting) return respond_with_scrub(out, respond);
                ask<actors::collector_status>(
                    actors::slots::collector,
                    [this, respond, out](const actors::collector_status& c) {
                        auto with = out;
                        json witnesses = json::array();
                        for (const auto& w : c.witnesses)
                            witnesses.push_back({{"name", w.name},
                                                 {"connected", w.connected},
                                                 {"cosigned_size", w.known_size},
                                                 {"cosigned", w.cosigned},
                                                 {"failures", w.failures},
                                                 {"last_latency_us", w.last_latency_us}});
                        with["witnessing"] = {{"published_size", c.published_size},
                                              {"quorum", c.quorum},
                                              {"cosigners", c.cosigners},
                                              {"rounds", c.rounds},
                                              {"quorum_rounds", c.quorum_rounds},
                                              {"time_to_quorum_p50_us", c.time_to_quorum_p50_us},
                                              {"time_to_quorum_p95_us", c.time_to_quorum_p95_us},
                                              {"witnesses", witnesses}};
                        respond_with_scrub(with, respond);
                    },
                    [this, respond, out](const caf::error& e) {
                        auto with = out;
                        with["witnessing"] = {{"error", actors::message_of(e)}};
                        respond_with_scrub(with, respond);
                    },
                    atoms::status_atom_v);
            },
            failed, atoms::status_atom_v);
    }
    // A replica: its own size, and how far behind the leader it is.
    auto size = store->stored_size();
    if (auto why = read_only_now()) {
        node["writable"] = false;
        node["read_only_reason"] = *why;
    } else {
        node["writable"] = true;
    }
    ask<actors::link_status>(
        actors::slots::uplink,
        [this, respond, node, size](const actors::link_status& link) {
            auto out = node;
            out.update({{"size", size},
                        {"committed_size", size},
                        {"leader",
                         {{"joined", link.joined},
                          {"name", link.leader},
                          {"size", link.leader_size},
                          {"polled_ms_ago", link.polled_ms_ago},
                          {"last_failure", link.last_failure}}},
                        {"behind", link.leader_size > size ? link.leader_size - size : 0}});
            respond_with_scrub(out, respond);
        },
        failed, atoms::status_atom_v);
}

void service::impl::published_checkpoint(http_respond respond) {
    if (!collecting) return ledger_checkpoint(std::move(respond));
    ask<std::string>(
        actors::slots::collector,
        [respond](const std::string& text) { respond(checkpoint_response(text)); },
        [this, respond](const caf::error&) { ledger_checkpoint(respond); }, atoms::checkpt_atom_v);
}

void service::impl::ledger_checkpoint(http_respond respond) {
    ask<std::string>(
        actors::slots::ledger,
        [respond](const std::string& text) { respond(checkpoint_response(text)); },
        [respond](const caf::error& e) { respond(error_response(e)); }, atoms::checkpt_atom_v);
}

void service::impl::sign(const http_request& req, http_respond respond) {
    constexpr std::string_view bearer = "Bearer ";
    bool leading = options.network.leading;
    std::optional<storage::token_record> who;
    if (leading) who = caller(req);
    if (leading ? !who : req.authorization.compare(0, bearer.size(), bearer) != 0)
        return respond(json_error(401, "unauthorized",
                                  "an 'Authorization: Bearer <token>' header is required"));
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return respond(json_error(400, "bad_json", "the body must be a JSON object"));
    if (!body.contains("identity") || !body["identity"].is_string())
        return respond(json_error(400, "bad_request", "'identity' (a string) is required"));
    std::string identity = body["identity"];
    if (body.contains("witnessed") && !body["witnessed"].is_boolean())
        return respond(json_error(400, "bad_request", "'witnessed' must be true or false"));
    bool witnessed = body.value("witnessed", false);
    if (witnessed && !collecting && options.network.policy_text.empty())
        return respond(
            json_error(400, "bad_request", "this network has no witnesses: leave 'witnessed' out"));
    hash content{};
    if (auto bad = parse_content_hash(body, content)) return respond(std::move(*bad));
    if (who && !who->admin &&
        std::find(who->identities.begin(), who->identities.end(), identity) ==
            who->identities.end())
        return respond(
            json_error(403, "forbidden", "this token may not sign for '" + identity + "'"));

    if (auto refused = refuse_while_read_only()) return respond(std::move(*refused));

    actors::sign_request request{identity, bytes(content.begin(), content.end()), {}};
    // Within the HTTP server's deadline for the whole exchange.
    auto wait = std::min(options.actor_timeout,
                         options.http.request_timeout - std::chrono::milliseconds(2000));
    auto done = [this, respond, witnessed, wait](const actors::append_receipt& r) {
        auto inclusion = actors::inclusion_hashes(r);
        auto logged = decode_entry(r.entry);
        if (!logged) return respond(json_error(503, "internal", logged.message()));
        auto bundle = make_bundle(*logged, r.index, inclusion, r.checkpoint).serialize();
        if (!witnessed) return respond(sign_reply(r, inclusion, bundle));
        wait_witnessed({r.index, std::chrono::steady_clock::now() + wait,
                        sign_reply(r, inclusion, bundle, false), respond});
    };
    auto failed = [respond](const caf::error& e) { respond(error_response(e)); };
    if (leading) return ask_signer(done, failed, atoms::sign_atom_v, std::move(request));
    // Not the leader: the uplink forwards it, and the leader checks the token.
    auto token_hash = sha256(byte_view(std::string_view(req.authorization).substr(bearer.size())));
    ask<actors::append_receipt>(
        actors::slots::uplink, done, failed, atoms::sign_atom_v,
        actors::forwarded_sign{bytes(token_hash.begin(), token_hash.end()), std::move(request)});
}

std::optional<http_response> service::impl::refuse_unless_admin(const http_request& req,
                                                                const char* what) const {
    auto who = caller(req);
    if (!who)
        return json_error(401, "unauthorized",
                          "an 'Authorization: Bearer <token>' header is required");
    if (!who->admin)
        return json_error(403, "forbidden", std::string(what) + " needs the admin token");
    return std::nullopt;
}

result<std::string> service::impl::write_identity_key(const std::string& name,
                                                      const ed25519::secret_key& key) const {
    auto secret = note::format_signer_key(name, note::type_ed25519, key);
    auto path =
        (fs::path(options.data_dir) / "keys" / identity_key_file_name(name, key.public_key_bytes()))
            .string();
    CIVIC_TRY(write_secret_key_file(path, secret));
    return path;
}

void service::impl::remove_identity_key(const std::string& name,
                                        const ed25519::public_key& key) const {
    std::error_code ignored;
    fs::remove(fs::path(options.data_dir) / "keys" / identity_key_file_name(name, key), ignored);
}

void service::impl::register_identity(const http_request& req, http_respond respond) {
    if (auto refused = refuse_unless_admin(req, "registering identities"))
        return respond(std::move(*refused));
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("identity") ||
        !body["identity"].is_string())
        return respond(json_error(400, "bad_request", "the body must be {\"identity\": name}"));
    std::string name = body["identity"];
    if (auto ok = check_identity_name(name); !ok)
        return respond(json_error(422, "invalid_identity", ok.message()));
    auto existing = store->identity(name);
    if (existing && *existing)
        return respond(
            json_error(422, "identity_exists", "identity '" + name + "' already exists"));

    if (auto refused = refuse_while_read_only()) return respond(std::move(*refused));
    // The key is made and kept here (the signer signs for the identity); the file,
    // written before the registration reaches the ledger, lets the signer find it
    // again after a restart.
    auto key = std::make_shared<const ed25519::secret_key>(ed25519::secret_key::generate());
    if (auto written = write_identity_key(name, *key); !written)
        return respond(json_error(503, "storage", written.message()));
    auto public_key = key->public_key_bytes();
    ask_signer(
        [respond, name, public_key](const actors::append_receipt& r) {
            respond(json_ok({{"identity", name},
                             {"index", r.index},
                             {"public_key", hex_encode(public_key)},
                             {"checkpoint", r.checkpoint}}));
        },
        // A registration that fails must not leave its key behind.
        [this, respond, name, public_key](const caf::error& e) {
            remove_identity_key(name, public_key);
            respond(error_response(e));
        },
        atoms::add_atom_v, actors::new_identity_key{name, key});
}

std::optional<http_response>
service::impl::identity_for_change(const http_request& req, const std::string& name,
                                   const char* what, storage::identity_record& out) const {
    if (auto refused = refuse_unless_admin(req, what)) return refused;
    if (auto ok = check_identity_name(name); !ok)
        return json_error(400, "bad_identity", ok.message());
    auto existing = store->identity(name);
    if (!existing) return json_error(503, "storage", existing.message());
    if (!*existing) return json_error(404, "not_found", "no identity '" + name + "'");
    out = std::move(**existing);
    return std::nullopt;
}

void service::impl::rotate_identity(const std::string& name, const http_request& req,
                                    http_respond respond) {
    storage::identity_record existing;
    if (auto refused = identity_for_change(req, name, "rotating keys", existing))
        return respond(std::move(*refused));
    if (auto refused = refuse_while_read_only()) return respond(std::move(*refused));
    auto key = std::make_shared<const ed25519::secret_key>(ed25519::secret_key::generate());
    if (auto written = write_identity_key(name, *key); !written)
        return respond(json_error(503, "storage", written.message()));
    auto public_key = key->public_key_bytes();
    ask_signer(
        [this, respond, name, public_key](const actors::append_receipt& r) {
            // The rotation is signed by the key it replaces: that key's file goes.
            auto rotation = decode_entry(r.entry);
            json out{{"identity", name},
                     {"index", r.index},
                     {"public_key", hex_encode(public_key)},
                     {"checkpoint", r.checkpoint}};
            if (rotation) {
                remove_identity_key(name, rotation->public_key);
                out["previous_key"] = hex_encode(rotation->public_key);
            }
            respond(json_ok(out));
        },
        [this, respond, name, public_key](const caf::error& e) {
            remove_identity_key(name, public_key);
            respond(error_response(e));
        },
        atoms::rotate_atom_v, actors::new_identity_key{name, key});
}

void service::impl::revoke_identity_key(const std::string& name, const http_request& req,
                                        http_respond respond) {
    storage::identity_record existing;
    if (auto refused = identity_for_change(req, name, "revoking keys", existing))
        return respond(std::move(*refused));
    if (auto refused = refuse_while_read_only()) return respond(std::move(*refused));
    ed25519::public_key revoked{};
    json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return respond(json_error(400, "bad_json", "the body must be a JSON object (or empty)"));
    if (body.contains("public_key")) {
        auto decoded = body["public_key"].is_string()
                           ? hex_decode(body["public_key"].get<std::string>())
                           : result<bytes>(make_error("not a string"));
        if (!decoded || decoded->size() != revoked.size())
            return respond(json_error(400, "bad_request", "'public_key' must be 64 hex digits"));
        std::copy(decoded->begin(), decoded->end(), revoked.begin());
    } else if (auto current = existing.current()) {
        revoked = current->key;
    } else {
        return respond(json_error(422, "retired", "identity '" + name + "' has no current key"));
    }
    ask_signer(
        [this, respond, name, revoked](const actors::append_receipt& r) {
            auto revocation = decode_entry(r.entry);
            bool retired = revocation && revocation->public_key == revoked;
            if (retired) remove_identity_key(name, revoked); // it can never sign again
            respond(json_ok({{"identity", name},
                             {"index", r.index},
                             {"revoked_key", hex_encode(revoked)},
                             {"retired", retired},
                             {"checkpoint", r.checkpoint}}));
        },
        [respond](const caf::error& e) { respond(error_response(e)); }, atoms::revoke_atom_v, name,
        bytes(revoked.begin(), revoked.end()));
}

http_response service::impl::entry(const std::string& index_text) const {
    auto index = parse_decimal(index_text);
    if (!index) return json_error(400, "bad_index", "entry index: " + index.message());
    auto raw = store->checked_entry(*index);
    if (!raw) return read_failed(raw.err());
    if (!*raw) return json_error(404, "not_found", "no entry " + index_text);
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

std::optional<http_response>
service::impl::bundle_against(std::uint64_t index, const std::string& signed_checkpoint) const {
    auto j = bundle_json(index, signed_checkpoint);
    if (!j) return std::nullopt;
    if (j->contains("error")) return read_failed(make_error((*j)["error"].get<std::string>()));
    return json_ok(*j);
}

std::optional<json> service::impl::bundle_json(std::uint64_t index,
                                               const std::string& signed_checkpoint) const {
    auto cp = parse_signed_checkpoint(signed_checkpoint);
    auto stored = store->verified_size();
    if (!cp || index >= cp->body.size || cp->body.size > stored) return std::nullopt;
    // Only a checkpoint of this node's own tree (one from gossip may not be);
    // the entry and every proof hash checked against the verified tree.
    const auto& verified = store->verified_tiles();
    auto root = tiles::root_at(verified, stored, cp->body.size);
    if (!root) return json{{"error", root.message()}};
    if (*root != cp->body.root) return std::nullopt;
    auto raw = store->checked_entry(index);
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
    if (network_trust) {
        if (auto verdict = network_trust->verify(signed_checkpoint)) {
            for (const auto& w : verdict->witnesses)
                cosigners.push_back(w);
            quorum = verdict->quorum;
        }
    }
    out["witnesses"] = cosigners;
    out["quorum"] = quorum;
    return out;
}

void service::impl::wait_witnessed(witnessed_wait w) {
    bool full = false, start_poll = false;
    {
        std::lock_guard lock(witnessed_mutex);
        full = witnessed_waits.size() >= max_witnessed_waits;
        if (!full) {
            witnessed_waits.push_back(std::move(w));
            start_poll = !std::exchange(witnessed_polling, true);
        }
    }
    // Too many waiting: the log-signed answer at once, as at a deadline.
    if (full) return w.respond(std::move(w.fallback));
    if (start_poll) poll_witnessed();
}

void service::impl::poll_witnessed() {
    auto answer = [this](const std::optional<std::string>& checkpoint) {
        std::vector<witnessed_wait> waits;
        {
            std::lock_guard lock(witnessed_mutex);
            waits.swap(witnessed_waits);
        }
        auto now = std::chrono::steady_clock::now();
        std::vector<witnessed_wait> still;
        for (auto& w : waits) {
            if (checkpoint) {
                auto j = bundle_json(w.index, *checkpoint);
                if (j && !j->contains("error") && (*j)["quorum"] == true) {
                    w.respond(json_ok(*j));
                    continue;
                }
            }
            if (now >= w.deadline) {
                w.respond(std::move(w.fallback));
                continue;
            }
            still.push_back(std::move(w));
        }
        {
            std::lock_guard lock(witnessed_mutex);
            // Requests that came meanwhile are already in witnessed_waits.
            for (auto& w : still)
                witnessed_waits.push_back(std::move(w));
            stats->witnessed_poll(witnessed_waits.size());
            if (witnessed_waits.empty()) {
                witnessed_polling = false;
                return;
            }
        }
        on_bridge([this](actors::bridge_pointer self) {
            self->delayed_send(
                self, std::chrono::milliseconds(100),
                actors::bridge_job{[this](actors::bridge_pointer) { poll_witnessed(); }});
        });
    };
    auto covered = [answer](const std::string& text) { answer(text); };
    auto failed = [answer](const caf::error&) { answer(std::nullopt); };
    if (collecting)
        return ask<std::string>(actors::slots::collector, covered, failed, atoms::checkpt_atom_v,
                                true);
    ask<std::string>(actors::slots::gossip, covered, failed, atoms::checkpt_atom_v);
}

void service::impl::bundle(const std::string& index_text, http_respond respond) {
    auto index = parse_decimal(index_text);
    if (!index) return respond(json_error(400, "bad_index", "entry index: " + index.message()));
    if (*index >= store->verified_size())
        return respond(json_error(404, "not_found", "no entry " + index_text));
    auto i = *index;
    // Against the newest log-signed checkpoint: what this node serves at /checkpoint.
    auto log_signed = [this, i, respond]() {
        auto answer = [this, i, respond](const std::string& text) {
            if (auto r = bundle_against(i, text)) return respond(std::move(*r));
            respond(json_error(503, "unavailable",
                               "entry " + std::to_string(i) +
                                   " is not under a published checkpoint yet"));
        };
        if (options.network.leading && options.ledger.replica_acks > 0)
            return ask<std::string>(
                actors::slots::ledger, answer,
                [respond](const caf::error& e) { respond(error_response(e)); },
                atoms::checkpt_atom_v);
        auto latest = store->latest_checkpoint();
        if (!latest || !*latest)
            return respond(json_error(503, "unavailable", "no checkpoint yet"));
        answer(**latest);
    };
    if (!collecting) {
        // A replica: the newest checkpoint gossip brought, with its cosignatures.
        return ask<std::string>(
            actors::slots::gossip,
            [this, i, respond, log_signed](const std::string& text) {
                if (auto r = bundle_against(i, text)) return respond(std::move(*r));
                log_signed();
            },
            [log_signed](const caf::error&) { log_signed(); }, atoms::checkpt_atom_v);
    }
    // The newest checkpoint that met the quorum, if it covers the entry; else
    // the newest published one, with whatever cosignatures it has; else the log's.
    auto published = [this, i, respond, log_signed]() {
        ask<std::string>(
            actors::slots::collector,
            [this, i, respond, log_signed](const std::string& text) {
                if (auto r = bundle_against(i, text)) return respond(std::move(*r));
                log_signed();
            },
            [log_signed](const caf::error&) { log_signed(); }, atoms::checkpt_atom_v);
    };
    ask<std::string>(
        actors::slots::collector,
        [this, i, respond, published](const std::string& text) {
            if (auto r = bundle_against(i, text)) return respond(std::move(*r));
            published();
        },
        [published](const caf::error&) { published(); }, atoms::checkpt_atom_v, true);
}

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
    return {{"identity", rec.name}, {"keys", keys}, {"retired", rec.current() == nullptr}};
}
} // namespace

http_response service::impl::identity(const std::string& name) const {
    if (auto ok = check_identity_name(name); !ok)
        return json_error(400, "bad_identity", ok.message());
    auto rec = store->identity(name);
    if (!rec) return json_error(503, "storage", rec.message());
    if (!*rec) return json_error(404, "not_found", "no identity '" + name + "'");
    return json_ok(identity_json(**rec));
}

http_response service::impl::identities(const target& t) const {
    constexpr std::uint64_t max_page = 1000;
    std::uint64_t limit = 100;
    if (auto it = t.query.find("limit"); it != t.query.end()) {
        auto parsed = parse_decimal(it->second, max_page);
        if (!parsed || *parsed == 0)
            return json_error(400, "bad_request", "'limit' must be 1.." + std::to_string(max_page));
        limit = *parsed;
    }
    std::string after;
    if (auto it = t.query.find("after"); it != t.query.end()) after = it->second;
    auto names = store->identity_names(after, limit);
    if (!names) return json_error(503, "storage", names.message());
    json list = json::array();
    for (const auto& name : *names) {
        auto rec = store->identity(name);
        if (rec && *rec) list.push_back(identity_json(**rec));
    }
    json out{{"identities", list}};
    if (names->size() == limit) out["next"] = names->back(); // pass as ?after= for more
    return json_ok(out);
}

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

} // namespace

std::optional<http_response>
service::impl::check_against_ledger(const civic::entry& logged, std::uint64_t index,
                                    const checkpoint& cp, std::vector<bundle_check>& checks) const {
    auto size = store->verified_size();
    auto stored = store->checked_entry(index);
    if (!stored) return read_failed(stored.err());
    if (!*stored) {
        checks.push_back({"ledger-entry", false,
                          "this log holds no entry " + std::to_string(index) + " (size " +
                              std::to_string(size) + ")"});
    } else {
        bool same = **stored == logged.encode();
        checks.push_back(
            {"ledger-entry", same,
             same ? "this log holds the same entry at index " + std::to_string(index)
                  : "this log holds a different entry at index " + std::to_string(index)});
    }

    // The checkpoint must be one of this log's trees: it signs one per batch and keeps them.
    // This log's root at that size, from the verified tree (a stored checkpoint
    // is bytes from the disk too).
    std::optional<hash> our_root;
    if (cp.size <= size && cp.size > 0) {
        auto root = tiles::root_at(store->verified_tiles(), size, cp.size);
        if (!root) return read_failed(root.err());
        our_root = *root;
    }
    if (!our_root)
        checks.push_back({"ledger-checkpoint", false,
                          "this log has no tree of size " + std::to_string(cp.size)});
    else
        checks.push_back(
            {"ledger-checkpoint", *our_root == cp.root,
             *our_root == cp.root
                 ? "the checkpoint is this log's tree of size " + std::to_string(cp.size)
                 : "this log's tree of size " + std::to_string(cp.size) +
                       " has another root: a split view"});

    auto rec = store->identity(logged.identity);
    if (!rec || !*rec) {
        checks.push_back({"identity-key", false,
                          "identity '" + logged.identity + "' is not registered in this log"});
        return std::nullopt;
    }
    auto k = key_in_force(**rec, logged.public_key, index, logged.kind);
    std::string detail =
        k ? "the key of '" + logged.identity + "' was in force at index " + std::to_string(index)
          : "the key was not registered, or was rotated out or revoked, for '" + logged.identity +
                "' at index " + std::to_string(index);
    if (k && k->revoked && k->valid_until)
        detail += " (revoked later, at index " + std::to_string(*k->valid_until) + ")";
    checks.push_back({"identity-key", k != nullptr, detail});
    return std::nullopt;
}

http_response service::impl::verify(const http_request& req) const {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return json_error(400, "bad_json", "the body must be a JSON object");
    if (!body.contains("proof") || !body["proof"].is_string())
        return json_error(400, "bad_request", "'proof' (the tlog-proof text) is required");
    hash content{};
    if (auto bad = parse_content_hash(body, content)) return *bad;
    auto verdict = verify_bundle(*trust, body["proof"].get<std::string>(), content);
    if (verdict.logged_entry && verdict.checkpoint_body) {
        if (auto failed = check_against_ledger(*verdict.logged_entry, verdict.index,
                                               *verdict.checkpoint_body, verdict.checks))
            return *failed;
    }
    bool valid = verdict.valid;
    json checks = json::array();
    for (const auto& c : verdict.checks) {
        valid = valid && c.passed;
        checks.push_back({{"name", c.name}, {"passed", c.passed}, {"detail", c.detail}});
    }
    json out{{"valid", valid}, {"checks", checks}};
    if (verdict.logged_entry) out["identity"] = verdict.logged_entry->identity;
    return json_ok(out);
}

http_response service::impl::proof(const target& t, bool inclusion) const {
    auto number = [&](const char* name) -> result<std::uint64_t> {
        auto it = t.query.find(name);
        if (it == t.query.end()) return make_error(std::string("'") + name + "' is required");
        return parse_decimal(it->second);
    };
    std::uint64_t size = store->verified_size();
    const auto& verified = store->verified_tiles();
    if (inclusion) {
        auto index = number("index");
        auto at = number("size");
        if (!index || !at) return json_error(400, "bad_request", "need ?index=I&size=S (decimal)");
        if (*at > size || *index >= *at)
            return json_error(422, "out_of_range", "need index < size <= " + std::to_string(size));
        auto p = tiles::inclusion_proof(verified, *index, *at);
        if (!p) return read_failed(p.err());
        return json_ok({{"index", *index}, {"size", *at}, {"proof", proof_json(*p)}});
    }
    auto old_size = number("old");
    auto new_size = number("new");
    if (!old_size || !new_size)
        return json_error(400, "bad_request", "need ?old=A&new=B (decimal)");
    if (*old_size == 0 || *old_size > *new_size || *new_size > size)
        return json_error(422, "out_of_range", "need 0 < old <= new <= " + std::to_string(size));
    auto p = tiles::consistency_proof(verified, *old_size, *new_size);
    if (!p) return read_failed(p.err());
    return json_ok({{"old", *old_size}, {"new", *new_size}, {"proof", proof_json(*p)}});
}

struct peer_epoch {
    std::uint64_t epoch = 0;
    std::string name;
};

/// The newest epoch the reachable peers know of (each asked in turn, within the
/// connection timeout; peers that are down do not count).
peer_epoch newest_peer_epoch(caf::actor_system& sys, const network_options& net) {
    auto mm =
        net.insecure_dev ? sys.middleman().actor_handle() : sys.openssl_manager().actor_handle();
    auto timeout = std::max(net.system.connection_timeout, std::chrono::milliseconds(1000));
    peer_epoch newest;
    caf::scoped_actor self{sys};
    for (const auto& [host, port] : net.peers) {
        actors::gateway_actor gateway;
        self->request(mm, timeout, caf::connect_atom::value, host, port)
            .receive(
                [&](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
                    gateway = caf::actor_cast<actors::gateway_actor>(std::move(ptr));
                },
                [](caf::error&) {});
        if (!gateway) continue;
        self->request(gateway, timeout, atoms::status_atom_v)
            .receive(
                [&](const actors::node_status& s) {
                    if (s.epoch > newest.epoch) newest = {s.epoch, s.name};
                },
                [](caf::error&) {});
    }
    return newest;
}

status require_tls(const network_options& net) {
    if (net.caf_port != 0 && !net.insecure_dev && net.system.tls_ca.empty())
        return make_error("node '" + net.node_name +
                          "': no TLS CA: peers would connect with an anonymous cipher "
                          "(give certificates, or --insecure-dev on a development machine)");
    return {};
}

http_response service::impl::evidence_list(const target& t) const {
    std::uint64_t from = 0;
    if (auto it = t.query.find("from"); it != t.query.end()) {
        auto n = parse_decimal(it->second);
        if (!n) return json_error(400, "bad_request", "'from': " + n.message());
        from = *n;
    }
    constexpr std::size_t page = 100;
    json items = json::array();
    std::uint64_t total = 0;
    // Evidence this node caught as a witness (add-checkpoint), then by gossip.
    for (const auto* held : {witness_store.get(), gossip_store.get()}) {
        if (!held) continue;
        auto count = held->evidence_count();
        if (from < total + count && items.size() < page) {
            auto records = held->evidence(from > total ? from - total : 0, page - items.size());
            if (!records) return json_error(503, "storage", records.message());
            for (const auto& r : *records)
                items.push_back({{"origin", r.origin},
                                 {"kind", r.kind},
                                 {"shown_by", r.source},
                                 {"ours", r.ours},
                                 {"theirs", r.theirs},
                                 {"root_at_smaller", r.root_at_smaller},
                                 {"proof", r.proof}});
        }
        total += count;
    }
    return json_ok({{"total", total}, {"from", from}, {"evidence", items}});
}

status service::impl::start_tree(actors::supervisor_config tree) {
    auto& m = *this;
    const auto& net = options.network;
    auto last_child = tree.children.back().name;
    m.supervision_root = m.sys->spawn(actors::supervisor, tree);
    {
        // Serve nothing before every actor runs (the supervisor starts them in
        // its own first step).
        caf::scoped_actor self{*m.sys};
        std::string why;
        self->request(m.supervision_root, m.options.actor_timeout, atoms::child_atom_v, last_child)
            .receive([](const caf::actor&) {}, [&](caf::error& e) { why = actors::message_of(e); });
        if (!why.empty()) return make_error("node '" + net.node_name + "' did not start: " + why);
    }
    auto* raw = &m;
    m.supervision_root->attach_functor([raw](const caf::error& reason) {
        if (!reason || reason == caf::exit_reason::user_shutdown) return;
        std::lock_guard lock(raw->failure_mutex);
        raw->failure = "the supervision tree gave up: " + actors::message_of(reason);
    });
    for (int i = 0; i < 4; ++i)
        m.bridges.push_back(m.sys->spawn(actors::bridge, m.options.actor_timeout));

    return {};
}

status service::impl::start_peer_front() {
    auto& net = options.network;
    if (net.caf_port == 0 || net.insecure_dev) return {};
    peer_tls_options o;
    o.node_name = net.node_name;
    o.listen_host = net.caf_host;
    o.listen_port = net.caf_port;
    o.ca_file = net.system.tls_ca;
    o.cert_file = net.system.tls_certificate;
    o.key_file = net.system.tls_key;
    o.peers = net.peer_names;
    auto* owner = this;
    auto refusal_log = std::make_shared<log_limiter>(
        [out = logger](const std::string& line) { out->warn("peer_port", line); });
    peers = std::make_shared<actors::peer_directory>([owner, refusal_log](const std::string& line) {
        if (owner->stats) owner->stats->peer_message_refused();
        (*refusal_log)(line);
    });
    o.directory = peers;
    // Peers reach this node through its gateway; a replica's leader also
    // through the replica actor it joined with. Every other actor id is refused
    // (an authenticated peer could otherwise send the ledger an append).
    o.may_receive = [owner](std::uint64_t dest, bool named) {
        if (named) return dest == static_cast<std::uint64_t>(caf::atom("SpawnServ"));
        if (dest == owner->gateway_id.load()) return true;
        auto replica = owner->directory->get(actors::slots::replica);
        return replica && replica.id() == dest;
    };
    o.on_dropped = [owner] {
        if (owner->stats) owner->stats->peer_message_refused();
    };
    o.max_connections = net.max_peer_connections;
    o.max_connections_per_address = net.max_peer_connections_per_address;
    o.on_warning = [out = logger](const std::string& line) { out->warn("peer_port", line); };
    auto* raw = this;
    o.on_refused = [raw](const char* reason) {
        if (raw->stats) raw->stats->peer_connection_refused(reason);
    };
    auto front = peer_tls::start(std::move(o));
    if (!front) return make_error("node '" + net.node_name + "': " + front.message());
    peer_front = std::move(*front);
    // Three TLS handshakes per connection (forwarder, peer's front, CAF): a
    // busy node (a sanitizer build, two networks on two cores) took longer than
    // the connection timeout's 1.5 s in the tests, and every join timed out.
    net.connect_timeout = std::max(net.system.connection_timeout, std::chrono::milliseconds(5000));
    // Every connection to a peer goes through its forwarder, which checks the
    // peer's certificate names that node.
    auto local = [this](std::string& host, std::uint16_t& port) {
        if (auto forwarder = peer_front->forwarder_port(host, port)) {
            host = peer_front->loopback();
            port = forwarder;
        }
    };
    for (auto& [host, port] : net.peers)
        local(host, port);
    for (auto& [host, port] : net.leader_candidates)
        local(host, port);
    for (auto& w : net.witnesses)
        local(w.host, w.port);
    for (auto& g : net.gossip_peers)
        local(g.host, g.port);
    return {};
}

status service::impl::publish_gateway() {
    auto& m = *this;
    const auto& net = options.network;
    // The gateway: what peers see of this node.
    actors::gateway_config config;
    config.node_name = net.node_name;
    config.leading = net.leading;
    config.epoch = m.store ? storage::stored_epoch(*m.store) : 0;
    config.peers = m.peers; // only with the front: it authenticates every sender
    config.replicas = net.replica_names;
    config.log_nodes = net.log_node_names;
    config.log = m.logger;
    m.gateway = m.sys->spawn(actors::gateway, std::move(config), m.store,
                             std::shared_ptr<const actors::directory>(m.directory));
    m.gateway_id = m.gateway.id();
    if (m.peer_front) {
        // CAF listens on loopback only; the front owns the peer port.
        const auto& loopback = m.peer_front->loopback();
        auto published = caf::openssl::publish(m.gateway, 0, loopback.c_str(), true);
        if (!published)
            return make_error("node '" + net.node_name + "': cannot listen on " + loopback + ": " +
                              caf::to_string(published.error()));
        m.peer_front->relay_to(*published);
        m.published_port = m.peer_front->port();
    } else if (net.caf_port != 0) {
        auto published =
            net.insecure_dev
                ? caf::io::publish(m.gateway, net.caf_port, net.caf_host.c_str(), true)
                : caf::openssl::publish(m.gateway, net.caf_port, net.caf_host.c_str(), true);
        if (!published)
            return make_error("node '" + net.node_name + "': cannot listen on " + net.caf_host +
                              ":" + std::to_string(net.caf_port) + ": " +
                              caf::to_string(published.error()));
        m.published_port = *published;
    }
    return {};
}

status service::impl::start_http() {
    auto& m = *this;
    auto* counters = m.stats.get();
    auto* raw = this;
    auto http_options = m.options.http;
    if (m.options.witness.enabled) // a checkpoint note may hold 256 KiB of signatures
        http_options.max_body = std::max(http_options.max_body, witness::max_request_size);
    http_options.on_response = [counters](const std::string& target, unsigned status,
                                          std::chrono::microseconds elapsed) {
        counters->http_answered(target, status, elapsed);
    };
    http_options.on_connection_refused = [counters](const char* reason) {
        counters->http_connection_refused(reason);
    };
    http_options.on_warning = [out = logger](const std::string& line) { out->warn("http", line); };
    m.http = std::make_unique<http_server>(http_options,
                                           [raw](const http_request& req, http_respond respond) {
                                               raw->route(req, std::move(respond));
                                           });
    return m.http->start();
}

node_runtime service::impl::runtime() {
    node_runtime rt;
    rt.peers = peers;
    rt.unix_offset = actors::unix_offset_now();
    auto* counters = stats.get();
    rt.on_commit = [counters](const actors::batch_report& r) { counters->batch_committed(r); };
    rt.on_witness_answer = [counters](const std::string& w, std::chrono::microseconds latency,
                                      bool ok) { counters->witness_answered(w, latency, ok); };
    rt.on_cosign_round = [counters](std::optional<std::chrono::microseconds> ttq,
                                    const std::string&) { counters->cosign_round(ttq); };
    rt.on_read_only = [this](const std::string& reason) {
        set_read_only(read_only_store, options.network.leading ? "ledger" : "replica", reason);
    };
    rt.on_witness_read_only = [this](const std::string& reason) {
        set_read_only(read_only_witness, "witness", reason);
    };
    rt.on_commit_failed = [counters, out = logger](const char* reason) {
        counters->commit_failed(reason);
        out->error("store", "a commit failed", {{"reason", reason}});
    };
    rt.on_scrubbed = [counters](std::uint64_t entries) { counters->scrubbed(entries); };
    std::weak_ptr<storage::ledger_store> weak = store;
    auto out = logger;
    rt.logger = logger;
    rt.on_healed = [counters, out, weak](const storage::damaged_range& r,
                                         const std::string& source) {
        auto held = weak.lock();
        counters->range_healed(held ? held->damaged_ranges().size() : 0);
        out->info("scrubber", "store healed",
                  {{"range", r.name()},
                   {"from", source},
                   {"how", "rewritten from entries that make the verified tree"}});
    };
    rt.on_not_healed = [out](const storage::damaged_range& r, const std::string& why) {
        out->error("scrubber", "store damage not healed",
                   {{"range", r.name()},
                    {"why", why},
                    {"meanwhile", "answered 503; retried with backoff"}});
    };
    rt.on_evidence = [counters, out](const storage::evidence_record& r) {
        counters->split_view_found();
        out->error("gossip", "split view: a log shows two histories",
                   {{"origin", r.origin},
                    {"kind", r.kind},
                    {"shown_by", r.source},
                    {"evidence", "/api/evidence"}});
    };
    return rt;
}

status service::impl::start_actors(const opened_ledger* ledger) {
    auto tree = build_node_tree(options, ledger, runtime());
    if (!tree) return tree.err();
    directory = tree->directory;
    witness_store = tree->witness_store;
    gossip_store = tree->gossip_store;
    collecting = tree->collecting;
    stats->set_split_views(tree->evidence_held);
    evidence_at_start = tree->evidence_held;
    CIVIC_TRY(start_tree(std::move(tree->config)));
    return publish_gateway();
}

result<std::unique_ptr<service>> service::start(const service_options& options) {
    auto s = std::unique_ptr<service>(new service());
    s->impl_ = std::make_unique<impl>();
    auto& m = *s->impl_;
    m.options = options;
    auto& net = m.options.network; // `leading` may change below: promoted, or deposed
    m.logger = log::logger::make(net.node_name, options.log);
    if (!options.holds_ledger) {
        if (!options.witness.enabled) return make_error("a node needs a role");
        CIVIC_TRY(require_tls(net));
        CIVIC_TRY(m.start_peer_front());
        m.cfg = std::make_unique<actors::system_config>(net.system);
        m.sys = std::make_unique<caf::actor_system>(*m.cfg);
        m.stats = std::make_unique<metrics>();
        net.leading = false;
        CIVIC_TRY(m.start_actors(nullptr));
        CIVIC_TRY(m.start_http());
        m.log_start_summary();
        return s;
    }
    const fs::path dir = options.data_dir;
    auto opened = open_ledger(options.data_dir);
    if (!opened) return opened.err();
    m.store = opened->store;
    m.origin = opened->origin;

    CIVIC_TRY(require_tls(net));
    CIVIC_TRY(m.start_peer_front());
    m.cfg = std::make_unique<actors::system_config>(net.system);
    m.sys = std::make_unique<caf::actor_system>(*m.cfg);

    // The role: what the topology says, unless `promote` or a stepping down
    // changed it; a leader that finds a newer epoch among its peers steps down
    // before it signs anything.
    if (auto role = m.store->setting(storage::role_setting); role && *role)
        net.leading = **role == "leader";
    if (net.leading && !net.peers.empty()) {
        auto own = storage::stored_epoch(*m.store);
        auto newest = newest_peer_epoch(*m.sys, net);
        if (newest.epoch > own) {
            // Deposed while away. Its store may end in a batch no replica ever got,
            // with a checkpoint of a history the new leader does not share: it is
            // set aside (kept for inspection, never served) and the node starts
            // again as an empty replica of the new leader.
            auto aside = dir / ("ledger.deposed-epoch-" + std::to_string(own));
            m.store.reset();
            opened->store.reset();
            std::error_code ec;
            fs::remove_all(aside, ec);
            fs::rename(dir / "ledger", aside, ec);
            if (ec)
                return make_error((dir / "ledger").string() +
                                  ": cannot set aside: " + ec.message());
            fs::create_directories(dir / "ledger", ec);
            auto fresh = storage::ledger_store::open({(dir / "ledger").string()});
            if (!fresh) return make_error(options.data_dir + ": " + fresh.message());
            m.store = std::shared_ptr<storage::ledger_store>(std::move(*fresh));
            opened->store = m.store;
            CIVIC_TRY(m.store->put_setting(storage::origin_setting, m.origin));
            CIVIC_TRY(storage::store_epoch(*m.store, newest.epoch));
            CIVIC_TRY(m.store->put_setting(storage::role_setting, "replica"));
            net.leading = false;
            m.role_note = "stepped down: " + newest.name + " knows epoch " +
                          std::to_string(newest.epoch) + ", this node's is " + std::to_string(own) +
                          "; its ledger is set aside in " + aside.string() +
                          " and it follows the newest leader from scratch";
            m.logger->warn("node", "stepped down: deposed while away",
                           {{"peer", newest.name},
                            {"peer_epoch", newest.epoch},
                            {"epoch", own},
                            {"set_aside", aside.string()},
                            {"now", "an empty replica of the newest leader"}});
        }
    }
    CIVIC_TRY(load_log_keys(*opened, m.options));
    const auto& log_vkey = opened->log_vkey;
    if (net.leading) m.report_identity_keys(*opened);

    m.stats = std::make_unique<metrics>();
    m.stats->set_tree_size(m.store->stored_size());
    m.watch_damage();
    CIVIC_TRY(m.start_actors(&*opened));

    auto own_policy = parse_policy("log " + log_vkey + "\nquorum none\n");
    if (!own_policy) return own_policy.err();
    auto trust = policy_verifier::make(*own_policy, 1024);
    if (!trust) return trust.err();
    m.trust = std::make_unique<policy_verifier>(std::move(*trust));
    if (!net.policy_text.empty()) {
        auto rules = parse_policy(net.policy_text);
        if (!rules) return make_error("the network's policy: " + rules.message());
        auto network_verifier = policy_verifier::make(*rules, 1024);
        if (!network_verifier) return network_verifier.err();
        m.network_trust = std::make_unique<policy_verifier>(std::move(*network_verifier));
    }

    CIVIC_TRY(m.start_http());
    m.log_start_summary();
    return s;
}

void service::impl::log_start_summary() const {
    const auto& net = options.network;
    if (!store) {
        logger->info("node", "started",
                     {{"role", "witness"},
                      {"evidence_held", evidence_at_start},
                      {"http_port", http->port()},
                      {"peer_port", published_port}});
        return;
    }
    auto latest = store->latest_checkpoint();
    std::uint64_t checkpoint_size = 0;
    if (latest && *latest)
        if (auto cp = parse_signed_checkpoint(**latest)) checkpoint_size = cp->body.size;
    logger->info(
        "node", "started",
        {{"role", net.leading ? "leader" : "replica"},
         {"origin", origin},
         {"epoch", storage::stored_epoch(*store)},
         {"entries", store->stored_size()},
         {"checkpoint_size", checkpoint_size},
         {"damaged_ranges", store->damaged_ranges().size()},
         {"identity_key_problems", identity_keys_report.is_null()
                                       ? std::uint64_t{0}
                                       : identity_keys_report["problems"].get<std::uint64_t>()},
         {"witness", options.witness.enabled},
         {"evidence_held", evidence_at_start},
         {"http_port", http->port()},
         {"peer_port", published_port}});
    if (!role_note.empty()) logger->warn("node", role_note);
}

service::~service() { stop(); }

std::uint16_t service::http_port() const { return impl_->http->port(); }

std::uint16_t service::caf_port() const { return impl_->published_port; }

bool service::leading() const { return impl_->options.network.leading; }

std::string service::role_name() const {
    const auto& o = impl_->options;
    std::string name = o.holds_ledger ? (o.network.leading ? "leader" : "replica") : "";
    if (o.witness.enabled) name += name.empty() ? "witness" : "+witness";
    return name;
}

const http_options& service::http_limits() const { return impl_->http->options(); }

const std::string& service::role_note() const { return impl_->role_note; }

std::optional<std::string> service::failure() const {
    std::lock_guard lock(impl_->failure_mutex);
    return impl_->failure;
}

bool service::kill_actor(const std::string& name) {
    auto handle = impl_->directory->find(name);
    if (!handle) return false;
    caf::anon_send_exit(handle, caf::exit_reason::kill);
    return true;
}

void service::stop() {
    if (!impl_ || !impl_->sys) return;
    if (impl_->http) impl_->http->stop();
    // The root stops its children (in its exit handler) before itself.
    caf::anon_send_exit(impl_->supervision_root, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(impl_->gateway, caf::exit_reason::user_shutdown);
    for (auto& b : impl_->bridges)
        caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
    impl_->bridges.clear();
    // Drop our handles first: the system waits for its detached committer thread,
    // and that thread waits until no handle keeps the actor alive.
    impl_->supervision_root = nullptr;
    impl_->gateway = nullptr;
    impl_->directory->clear();
    impl_->sys.reset(); // waits for every actor
    impl_->cfg.reset();
    impl_->http.reset();
    impl_->peer_front.reset();
}

} // namespace civic::node
