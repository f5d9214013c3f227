#include "node/service/node_tree.hpp"

#include "actors/collector.hpp"
#include "actors/committer.hpp"
#include "actors/gossip.hpp"
#include "actors/ledger.hpp"
#include "actors/replica.hpp"
#include "actors/scrubber.hpp"
#include "actors/signer.hpp"
#include "actors/uplink.hpp"
#include "actors/witness.hpp"
#include "node/system/files.hpp"
#include "protocol/log_list.hpp"
#include "protocol/policy.hpp"
#include "protocol/witness.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <filesystem>

namespace civic::node {

namespace fs = std::filesystem;

namespace {

/// How long connecting to a peer may take: the network's setting, else the
/// connection timeout, at least 1 s.
std::chrono::milliseconds connect_timeout_of(const network_options& net) {
    if (net.connect_timeout.count() > 0) return net.connect_timeout;
    return std::max(net.system.connection_timeout, std::chrono::milliseconds(1000));
}

/// The middleman a node's actors connect through: the TLS one, or the plain
/// one on a development machine and in simulation (its test network).
caf::io::middleman_actor middleman_of(caf::actor_system& sys, bool insecure) {
    return insecure ? sys.middleman().actor_handle() : sys.openssl_manager().actor_handle();
}

/// Spawns an actor that blocks (an LMDB writer): on its own thread in a
/// process, on the scheduler in simulation.
template <class F, class... Ts>
caf::actor spawn_blocking(caf::actor_system& sys, bool deterministic, F fun, Ts&&... xs) {
    if (deterministic) return caf::actor_cast<caf::actor>(sys.spawn(fun, std::forward<Ts>(xs)...));
    return caf::actor_cast<caf::actor>(sys.spawn<caf::detached>(fun, std::forward<Ts>(xs)...));
}

/// A witness store (witness state or split-view evidence) in `dir`, made if new.
result<std::shared_ptr<storage::witness_store>> open_store(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(dir.string() + ": cannot create: " + ec.message());
    auto opened = storage::witness_store::open(dir.string());
    if (!opened) return make_error(dir.string() + ": " + opened.message());
    return std::shared_ptr<storage::witness_store>(std::move(*opened));
}

/// The writer of a witness store: the one actor that blocks on it.
void add_writer(node_tree& t, actors::actor_slot<actors::witness_writer_actor> slot,
                std::shared_ptr<storage::witness_store> store, const node_runtime& runtime) {
    bool deterministic = runtime.deterministic;
    t.config.children.push_back({slot.name, [store, deterministic](caf::actor_system& system) {
                                     return spawn_blocking(system, deterministic,
                                                           actors::witness_writer, store);
                                 }});
}

status add_ledger_children(node_tree& t, const service_options& options,
                           const opened_ledger& ledger, const node_runtime& runtime) {
    const auto& net = options.network;
    auto directory = t.directory;
    auto shared_store = ledger.store;
    bool deterministic = runtime.deterministic;
    t.config.children.push_back(
        {actors::slots::committer.name, [shared_store, deterministic](caf::actor_system& sys) {
             return spawn_blocking(sys, deterministic, actors::committer, shared_store);
         }});
    if (net.leading) {
        auto ledger_config = options.ledger;
        ledger_config.origin = ledger.origin;
        ledger_config.epoch = storage::stored_epoch(*ledger.store);
        ledger_config.on_commit = runtime.on_commit;
        ledger_config.read_only.on_change = runtime.on_read_only;
        ledger_config.read_only.on_commit_failed = runtime.on_commit_failed;
        ledger_config.log = runtime.logger;
        ledger_config.unix_offset = runtime.unix_offset;
        if (!net.witnesses.empty())
            // Witnessed requests answered: the collector starts a round at once.
            ledger_config.on_witnessed_wanted = [directory](std::uint64_t size) {
                if (auto collector = directory->get(actors::slots::collector))
                    caf::anon_send(collector, atoms::poll_atom_v, size);
            };
        // Owners sign on their own machines: a clock off by minutes is common,
        // one off by more is a mistake (or a back-dated entry) to refuse.
        ledger_config.max_timestamp_skew = std::chrono::minutes(10);
        auto log = ledger.log;
        t.config.children.push_back(
            {actors::slots::ledger.name,
             [ledger_config, shared_store, log, directory](caf::actor_system& sys) {
                 auto committer = directory->get(actors::slots::committer);
                 return caf::actor_cast<caf::actor>(
                     sys.spawn(actors::ledger, ledger_config, shared_store, log, committer));
             }});
        auto timeout = options.actor_timeout;
        auto dir = fs::path(options.data_dir);
        auto unix_offset = runtime.unix_offset;
        t.config.children.push_back(
            {actors::slots::signer.name,
             [dir, shared_store, timeout, directory, unix_offset](caf::actor_system& sys) {
                 // Reloaded from disk at every start: keys are durable before use.
                 auto keys = load_identity_keys(dir, *shared_store);
                 auto ledger_handle = directory->get(actors::slots::ledger);
                 return caf::actor_cast<caf::actor>(
                     sys.spawn(actors::signer, keys ? std::move(keys->keys) : actors::key_ring{},
                               actors::signer_config{unix_offset, timeout}, ledger_handle));
             }});
        if (!net.witnesses.empty() || !net.outside_witnesses.empty()) {
            // The policy's witnesses, asked for cosignatures of every checkpoint.
            auto rules = parse_policy(net.policy_text);
            if (!rules) return make_error("the network's policy: " + rules.message());
            if (rules->logs.empty() || note::format_vkey(rules->logs[0].key) != ledger.log_vkey)
                return make_error("the network's policy does not name this log's key first ("
                                  "run 'civic-attest keys' again?)");
            actors::collector_config cc;
            cc.rules = std::make_shared<const policy>(std::move(*rules));
            cc.endpoints = net.witnesses;
            cc.outside = net.outside_witnesses;
            cc.spawn_outside = runtime.spawn_outside_witness;
            cc.interval = net.cosign_interval;
            cc.witness_timeout = net.witness_timeout;
            cc.timing = {connect_timeout_of(net), net.reconnect_initial, net.reconnect_max};
            cc.seed = net.seed;
            cc.on_answer = runtime.on_witness_answer;
            cc.on_round = runtime.on_cosign_round;
            cc.on_witness_view = runtime.on_witness_view;
            cc.on_witnessed = runtime.on_witnessed;
            cc.log = runtime.logger;
            auto insecure = net.insecure_dev;
            t.config.children.push_back(
                {actors::slots::collector.name,
                 [cc, shared_store, directory, insecure](caf::actor_system& sys) {
                     auto ledger_handle = directory->get(actors::slots::ledger);
                     return caf::actor_cast<caf::actor>(
                         sys.spawn(actors::collector, cc, shared_store, middleman_of(sys, insecure),
                                   ledger_handle));
                 }});
            t.collecting = true;
        }
        return {};
    }
    actors::replica_config replica_config;
    replica_config.origin = ledger.origin;
    replica_config.on_durable = runtime.on_replica_durable;
    replica_config.read_only = options.ledger.read_only; // the same backoff as a leader's
    replica_config.read_only.on_change = runtime.on_read_only;
    replica_config.read_only.on_commit_failed = runtime.on_commit_failed;
    replica_config.peers = runtime.peers;
    replica_config.leaders = options.network.log_node_names;
    replica_config.log = runtime.logger;
    auto vkey = note::parse_vkey(ledger.log_vkey);
    if (!vkey) return make_error("the log's verifier key: " + vkey.message());
    t.config.children.push_back(
        {actors::slots::replica.name,
         [replica_config, shared_store, vkey = *vkey, directory](caf::actor_system& sys) {
             auto committer = directory->get(actors::slots::committer);
             return caf::actor_cast<caf::actor>(
                 sys.spawn(actors::replica, replica_config, shared_store, vkey, committer));
         }});
    actors::uplink_config up;
    up.candidates = net.leader_candidates;
    up.epoch = storage::stored_epoch(*ledger.store);
    up.connect_timeout = connect_timeout_of(net);
    up.backoff_initial = net.reconnect_initial;
    up.backoff_max = net.reconnect_max;
    up.seed = net.seed;
    up.log = runtime.logger;
    auto insecure = net.insecure_dev;
    t.config.children.push_back(
        {actors::slots::uplink.name, [up, directory, insecure](caf::actor_system& sys) {
             auto replica = directory->get(actors::slots::replica);
             return caf::actor_cast<caf::actor>(
                 sys.spawn(actors::uplink, up, middleman_of(sys, insecure), replica));
         }});
    return {};
}

/// The scrubber, last of the ledger's children: it depends on none of them.
void add_scrubber(node_tree& t, const service_options& options, const opened_ledger& ledger,
                  const node_runtime& runtime) {
    const auto& net = options.network;
    auto config = options.scrub;
    config.on_scrubbed = runtime.on_scrubbed;
    config.on_healed = runtime.on_healed;
    config.on_not_healed = runtime.on_not_healed;
    // A replica heals damaged entries from its leader, as fast as it reconnects.
    config.can_fetch = !net.leading;
    config.actors = t.directory;
    config.fetch_timeout = connect_timeout_of(net);
    config.heal_backoff_initial = net.reconnect_initial;
    config.heal_backoff_max = net.reconnect_max;
    config.seed = net.seed;
    auto store = ledger.store;
    bool deterministic = runtime.deterministic;
    t.config.children.push_back(
        {actors::slots::scrubber.name, [config, store, deterministic](caf::actor_system& sys) {
             return spawn_blocking(sys, deterministic, actors::scrubber, config, store);
         }});
}

status add_witness_children(node_tree& t, const service_options& options,
                            const node_runtime& runtime) {
    const auto& w = options.witness;
    auto key = read_signer_key_file(w.key_file);
    if (!key) return make_error("witness_key " + key.message());
    if (key->type != note::type_cosignature_v1)
        return make_error("witness_key " + w.key_file +
                          ": not a witness cosigning key (cosignature/v1, type 0x04)");
    auto logs = load_witness_logs(options, runtime.logger);
    if (!logs) return logs.err();
    t.witness_logs = std::make_shared<witness_logs_holder>(std::move(*logs));
    auto dir = fs::path(options.data_dir) / "witness";
    auto opened = open_store(dir);
    if (!opened) return opened.err();
    t.witness_store = std::move(*opened);
    if (auto states = t.witness_store->states(); !states)
        return make_error(dir.string() + ": " + states.message());

    actors::witness_config config;
    config.key = std::make_shared<const note::cosigner>(key->name, std::move(key->key));
    config.unix_offset = runtime.unix_offset;
    config.after_persist = w.after_persist;
    config.on_cosigned = runtime.on_cosigned;
    config.read_only.on_change = runtime.on_witness_read_only;
    config.read_only.on_commit_failed = runtime.on_commit_failed;
    config.test_skip_consistency_check = w.test_skip_consistency_check;
    config.log = runtime.logger;
    auto wstore = t.witness_store;
    auto dirs = t.directory;
    auto in_force = t.witness_logs;
    add_writer(t, actors::slots::witness_writer, wstore, runtime);
    t.config.children.push_back(
        {actors::slots::witness.name, [config, wstore, dirs, in_force](caf::actor_system& system) {
             // Re-read at every start: what is durable is all it may trust.
             auto states = wstore->states();
             if (!states) return actors::failed_start(system, states.message());
             auto writer = dirs->get(actors::slots::witness_writer);
             auto started = config;
             started.logs = in_force->get(); // a reloaded list outlives a restart
             return caf::actor_cast<caf::actor>(system.spawn(
                 actors::witness, started, std::move(*states), wstore->evidence_count(), writer));
         }});
    return {};
}

status add_gossip_children(node_tree& t, const service_options& options,
                           const opened_ledger* ledger, const node_runtime& runtime) {
    const auto& net = options.network;
    if (net.peers.empty() || net.log_vkey.empty()) return {}; // alone: nobody to gossip with
    auto vkey = note::parse_vkey(net.log_vkey);
    if (!vkey) return make_error("the log's verifier key: " + vkey.message());
    auto log_key = note::make_verifier(*vkey);
    if (!log_key) return log_key.err();
    auto dir = fs::path(options.data_dir) / "gossip";
    auto opened = open_store(dir);
    if (!opened) return opened.err();
    t.gossip_store = std::move(*opened);

    actors::gossip_config gc;
    gc.node_name = net.node_name;
    gc.peers = net.gossip_peers;
    gc.period = net.gossip_period;
    gc.fanout = net.gossip_fanout;
    gc.exchange_timeout = std::max(net.system.connection_timeout, std::chrono::milliseconds(1000));
    gc.timing = {std::max(gc.exchange_timeout, connect_timeout_of(net)), net.reconnect_initial,
                 net.reconnect_max};
    gc.seed = net.seed;
    gc.log_key = std::shared_ptr<const note::verifier>(std::move(*log_key));
    if (!net.policy_text.empty())
        if (auto rules = parse_policy(net.policy_text))
            for (const auto& w : rules->witnesses)
                if (auto v = note::make_verifier(w.key))
                    gc.witness_keys.push_back(std::shared_ptr<const note::verifier>(std::move(*v)));
    if (ledger) {
        auto store = ledger->store;
        gc.own_checkpoint = [store]() -> std::optional<std::string> {
            auto latest = store->latest_checkpoint();
            if (!latest || !*latest) return std::nullopt;
            return **latest;
        };
        gc.check_against_tree = [store](const std::string& text) {
            return storage::contradiction(*store, text);
        };
    } else if (t.witness_store) {
        auto cosigned = t.witness_store;
        auto log_origin = gc.log_key->name();
        gc.own_checkpoint = [cosigned, log_origin]() -> std::optional<std::string> {
            auto states = cosigned->states();
            if (!states) return std::nullopt;
            auto it = states->find(log_origin);
            if (it == states->end() || it->second.checkpoint.empty()) return std::nullopt;
            return it->second.checkpoint;
        };
    }
    gc.on_evidence = runtime.on_evidence;
    gc.log = runtime.logger;
    gc.unix_offset = runtime.unix_offset;
    if (options.test_equivocate && net.leading && ledger) {
        gc.equivocate_with = ledger->log;
        gc.equivocate_from = runtime.equivocate_from;
    }
    auto held = t.gossip_store->evidence(0, storage::max_evidence_records);
    if (!held) return make_error(dir.string() + ": " + held.message());
    t.evidence_held = held->size();
    auto wstore = t.gossip_store;
    auto dirs = t.directory;
    auto insecure = net.insecure_dev;
    add_writer(t, actors::slots::gossip_writer, wstore, runtime);
    t.config.children.push_back(
        {actors::slots::gossip.name, [gc, wstore, dirs, insecure](caf::actor_system& system) {
             auto evidence = wstore->evidence(0, storage::max_evidence_records);
             if (!evidence) return actors::failed_start(system, evidence.message());
             auto writer = dirs->get(actors::slots::gossip_writer);
             return caf::actor_cast<caf::actor>(
                 system.spawn(actors::gossip, gc, middleman_of(system, insecure),
                              std::shared_ptr<const actors::directory>(dirs), wstore, writer,
                              std::move(*evidence)));
         }});
    return {};
}

} // namespace

std::string identity_key_file_name(const std::string& identity, const ed25519::public_key& key) {
    // Identity names may contain '/': the file is named by the name's hash, and
    // by the key, so a rotation's new key never overwrites the key in force.
    return hex_encode(sha256(byte_view(identity))).substr(0, 32) + "-" +
           hex_encode(key).substr(0, 16) + ".key";
}

/// The signer's keys: each identity's current key from keys/. A rotation
/// interrupted by a crash may leave the old and the new key file; the registry
/// decides which one is current. A file that cannot be read, and a registered
/// identity whose current key has no file, disable that identity only: the
/// node starts and says which (the rest of the log must stay available).
result<identity_keys> load_identity_keys(const fs::path& dir, const storage::ledger_store& store) {
    identity_keys out;
    std::error_code ec;
    // Sorted: the key ring must not depend on the order the file system lists.
    std::vector<fs::path> files;
    for (const auto& file : fs::directory_iterator(dir / "keys", ec))
        if (file.path().extension() == ".key") files.push_back(file.path());
    if (ec) return make_error((dir / "keys").string() + ": " + ec.message());
    std::sort(files.begin(), files.end());
    std::map<std::string, std::string> unreadable; // file name -> why
    for (const auto& file : files) {
        auto k = read_signer_key_file(file.string());
        if (!k) {
            unreadable[file.filename().string()] = k.message();
            continue;
        }
        auto rec = store.identity(k->name);
        if (!rec) return make_error(dir.string() + ": " + rec.message());
        auto current = *rec ? (*rec)->current() : nullptr;
        if (current && current->key == k->key.public_key_bytes())
            out.keys[k->name] = std::make_shared<const ed25519::secret_key>(std::move(k->key));
    }
    auto report = [&out](identity_key_problem problem) {
        if (out.problems.size() < identity_keys::max_problems)
            out.problems.push_back(std::move(problem));
        ++out.problem_count;
    };
    // Every identity in force must have its key.
    constexpr std::size_t page = 1000;
    std::string after;
    while (true) {
        auto names = store.identity_names(after, page);
        if (!names) return make_error(dir.string() + ": " + names.message());
        for (const auto& name : *names) {
            if (out.keys.count(name)) continue;
            auto rec = store.identity(name);
            if (!rec) return make_error(dir.string() + ": " + rec.message());
            auto current = *rec ? (*rec)->current() : nullptr;
            if (!current || (*rec)->owner_held) continue; // retired, or no node's to hold
            auto file = identity_key_file_name(name, current->key);
            auto bad = unreadable.find(file);
            report({name, "keys/" + file,
                    bad != unreadable.end() ? "its key file is unreadable: " + bad->second
                                            : "its key file is missing"});
            if (bad != unreadable.end()) unreadable.erase(bad);
        }
        if (names->size() < page) break;
        after = names->back();
    }
    // Unreadable files that hold no identity's current key disable nothing.
    for (const auto& [file, why] : unreadable)
        report({"", "keys/" + file, "unreadable, and not the current key of any identity: " + why});
    return out;
}

result<opened_ledger> open_ledger(const std::string& data_dir) {
    const fs::path dir = data_dir;
    const auto ledger_dir = (dir / "ledger").string();
    std::error_code ec;
    if (!fs::exists(storage::data_file(ledger_dir), ec))
        return make_error(data_dir + ": no store in " + ledger_dir +
                          " (run 'civic-attest init' first?)");
    // Every page read once, in a child, before anything is served from them.
    if (auto ok = storage::check_environment({ledger_dir}); !ok)
        return make_error(data_dir + ": refusing to start: " + ok.message());
    auto store = storage::ledger_store::open({ledger_dir});
    if (!store) return make_error(data_dir + ": refusing to start: " + store.message());
    opened_ledger opened;
    opened.store = std::shared_ptr<storage::ledger_store>(std::move(*store));
    auto origin = opened.store->setting(storage::origin_setting);
    if (!origin || !*origin)
        return make_error(data_dir + ": no origin set (run 'civic-attest init' first)");
    opened.origin = **origin;
    // A store from before the per-identity index gets it now. One that cannot
    // be indexed (damaged entries) still starts, for the scrubber to heal;
    // its per-identity pages answer 503 until a start indexes it whole.
    (void)opened.store->index_identity_entries();
    return opened;
}

status load_log_keys(opened_ledger& ledger, const service_options& options) {
    const auto& net = options.network;
    const fs::path dir = options.data_dir;
    // Whoever leads signs with the log key; a replica only checks its signatures.
    std::string log_vkey = net.log_vkey;
    if (net.leading || log_vkey.empty()) {
        auto log_key = read_signer_key_file((dir / "log.key").string());
        if (!log_key) return log_key.err();
        if (log_key->type != note::type_ed25519 || log_key->name != ledger.origin)
            return make_error((dir / "log.key").string() + ": not an Ed25519 key named '" +
                              ledger.origin + "'");
        auto signer =
            std::make_shared<const note::ed25519_signer>(ledger.origin, std::move(log_key->key));
        log_vkey = note::format_vkey(signer->verifier_key());
        if (net.leading) ledger.log = std::move(signer);
    }
    auto parsed_vkey = note::parse_vkey(log_vkey);
    if (!parsed_vkey) return make_error("the log's verifier key: " + parsed_vkey.message());
    if (parsed_vkey->name != ledger.origin)
        return make_error(options.data_dir + ": the store's origin '" + ledger.origin +
                          "' is not the log key's name '" + parsed_vkey->name + "'");
    ledger.log_vkey = log_vkey;
    if (net.leading) {
        auto keys = load_identity_keys(dir, *ledger.store);
        if (!keys) return keys.err();
        ledger.identity_keys_loaded = keys->keys.size();
        ledger.identity_key_problems = std::move(keys->problems);
        ledger.identity_key_problem_count = keys->problem_count;
    }
    // Refuse to start on a store that is not the tree our last checkpoint signed.
    auto tree = ledger.store->load_tree();
    if (!tree) return make_error(options.data_dir + ": " + tree.message());
    auto verifier = note::make_verifier(*parsed_vkey);
    if (!verifier) return verifier.err();
    if (auto ok = storage::verify_recovered_tree(*ledger.store, *tree, **verifier); !ok)
        return make_error(options.data_dir + ": refusing to start: " + ok.message());
    // What is served from now on is checked against this tree (and its successors).
    ledger.store->trust(*tree);
    return {};
}

result<actors::trusted_logs_ptr> load_witness_logs(const service_options& options,
                                                   const log::logger_ptr& log) {
    auto logs = std::make_shared<witness::trusted_logs>();
    if (!options.network.log_vkey.empty())
        if (auto ok = logs->add(options.network.log_vkey); !ok)
            return make_error("the log's verifier key: " + ok.message());
    const auto& file = options.witness.logs_file;
    if (!file.empty()) {
        auto text = read_file(file);
        if (!text) return text.err();
        auto list = witness::parse_log_list(*text);
        if (!list) return make_error(file + ": " + list.message());
        for (const auto& problem : list->problems)
            log->warn("witness", "skipped an item of the log list",
                      {{"file", file}, {"line", problem.line}, {"problem", problem.message}});
        for (const auto& listed : list->logs)
            if (auto ok = logs->add(listed.key, listed.origin, listed.qpd); !ok)
                log->warn("witness", "skipped an item of the log list",
                          {{"file", file}, {"line", listed.line}, {"problem", ok.message()}});
        log->info(
            "witness", "read its log list",
            {{"file", file}, {"logs", list->logs.size()}, {"skipped", list->problems.size()}});
    }
    if (logs->size() == 0)
        return make_error("a witness needs a log to witness: the network's verifier key (log_vkey) "
                          "or a log list (logs)");
    return actors::trusted_logs_ptr(std::move(logs));
}

result<node_tree> build_node_tree(const service_options& options, const opened_ledger* ledger,
                                  const node_runtime& runtime) {
    node_tree t;
    t.config.strategy = actors::restart_strategy::rest_for_one;
    t.config.log = runtime.logger;
    auto directory = t.directory;
    t.config.on_start = [directory](const std::string& name, const caf::actor& handle) {
        directory->set(name, handle);
    };
    if (ledger) {
        CIVIC_TRY(add_ledger_children(t, options, *ledger, runtime));
        add_scrubber(t, options, *ledger, runtime);
    }
    if (options.witness.enabled) CIVIC_TRY(add_witness_children(t, options, runtime));
    CIVIC_TRY(add_gossip_children(t, options, ledger, runtime));
    if (t.config.children.empty()) return make_error("a node needs a role");
    return t;
}

} // namespace civic::node
