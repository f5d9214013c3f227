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
#include "node/api/node_api.hpp"
#include "node/http/connection_book.hpp"
#include "node/peer/peer_tls.hpp"
#include "node/service/metrics.hpp"
#include "node/service/node_tree.hpp"
#include "node/service/operations.hpp"
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
    /// What the HTTP API reaches the node through, and the API itself (both
    /// before `http`: the server is stopped and gone first).
    std::unique_ptr<api::operations> operations;
    std::unique_ptr<api::node_api> api;
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
    node_parts api_parts() const;
    /// How this node's actors run in a process, reporting to its metrics.
    node_runtime runtime();
    /// Builds and starts the supervision tree (`ledger`: null on a node that is
    /// only a witness) and publishes the gateway.
    civic::status start_actors(const opened_ledger* ledger);

    /// One line of what the node found at start: its role, tree, epoch and
    /// what is wrong with its store or keys.
    void log_start_summary() const;
    /// Logs each range the store newly finds damaged, once, and counts it.
    void watch_damage();
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

/// What the API reaches: this node's parts.
node_parts service::impl::api_parts() const {
    node_parts parts;
    auto& facts = parts.facts;
    const auto& net = options.network;
    facts.node_name = net.node_name;
    facts.holds_ledger = store != nullptr;
    facts.leading = net.leading;
    facts.witness = options.witness.enabled;
    facts.collecting = collecting;
    facts.gated = options.ledger.replica_acks > 0;
    facts.has_policy = !net.policy_text.empty();
    // Within the HTTP server's deadline for the whole exchange.
    facts.witnessed_wait = std::min(options.actor_timeout,
                                    options.http.request_timeout - std::chrono::milliseconds(2000));
    facts.identity_keys = identity_keys_report;
    parts.data_dir = options.data_dir;
    parts.store = store;
    parts.directory = directory;
    parts.bridges = bridges;
    parts.trust = trust.get();
    parts.network_trust = network_trust.get();
    parts.stats = stats.get();
    parts.witness_store = witness_store;
    parts.gossip_store = gossip_store;
    parts.read_only_reason = [this] { return read_only_now(); };
    return parts;
}

status service::impl::start_http() {
    auto& m = *this;
    auto* counters = m.stats.get();
    m.operations = make_node_operations(api_parts());
    m.api = std::make_unique<api::node_api>(*m.operations);
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
    auto* routes = m.api.get();
    m.http = std::make_unique<http_server>(http_options,
                                           [routes](const http_request& req, http_respond respond) {
                                               routes->handle(req, std::move(respond));
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
    impl_->api.reset();
    impl_->operations.reset();
    impl_->peer_front.reset();
}

} // namespace civic::node