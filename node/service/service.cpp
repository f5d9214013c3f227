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
#include "node/leadership/leadership.hpp"
#include "node/peer/peer_tls.hpp"
#include "node/service/metrics.hpp"
#include "node/service/node_tree.hpp"
#include "node/service/operations.hpp"
#include "node/service/service_impl.hpp"
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

status service::impl::start_actors(const opened_ledger* ledger) {
    auto tree = build_node_tree(options, ledger, runtime());
    if (!tree) return tree.err();
    directory = tree->directory;
    witness_store = tree->witness_store;
    gossip_store = tree->gossip_store;
    witness_logs = tree->witness_logs;
    collecting = tree->collecting;
    stats->set_split_views(tree->evidence_held);
    evidence_at_start = tree->evidence_held;
    CIVIC_TRY(start_tree(std::move(tree->config)));
    return publish_gateway();
}

status service::impl::step_down_if_deposed(opened_ledger& opened) {
    auto& net = options.network;
    auto own = storage::stored_epoch(*store);
    auto newest = leadership::newest_peer_epoch(*sys, net);
    if (newest.epoch <= own) return {};
    // Deposed while away: no handle of the old store may stay open.
    store.reset();
    opened.store.reset();
    auto down = leadership::step_down(options.data_dir, origin, own, newest);
    if (!down) return down.err();
    store = down->store;
    opened.store = store;
    net.leading = false;
    role_note = "stepped down: " + newest.name + " knows epoch " + std::to_string(newest.epoch) +
                ", this node's is " + std::to_string(own) + "; its ledger is set aside in " +
                down->set_aside + " and it follows the newest leader from scratch";
    logger->warn("node", "stepped down: deposed while away",
                 {{"peer", newest.name},
                  {"peer_epoch", newest.epoch},
                  {"epoch", own},
                  {"set_aside", down->set_aside},
                  {"now", "an empty replica of the newest leader"}});
    return {};
}

status service::impl::load_trust(const std::string& log_vkey) {
    auto own_policy = parse_policy("log " + log_vkey + "\nquorum none\n");
    if (!own_policy) return own_policy.err();
    auto own = policy_verifier::make(*own_policy, 1024);
    if (!own) return own.err();
    trust = std::make_unique<policy_verifier>(std::move(*own));
    const auto& text = options.network.policy_text;
    if (text.empty()) return {};
    auto rules = parse_policy(text);
    if (!rules) return make_error("the network's policy: " + rules.message());
    auto network_verifier = policy_verifier::make(*rules, 1024);
    if (!network_verifier) return network_verifier.err();
    network_trust = std::make_unique<policy_verifier>(std::move(*network_verifier));
    return {};
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
    if (net.leading && !net.peers.empty()) CIVIC_TRY(m.step_down_if_deposed(*opened));
    CIVIC_TRY(load_log_keys(*opened, m.options));
    const auto& log_vkey = opened->log_vkey;
    if (net.leading) m.report_identity_keys(*opened);

    m.stats = std::make_unique<metrics>();
    m.stats->set_tree_size(m.store->stored_size());
    m.watch_damage();
    CIVIC_TRY(m.start_actors(&*opened));

    CIVIC_TRY(m.load_trust(log_vkey));
    CIVIC_TRY(m.start_http());
    m.log_start_summary();
    return s;
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

result<std::size_t> service::reload_witness_logs() {
    if (!impl_->witness_logs) return make_error("this node is not a witness");
    if (impl_->options.witness.logs_file.empty()) return make_error("this witness has no log list");
    auto logs = load_witness_logs(impl_->options, impl_->logger);
    if (!logs) {
        impl_->logger->error(
            "witness", "kept its log list: the new one cannot be read",
            {{"file", impl_->options.witness.logs_file}, {"error", logs.message()}});
        return logs.err();
    }
    auto count = (*logs)->size();
    impl_->witness_logs->set(*logs);
    if (auto handle = impl_->directory->find(actors::slots::witness.name))
        caf::anon_send(caf::actor_cast<actors::witness_actor>(handle), atoms::logs_atom_v, *logs);
    return count;
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