#include "node/sim/simulation.hpp"

#include "actors/bridge.hpp"
#include "actors/errors.hpp"
#include "actors/gateway.hpp"
#include "actors/signer.hpp"
#include "actors/supervisor.hpp"
#include "actors/system.hpp"
#include "node/config/from_topology.hpp"
#include "node/service/node_tree.hpp"
#include "node/system/files.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/ed25519.hpp"
#include "protocol/note.hpp"
#include "protocol/policy.hpp"
#include "protocol/sha256.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/network/test_multiplexer.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <unistd.h>

namespace civic::node {

namespace fs = std::filesystem;
using time_point = caf::actor_clock::time_point;
using caf::io::accept_handle;
using caf::io::connection_handle;
using caf::io::network::test_multiplexer;

result<sim_plant> parse_plant(const std::string& name) {
    static const std::map<std::string, sim_plant> names = {
        {"none", sim_plant::none},
        {"careless-witness", sim_plant::careless_witness},
        {"quorum-lie", sim_plant::quorum_lie},
        {"lost-ack", sim_plant::lost_ack},
        {"stale-replica", sim_plant::stale_replica},
        {"silent-gossip", sim_plant::silent_gossip}};
    auto it = names.find(name);
    if (it == names.end())
        return make_error("unknown planted bug '" + name +
                          "' (careless-witness, quorum-lie, lost-ack, stale-replica, "
                          "silent-gossip)");
    return it->second;
}

namespace {

/// Unix time at the simulation's virtual zero (2026-01-01T00:00:00Z): fixed, so
/// that timestamps, and so the report, do not depend on when it runs.
constexpr std::chrono::milliseconds sim_epoch_unix{1767225600000};

/// The one source of randomness: xoshiro-like quality is not needed, only
/// determinism and speed; std::mt19937_64 is specified exactly by the standard.
class sim_random {
public:
    explicit sim_random(std::uint64_t seed) : gen_(seed) {}
    std::uint64_t next() { return gen_(); }
    /// Uniform in [0, n).
    std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(gen_() % n); }
    /// Uniform in [0, 1).
    double unit() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
    /// Normal (Box-Muller; the standard's distributions are not specified exactly).
    double normal(double mean, double deviation) {
        double u1 = std::max(unit(), 1e-300), u2 = unit();
        return mean + deviation * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    /// Exponential with the given mean.
    double exponential(double mean) { return -mean * std::log(std::max(1.0 - unit(), 1e-300)); }

private:
    std::mt19937_64 gen_;
};

std::uint64_t mix(std::uint64_t seed, const std::string& name) {
    auto h = sha256(byte_view(std::to_string(seed) + "/" + name));
    std::uint64_t x = 0;
    for (int i = 0; i < 8; ++i)
        x = (x << 8) | h[static_cast<std::size_t>(i)];
    return x;
}

ed25519::secret_key derived_key(std::uint64_t seed, const std::string& name) {
    auto h = sha256(byte_view("civic-attest simulation key/" + std::to_string(seed) + "/" + name));
    auto key = ed25519::secret_key::from_seed(byte_view(h.data(), h.size()));
    return std::move(*key);
}

} // namespace

sim_percentiles percentiles_of(std::vector<double> xs) {
    sim_percentiles p;
    p.samples = xs.size();
    if (xs.empty()) return p;
    std::sort(xs.begin(), xs.end());
    auto at = [&](double q) {
        auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(xs.size()))) - 1;
        return xs[std::min(i, xs.size() - 1)];
    };
    p.p50 = at(0.50);
    p.p95 = at(0.95);
    p.p99 = at(0.99);
    p.max = xs.back();
    return p;
}

namespace {

status write_file(const fs::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) return make_error(path.string() + ": cannot write");
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace);
    return {};
}

double ms(sim_duration d) { return static_cast<double>(d.count()) / 1000.0; }

struct sim_node;

/// One end of a simulated TCP connection.
struct link_end {
    int node = -1;
    int generation = 0; // the node's incarnation: a restarted node has new connections
    connection_handle hdl;
};

/// A TCP connection between two nodes: bytes in order, each way.
struct sim_link {
    link_end ends[2]; // [0] connected, [1] accepted
    bool open[2] = {true, false};
    time_point last_arrival[2];
    std::vector<std::vector<char>> unsent; // written by the connecting side before the accept
};

/// A node: its actor system (test coordinator, test multiplexer) and its tree.
struct sim_node {
    const node_spec* spec = nullptr;
    int index = 0;
    service_options options;
    bool up = false;
    int generation = 0;
    std::unique_ptr<actors::system_config> cfg;
    std::unique_ptr<caf::actor_system> sys;
    caf::scheduler::test_coordinator* sched = nullptr;
    test_multiplexer* mpx = nullptr;
    caf::resumable* middleman_job = nullptr;
    std::optional<opened_ledger> ledger;
    node_tree tree;
    actors::supervisor_actor root;
    actors::gateway_actor gateway;
    actors::bridge_actor bridge;
    accept_handle acceptor;
    /// The connection handle provided for the next connect to each peer (by
    /// the peer's index).
    std::map<int, connection_handle> provided;
    /// Live connection ends of this incarnation: handle id -> link id.
    std::map<std::int64_t, std::size_t> ends;
    std::size_t lag_cursor = 0; // replicas: leader batches already counted
    bool silenced = false;      // witnesses: the witness actor hangs
    /// The node's blocking writers (committer, witness-writer, gossip-writer):
    /// each message they take waits for the disk first.
    std::set<caf::resumable*> writers;
    std::map<caf::resumable*, time_point> disk_ready; // a writer's next message may run
    caf::resumable* silenced_job = nullptr;

    bool holds_ledger() const { return options.holds_ledger; }
    bool is_witness() const { return options.witness.enabled; }
};

struct submission {
    std::uint64_t index = 0;
    hash entry_hash{};
};

class simulation {
public:
    explicit simulation(const simulation_options& options) : opt_(options), rng_(options.seed) {}

    ~simulation() {
        for (auto& n : nodes_)
            if (n->up) tear_down(*n);
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }

    result<simulation_report> run();

private:
    // -- setup ---------------------------------------------------------------
    status prepare_files();
    status boot(sim_node& n);
    void tear_down(sim_node& n);
    node_runtime runtime_for(sim_node& n);

    // -- the event loop --------------------------------------------------------
    void at(time_point t, std::function<void()> f) {
        events_.emplace(std::make_pair(t, seq_++), std::move(f));
    }
    bool step(sim_node& n);
    bool is_stalled(sim_node& n, caf::resumable* job);
    void run_until_quiet();
    std::optional<time_point> next_timer() const;
    void advance_to(time_point t);

    // -- the network -----------------------------------------------------------
    void collect_output(sim_node& n);
    void detect_connects(sim_node& n);
    void deliver(std::size_t link, int side, std::vector<char> bytes);
    void close_end(const link_end& end, time_point when);
    sim_duration one_way(const sim_node& from, const sim_node& to);
    bool reachable(const sim_node& a, const sim_node& b) const;
    std::optional<time_point> heal_time(const sim_node& a, const sim_node& b) const;

    // -- workload, faults, invariants -----------------------------------------
    void schedule_faults();
    void schedule_submission(time_point t);
    void submit(sim_node& n);
    void crash(sim_node& n);
    void equivocate();
    void register_identity(actors::new_identity_key request, int attempt);
    void check_invariants(bool final);
    void check_cosignatures();
    void violation(const std::string& what);
    sim_node* leader();

    const simulation_options& opt_;
    sim_random rng_;
    topology topo_; // paths rewritten into the work directory
    fs::path dir_;
    std::vector<std::unique_ptr<sim_node>> nodes_;
    std::map<std::pair<std::string, std::uint16_t>, int> by_address_;
    std::vector<sim_link> links_;
    std::multimap<std::pair<time_point, std::uint64_t>, std::function<void()>> events_;
    std::uint64_t seq_ = 0;
    time_point now_{};
    time_point end_{};
    std::int64_t next_handle_ = 1;
    std::string identity_ = "sim/civic-body";
    std::string admin_token_;
    std::string log_vkey_, policy_text_;
    std::unique_ptr<policy_verifier> policy_;
    bool registered_ = false;
    bool equivocating_ = false;
    std::uint64_t content_counter_ = 0;

    // What happened.
    std::map<std::uint64_t, hash> acked_; // index -> the acknowledged entry's hash
    std::uint64_t acked_checked_ = 0;     // acknowledged entries checked so far
    std::vector<std::pair<std::uint64_t, time_point>> leader_batches_; // size, commit time
    std::vector<double> ttq_ms_, lag_ms_, witnessed_ms_;
    std::map<std::uint64_t, time_point> unwitnessed_; // acknowledged index -> when
    std::uint64_t cosignature_lines_ = 0;
    struct cosigned {
        std::uint64_t size;
        hash root;
    };
    std::map<std::string, std::vector<cosigned>> cosigned_; // by witness
    std::map<std::string, std::size_t> cosigned_checked_;
    std::set<std::string> violation_keys_;
    simulation_report report_;
};

// ---------------------------------------------------------------- setup ----

status simulation::prepare_files() {
    std::error_code ec;
    fs::path base = fs::exists("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    for (int i = 0;; ++i) {
        auto candidate = base / ("civic-sim-" + std::to_string(::getpid()) + "-" +
                                 std::to_string(opt_.seed) + "-" + std::to_string(i));
        if (fs::create_directory(candidate, ec)) {
            dir_ = candidate;
            break;
        }
        if (i > 1000) return make_error("cannot make a work directory under " + base.string());
    }
    topo_ = opt_.topo;
    topo_.log_vkey = (dir_ / "log.vkey").string();
    topo_.policy_file = (dir_ / "policy.txt").string();
    auto log_key = derived_key(opt_.seed, "log");
    auto log_key_file = (dir_ / "log.key").string();
    auto secret = note::format_signer_key(topo_.origin, note::type_ed25519, log_key);
    CIVIC_TRY(write_file(log_key_file, secret));
    note::ed25519_signer log_signer(topo_.origin, std::move(log_key));
    log_vkey_ = note::format_vkey(log_signer.verifier_key());
    CIVIC_TRY(write_file(topo_.log_vkey, log_vkey_ + "\n"));
    for (auto& n : topo_.nodes) {
        auto home = dir_ / n.name;
        fs::create_directories(home, ec);
        n.data = (home / "data").string();
        n.log_key = log_key_file;
        if (n.has(node_role::witness)) {
            n.witness_key = (home / "witness.key").string();
            auto key = derived_key(opt_.seed, "witness/" + n.name);
            CIVIC_TRY(write_file(n.witness_key,
                                 note::format_signer_key(n.name, note::type_cosignature_v1, key)));
        }
    }
    if (!topo_.policy.empty()) {
        auto text = expanded_policy(topo_, log_vkey_);
        if (!text) return make_error(topo_.file + ": policy: " + text.message());
        policy_text_ = *text;
        CIVIC_TRY(write_file(topo_.policy_file, policy_text_));
        auto rules = parse_policy(policy_text_);
        if (!rules) return rules.err();
        switch (rules->quorum) {
        case policy::quorum_kind::none:
            report_.quorum = "none";
            break;
        case policy::quorum_kind::witness:
            report_.quorum = rules->witnesses[rules->quorum_index].name;
            break;
        case policy::quorum_kind::group: {
            const auto& g = rules->groups[rules->quorum_index];
            report_.quorum = g.name + " (" + std::to_string(g.threshold) + " of " +
                             std::to_string(g.members.size()) + ")";
        }
        }
        auto verifier = policy_verifier::make(*rules, 0);
        if (!verifier) return verifier.err();
        policy_ = std::make_unique<policy_verifier>(std::move(*verifier));
    }
    for (const auto& spec : topo_.nodes) {
        auto n = std::make_unique<sim_node>();
        n->spec = &spec;
        n->index = static_cast<int>(nodes_.size());
        auto options = node_options(topo_, spec, true);
        if (!options)
            return make_error(topo_.file + ": nodes[" + spec.name + "]: " + options.message());
        n->options = std::move(*options);
        n->options.network.seed = mix(opt_.seed, spec.name);
        n->options.network.system.deterministic = true;
        if (opt_.plant == sim_plant::careless_witness && spec.has(node_role::witness) &&
            !std::any_of(nodes_.begin(), nodes_.end(),
                         [](const auto& m) { return m->is_witness(); }))
            n->options.witness.test_skip_consistency_check = true;
        if (opt_.plant == sim_plant::stale_replica && spec.has(node_role::replica) &&
            !std::any_of(nodes_.begin(), nodes_.end(), [](const auto& m) {
                return m->holds_ledger() && !m->options.network.leading;
            }))
            n->options.network.leader_candidates.clear();
        if (opt_.plant == sim_plant::silent_gossip)
            n->options.network.gossip_period = std::chrono::hours(1000);
        if (opt_.faults.equivocate_at && n->options.network.leading)
            n->options.test_equivocate = true;
        by_address_[{spec.host, spec.caf_port}] = n->index;
        nodes_.push_back(std::move(n));
    }
    // The leader's first admin token: the workload's, also through replicas.
    admin_token_ = "simulation-token/" + std::to_string(opt_.seed);
    for (auto& n : nodes_) {
        if (!n->options.network.leading) continue;
        auto opened = open_ledger(n->options.data_dir);
        if (!opened) return make_error("nodes[" + n->spec->name + "]: " + opened.message());
        CIVIC_TRY(opened->store->put_token(sha256(byte_view(admin_token_)),
                                           storage::token_record{"simulation", true, {}}));
    }
    return {};
}

node_runtime simulation::runtime_for(sim_node& n) {
    node_runtime rt;
    rt.deterministic = true;
    rt.unix_offset = sim_epoch_unix;
    if (auto it = opt_.faults.clock_skew.find(n.spec->name); it != opt_.faults.clock_skew.end())
        rt.unix_offset += std::chrono::duration_cast<std::chrono::milliseconds>(it->second);
    auto* self = this;
    auto* node = &n;
    auto generation = n.generation;
    auto alive = [node, generation] { return node->up && node->generation == generation; };
    rt.on_commit = [self, alive](const actors::batch_report& r) {
        if (alive()) self->leader_batches_.emplace_back(r.tree_size, self->now_);
    };
    rt.on_replica_durable = [self, node, alive](std::uint64_t size) {
        if (!alive()) return;
        auto& batches = self->leader_batches_;
        while (node->lag_cursor < batches.size() && batches[node->lag_cursor].first <= size) {
            auto lag = self->now_ - batches[node->lag_cursor].second;
            self->lag_ms_.push_back(ms(std::chrono::duration_cast<sim_duration>(lag)));
            ++node->lag_cursor;
        }
    };
    rt.on_cosign_round = [self, alive](std::optional<std::chrono::microseconds> ttq,
                                       const std::string& published) {
        if (!alive()) return;
        ++self->report_.checkpoints;
        if (self->opt_.plant == sim_plant::quorum_lie && !ttq) ttq = std::chrono::microseconds(1);
        auto lines =
            static_cast<std::uint64_t>(std::count(published.begin(), published.end(), '\n'));
        if (auto blank = published.find("\n\n"); blank != std::string::npos)
            lines = static_cast<std::uint64_t>(std::count(
                published.begin() + static_cast<std::ptrdiff_t>(blank) + 2, published.end(), '\n'));
        self->cosignature_lines_ += lines > 0 ? lines - 1 : 0; // all but the log's own signature
        if (!ttq) return;
        ++self->report_.quorum_checkpoints;
        self->ttq_ms_.push_back(ms(*ttq));
        if (auto cp = parse_signed_checkpoint(published)) {
            auto& waiting = self->unwitnessed_;
            for (auto it = waiting.begin(); it != waiting.end() && it->first < cp->body.size;
                 it = waiting.erase(it))
                self->witnessed_ms_.push_back(
                    ms(std::chrono::duration_cast<sim_duration>(self->now_ - it->second)));
        }
        // Invariant: a round that claims the quorum carries the cosignatures.
        if (self->policy_) {
            auto verdict = self->policy_->verify(published);
            if (!verdict || !verdict->quorum)
                self->violation(
                    "quorum claimed without the cosignatures: the checkpoint published "
                    "as witnessed does not meet the policy (" +
                    (verdict ? std::string("too few valid cosignatures") : verdict.message()) +
                    ")");
        }
    };
    auto name = n.spec->name;
    rt.on_cosigned = [self, name, alive](const std::string& text, std::uint64_t timestamp) {
        if (!alive()) return;
        auto cp = parse_signed_checkpoint(text);
        if (!cp) return;
        self->cosigned_[name].push_back({cp->body.size, cp->body.root});
        self->check_cosignatures();
        auto truth = static_cast<double>(sim_epoch_unix.count()) / 1000.0 +
                     std::chrono::duration<double>(self->now_.time_since_epoch()).count();
        auto skew = std::abs(static_cast<double>(timestamp) - truth);
        self->report_.max_witness_clock_skew_seconds =
            std::max(self->report_.max_witness_clock_skew_seconds, std::floor(skew));
    };
    rt.on_evidence = [](const storage::evidence_record&) {};
    if (opt_.faults.equivocate_at) rt.equivocate_from = time_point{} + *opt_.faults.equivocate_at;
    return rt;
}

status simulation::boot(sim_node& n) {
    ++n.generation;
    n.cfg = std::make_unique<actors::system_config>(n.options.network.system);
    n.sys = std::make_unique<caf::actor_system>(*n.cfg);
    n.sched = &dynamic_cast<caf::scheduler::test_coordinator&>(n.sys->scheduler());
    n.mpx = &dynamic_cast<test_multiplexer&>(n.sys->middleman().backend());
    n.sched->clock().current_time = now_;
    n.middleman_job = dynamic_cast<caf::resumable*>(
        caf::actor_cast<caf::abstract_actor*>(n.sys->middleman().actor_handle()));
    n.up = true;
    n.ends.clear();
    n.provided.clear();
    n.lag_cursor = 0;
    opened_ledger* ledger = nullptr;
    if (n.holds_ledger()) {
        auto opened = open_ledger(n.options.data_dir);
        if (!opened) return opened.err();
        n.ledger = std::move(*opened);
        CIVIC_TRY(load_log_keys(*n.ledger, n.options));
        ledger = &*n.ledger;
        // Lag counts only batches the leader commits after this (re)start.
        n.lag_cursor = leader_batches_.size();
    }
    auto tree = build_node_tree(n.options, ledger, runtime_for(n));
    if (!tree) return tree.err();
    n.tree = std::move(*tree);
    n.writers.clear();
    n.disk_ready.clear();
    auto record = n.tree.config.on_start;
    auto* node = &n;
    n.tree.config.on_start = [record, node](const std::string& name, const caf::actor& handle) {
        record(name, handle);
        if (name == actors::slots::committer.name || name == actors::slots::witness_writer.name ||
            name == actors::slots::gossip_writer.name)
            node->writers.insert(
                dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(handle)));
    };
    n.root = n.sys->spawn(actors::supervisor, n.tree.config);
    // No peer directory: the simulator's network has no TLS front, and every
    // sender is a node of it.
    actors::gateway_config gateway_config;
    gateway_config.node_name = n.spec->name;
    gateway_config.leading = n.options.network.leading;
    gateway_config.epoch = n.ledger ? storage::stored_epoch(*n.ledger->store) : 0;
    n.gateway = n.sys->spawn(actors::gateway, std::move(gateway_config),
                             n.ledger ? n.ledger->store : nullptr,
                             std::shared_ptr<const actors::directory>(n.tree.directory));
    n.bridge = n.sys->spawn(actors::bridge, std::chrono::milliseconds(10000));
    n.acceptor = accept_handle::from_int(next_handle_++);
    n.mpx->provide_acceptor(n.spec->caf_port, n.acceptor);
    // Published through the middleman actor (its blocking API would wait on a
    // scheduler that only this loop runs); connects before it is done are refused.
    auto mm = n.sys->middleman().actor_handle();
    auto gateway_ptr = caf::actor_cast<caf::strong_actor_ptr>(n.gateway);
    auto sigs = n.sys->message_types(n.gateway);
    auto port = n.spec->caf_port;
    auto* self = this;
    auto name = n.spec->name;
    caf::anon_send(n.bridge, actors::bridge_job{[=](actors::bridge_pointer b) {
                       actors::bridge_request<std::uint16_t>(
                           b, mm, [](std::uint16_t) {},
                           [self, name](const caf::error& e) {
                               self->violation("node " + name + " could not publish its gateway: " +
                                               caf::to_string(e));
                           },
                           caf::publish_atom::value, port, gateway_ptr, sigs, std::string{}, false);
                   }});
    for (const auto& peer : nodes_) {
        if (peer->index == n.index) continue;
        auto hdl = connection_handle::from_int(next_handle_++);
        n.mpx->provide_scribe(peer->spec->host, peer->spec->caf_port, hdl);
        n.provided[peer->index] = hdl;
    }
    return {};
}

void simulation::tear_down(sim_node& n) {
    // The process dies: nothing it sends from now on leaves it.
    n.up = false;
    caf::anon_send_exit(n.root, caf::exit_reason::kill);
    caf::anon_send_exit(n.gateway, caf::exit_reason::kill);
    caf::anon_send_exit(n.bridge, caf::exit_reason::kill);
    n.root = nullptr;
    n.gateway = nullptr;
    n.bridge = nullptr;
    for (const auto& child : n.tree.config.children)
        if (auto handle = n.tree.directory->find(child.name))
            caf::anon_send_exit(handle, caf::exit_reason::kill);
    n.tree.directory->clear();
    for (int rounds = 0; rounds < 1000; ++rounds) {
        bool busy = n.sched->run() > 0;
        n.mpx->flush_runnables();
        busy = n.sched->run() > 0 || busy;
        if (!busy) break;
    }
    if (auto left = n.sys->registry().running(); left > 0)
        std::cerr << "simulation: node " << n.spec->name << ": " << left << " actors still run\n";
    n.tree = node_tree{};
    n.ledger.reset();
    n.sys.reset();
    n.cfg.reset();
    n.sched = nullptr;
    n.mpx = nullptr;
    n.middleman_job = nullptr;
}

// ---------------------------------------------------------- event loop ----

bool simulation::is_stalled(sim_node& n, caf::resumable* job) {
    if (n.silenced && job == n.silenced_job) return true; // a hung witness
    if (opt_.fsync.count() <= 0 || n.writers.count(job) == 0) return false;
    // A writer's next message waits for the disk: an fsync takes `fsync`.
    auto it = n.disk_ready.find(job);
    if (it == n.disk_ready.end()) {
        auto ready = now_ + opt_.fsync;
        n.disk_ready.emplace(job, ready);
        at(ready, [] {}); // wakes the loop then
        return true;
    }
    return now_ < it->second;
}

bool simulation::step(sim_node& n) {
    auto& jobs = n.sched->jobs;
    if (n.silenced)
        n.silenced_job = dynamic_cast<caf::resumable*>(
            caf::actor_cast<caf::abstract_actor*>(n.tree.directory->get(actors::slots::witness)));
    std::size_t runnable = 0;
    for (auto* job : jobs)
        if (!is_stalled(n, job)) ++runnable;
    bool prefer_jobs = (rng_.next() & 1) != 0;
    auto run_job = [&]() {
        // The seed decides which runnable actor goes next.
        auto nth = rng_.below(runnable);
        std::size_t pick = 0;
        for (;; ++pick)
            if (!is_stalled(n, jobs[pick]) && nth-- == 0) break;
        auto* job = jobs[pick];
        if (pick != 0)
            std::rotate(jobs.begin(), jobs.begin() + static_cast<std::ptrdiff_t>(pick),
                        jobs.begin() + static_cast<std::ptrdiff_t>(pick) + 1);
        n.sched->run_once();
        n.disk_ready.erase(job);
        if (job == n.middleman_job) detect_connects(n);
    };
    if (runnable > 0 && prefer_jobs) {
        run_job();
        return true;
    }
    if (n.mpx->try_exec_runnable()) {
        detect_connects(n);
        collect_output(n);
        return true;
    }
    if (runnable > 0) {
        run_job();
        return true;
    }
    return false;
}

void simulation::run_until_quiet() {
    std::vector<sim_node*> busy;
    for (auto& n : nodes_)
        if (n->up) busy.push_back(n.get());
    while (!busy.empty()) {
        auto i = rng_.below(busy.size());
        if (!step(*busy[i])) {
            busy[i] = busy.back();
            busy.pop_back();
        }
    }
}

std::optional<time_point> simulation::next_timer() const {
    std::optional<time_point> next;
    for (const auto& n : nodes_) {
        if (!n->up) continue;
        const auto& schedule = n->sched->clock().schedule();
        if (!schedule.empty() && (!next || schedule.begin()->first < *next))
            next = schedule.begin()->first;
    }
    return next;
}

void simulation::advance_to(time_point t) {
    now_ = t;
    for (auto& n : nodes_) {
        if (!n->up) continue;
        auto& clock = n->sched->clock();
        clock.advance_time(now_ - clock.current_time);
    }
}

// -------------------------------------------------------------- network ----

bool simulation::reachable(const sim_node& a, const sim_node& b) const {
    return !heal_time(a, b).has_value();
}

std::optional<time_point> simulation::heal_time(const sim_node& a, const sim_node& b) const {
    const auto& ra = a.spec->region;
    const auto& rb = b.spec->region;
    if (ra == rb) return std::nullopt;
    auto since = now_.time_since_epoch();
    std::optional<time_point> heal;
    for (const auto& p : opt_.faults.partitions) {
        if (since < p.at || since >= p.heal) continue;
        bool in_a = std::find(p.regions.begin(), p.regions.end(), ra) != p.regions.end();
        bool in_b = std::find(p.regions.begin(), p.regions.end(), rb) != p.regions.end();
        if (in_a != in_b) {
            auto t = time_point{} + p.heal;
            if (!heal || t > *heal) heal = t;
        }
    }
    return heal;
}

sim_duration simulation::one_way(const sim_node& from, const sim_node& to) {
    auto [mean, jitter] = topo_.latency(from.spec->region, to.spec->region);
    double delay_ms = std::max(0.05, rng_.normal(mean, jitter));
    auto since = now_.time_since_epoch();
    for (const auto& s : opt_.faults.spikes)
        if (since >= s.at && since < s.at + s.length) delay_ms += ms(s.extra);
    const auto& ra = from.spec->region;
    const auto& rb = to.spec->region;
    double loss = ra == rb ? 0 : opt_.faults.loss_rate;
    for (const auto& l : opt_.faults.lossy_links)
        if ((l.a == ra && l.b == rb) || (l.a == rb && l.b == ra)) loss = std::max(loss, l.rate);
    if (loss > 0) {
        double rto_ms = 200;
        for (int tries = 0; tries < 8 && rng_.unit() < loss; ++tries) {
            delay_ms += rto_ms;
            rto_ms *= 2;
        }
    }
    return sim_duration(static_cast<std::int64_t>(delay_ms * 1000.0));
}

void simulation::collect_output(sim_node& n) {
    if (!n.up) return;
    std::vector<std::int64_t> closed;
    for (const auto& [id, link_id] : n.ends) {
        auto hdl = connection_handle::from_int(id);
        auto& link = links_[link_id];
        int side = link.ends[0].node == n.index && link.ends[0].hdl == hdl ? 0 : 1;
        auto& out = n.mpx->output_buffer(hdl);
        if (!out.empty()) {
            std::vector<char> bytes;
            bytes.swap(out);
            ++report_.messages;
            report_.bytes += bytes.size();
            deliver(link_id, side, std::move(bytes));
        }
        if (n.mpx->stopped_reading(hdl)) closed.push_back(id);
    }
    for (auto id : closed) {
        // This side closed the connection: the other side sees it after the data.
        auto link_id = n.ends[id];
        n.ends.erase(id);
        auto& link = links_[link_id];
        int side = link.ends[0].node == n.index ? 0 : 1;
        link.open[side] = false;
        if (!link.open[1 - side] || link.ends[1 - side].node < 0) continue;
        // The FIN follows the data; across a partition it waits for the heal.
        auto when = std::max(link.last_arrival[side], now_);
        auto& peer = *nodes_[static_cast<std::size_t>(link.ends[1 - side].node)];
        if (auto heal = heal_time(n, peer)) when = std::max(when, *heal + one_way(n, peer));
        close_end(link.ends[1 - side], when);
    }
}

void simulation::deliver(std::size_t link_id, int side, std::vector<char> bytes) {
    auto& link = links_[link_id];
    const auto& to_end = link.ends[1 - side];
    if (to_end.node < 0) {
        // Not accepted yet: the bytes wait for the accept, as in a socket's buffer.
        link.unsent.push_back(std::move(bytes));
        return;
    }
    auto& from = *nodes_[static_cast<std::size_t>(link.ends[side].node)];
    auto& to = *nodes_[static_cast<std::size_t>(to_end.node)];
    auto arrive = now_ + one_way(from, to);
    if (auto heal = heal_time(from, to)) arrive = std::max(arrive, *heal + one_way(from, to));
    arrive = std::max(arrive, link.last_arrival[side]); // TCP keeps order
    link.last_arrival[side] = arrive;
    at(arrive, [this, link_id, side, b = std::move(bytes)]() mutable {
        auto& l = links_[link_id];
        const auto& end = l.ends[1 - side];
        auto& dest = *nodes_[static_cast<std::size_t>(end.node)];
        if (!dest.up || dest.generation != end.generation || !l.open[1 - side]) return;
        auto& in = dest.mpx->virtual_network_buffer(end.hdl);
        in.insert(in.end(), b.begin(), b.end());
        dest.mpx->read_data(end.hdl);
        collect_output(dest);
    });
}

void simulation::close_end(const link_end& end, time_point when) {
    at(std::max(when, now_), [this, end] {
        auto& n = *nodes_[static_cast<std::size_t>(end.node)];
        if (!n.up || n.generation != end.generation) return;
        auto it = n.ends.find(end.hdl.id());
        if (it == n.ends.end()) return;
        links_[it->second].open[links_[it->second].ends[0].node == n.index &&
                                        links_[it->second].ends[0].hdl == end.hdl
                                    ? 0
                                    : 1] = false;
        n.ends.erase(it);
        if (auto& ptr = n.mpx->impl_ptr(end.hdl))
            ptr->io_failure(n.mpx, caf::io::network::operation::read);
        collect_output(n);
    });
}

void simulation::detect_connects(sim_node& n) {
    if (!n.up) return;
    for (auto& [peer_index, hdl] : n.provided) {
        auto& peer = *nodes_[static_cast<std::size_t>(peer_index)];
        if (n.mpx->has_pending_scribe(peer.spec->host, peer.spec->caf_port)) continue;
        // A connect to `peer` took the handle: open the connection, provide the next.
        auto link_id = links_.size();
        sim_link link;
        link.ends[0] = {n.index, n.generation, hdl};
        link.last_arrival[0] = link.last_arrival[1] = now_;
        links_.push_back(link);
        n.ends[hdl.id()] = link_id;
        auto next = connection_handle::from_int(next_handle_++);
        n.mpx->provide_scribe(peer.spec->host, peer.spec->caf_port, next);
        hdl = next;
        auto syn = one_way(n, peer);
        auto from = n.index;
        auto from_generation = n.generation;
        auto to = peer_index;
        at(now_ + syn, [this, link_id, from, from_generation, to] {
            auto& a = *nodes_[static_cast<std::size_t>(from)];
            auto& b = *nodes_[static_cast<std::size_t>(to)];
            auto& l = links_[link_id];
            if (!a.up || a.generation != from_generation || !l.open[0]) return;
            if (!b.up) { // refused: the host answers for the dead process
                close_end(l.ends[0], now_ + one_way(b, a));
                return;
            }
            if (!reachable(a, b)) { // the SYN is lost until the connect gives up
                close_end(l.ends[0], now_ + std::chrono::seconds(3));
                return;
            }
            if (!b.mpx->impl_ptr(b.acceptor)) { // not listening yet: refused
                close_end(l.ends[0], now_ + one_way(b, a));
                return;
            }
            auto accepted = connection_handle::from_int(next_handle_++);
            l.ends[1] = {b.index, b.generation, accepted};
            l.open[1] = true;
            b.ends[accepted.id()] = link_id;
            b.mpx->add_pending_connect(b.acceptor, accepted);
            b.mpx->accept_connection(b.acceptor);
            collect_output(b);
            auto unsent = std::move(links_[link_id].unsent);
            for (auto& chunk : unsent)
                deliver(link_id, 0, std::move(chunk));
        });
    }
}

// --------------------------------------------- workload, faults, checks ----

sim_node* simulation::leader() {
    for (auto& n : nodes_)
        if (n->options.network.leading) return n.get();
    return nullptr;
}

void simulation::schedule_submission(time_point t) {
    if (opt_.submissions_per_second <= 0) return;
    at(t, [this] {
        if (now_ >= end_) return;
        std::vector<sim_node*> targets;
        for (auto& n : nodes_)
            if (n->up && n->holds_ledger()) targets.push_back(n.get());
        if (registered_ && !targets.empty()) submit(*targets[rng_.below(targets.size())]);
        auto gap = rng_.exponential(1.0 / opt_.submissions_per_second);
        schedule_submission(now_ + sim_duration(static_cast<std::int64_t>(gap * 1e6) + 1));
    });
}

void simulation::submit(sim_node& n) {
    ++report_.submitted;
    auto content = sha256(byte_view("content/" + std::to_string(opt_.seed) + "/" +
                                    std::to_string(content_counter_++)));
    actors::sign_request request{identity_, bytes(content.begin(), content.end()), {}};
    auto* self = this;
    auto generation = n.generation;
    auto* node = &n;
    auto done = [self, node, generation](const actors::append_receipt& r) {
        if (!node->up || node->generation != generation) return; // died before answering
        ++self->report_.acknowledged;
        self->acked_[r.index] = sha256(byte_view(r.entry));
        self->unwitnessed_.emplace(r.index, self->now_);
    };
    auto failed = [self, node, generation](const caf::error&) {
        if (node->up && node->generation == generation) ++self->report_.refused;
    };
    if (n.options.network.leading)
        return actors::ask_actor<actors::append_receipt>(n.bridge, n.tree.directory,
                                                         actors::slots::signer, done, failed,
                                                         atoms::sign_atom_v, request);
    // Elsewhere the uplink forwards it, and the leader checks the token.
    auto token = sha256(byte_view(admin_token_));
    actors::forwarded_sign forwarded{bytes(token.begin(), token.end()), request};
    actors::ask_actor<actors::append_receipt>(n.bridge, n.tree.directory, actors::slots::uplink,
                                              done, failed, atoms::sign_atom_v, forwarded);
}

void simulation::crash(sim_node& n) {
    ++report_.crashes;
    // Its peers see their connections reset (the host is up, the process is not).
    for (const auto& [id, link_id] : n.ends) {
        auto& link = links_[link_id];
        int side = link.ends[0].node == n.index && link.ends[0].hdl.id() == id ? 0 : 1;
        link.open[side] = false;
        const auto& other = link.ends[1 - side];
        if (other.node < 0 || !link.open[1 - side]) continue;
        auto& peer = *nodes_[static_cast<std::size_t>(other.node)];
        if (reachable(n, peer)) close_end(other, now_ + one_way(n, peer));
    }
    tear_down(n);
}

void simulation::equivocate() {
    // Half the witnesses (the first, the third, ...) are asked to cosign another tree
    // of the size they last cosigned: the leader shows them another history.
    auto* lead = leader();
    if (!lead || !lead->up || !lead->ledger) return;
    auto key = derived_key(opt_.seed, "log");
    note::ed25519_signer log_signer(topo_.origin, std::move(key));
    std::vector<sim_node*> witnesses;
    for (auto& n : nodes_)
        if (n->is_witness() && n->up) witnesses.push_back(n.get());
    for (std::size_t i = 0; i < witnesses.size(); i += 2) {
        auto& w = *witnesses[i];
        if (!w.tree.witness_store) continue;
        auto latest = w.tree.witness_store->states();
        if (!latest) continue;
        auto it = latest->find(topo_.origin);
        if (it == latest->end() || it->second.checkpoint.empty()) continue;
        auto cp = parse_signed_checkpoint(it->second.checkpoint);
        if (!cp) continue;
        auto body = cp->body;
        body.root = sha256(byte_view(body.root));
        note::note forged{body.text(), {log_signer.sign(body.text())}};
        actors::cosign_request request{body.size, {}, note::serialize(forged)};
        actors::ask_actor<actors::cosign_answer>(
            w.bridge, w.tree.directory, actors::slots::witness, [](const actors::cosign_answer&) {},
            [](const caf::error&) {}, atoms::add_atom_v, request);
    }
}

void simulation::register_identity(actors::new_identity_key request, int attempt) {
    // Once the leader's signer runs (its supervisor starts it in its first step).
    at(now_ + std::chrono::milliseconds(100), [this, request, attempt] {
        auto* lead = leader();
        if (registered_ || !lead) return;
        auto retry = [this, request, attempt](const std::string& why) {
            if (attempt >= 100)
                violation("the workload's identity was not registered: " + why);
            else
                register_identity(request, attempt + 1);
        };
        if (!lead->up) return retry("the leader is down");
        auto* self = this;
        actors::ask_actor<actors::append_receipt>(
            lead->bridge, lead->tree.directory, actors::slots::signer,
            [self](const actors::append_receipt&) { self->registered_ = true; },
            [self, retry](const caf::error& e) {
                if (actors::code_of(e) == static_cast<std::uint8_t>(actors::errc::identity_exists))
                    self->registered_ = true;
                else
                    retry(actors::message_of(e));
            },
            atoms::add_atom_v, request);
    });
}

void simulation::violation(const std::string& what) {
    if (!violation_keys_.insert(what).second) return;
    std::ostringstream line;
    auto t = std::chrono::duration<double>(now_.time_since_epoch()).count();
    line << "seed " << opt_.seed << ", t=" << std::fixed << std::setprecision(3) << t
         << "s: " << what;
    report_.violations.push_back(line.str());
}

void simulation::check_cosignatures() {
    // No witness cosigns two inconsistent checkpoints: each checkpoint a
    // witness cosigns and the one it cosigned before are checked against the
    // leader's tree as it is then (a correct witness needs a consistency proof
    // between them): both must be that tree at their sizes.
    auto* lead = leader();
    if (!lead || !lead->up || !lead->ledger) return;
    auto& store = *lead->ledger->store;
    auto size = store.stored_size();
    auto on_tree = [&](const cosigned& c) {
        auto text = store.checkpoint_at(c.size);
        if (!text || !*text) return false;
        auto cp = parse_signed_checkpoint(**text);
        return cp && cp->body.root == c.root;
    };
    for (auto& [witness, list] : cosigned_) {
        auto& checked = cosigned_checked_[witness];
        for (; checked < list.size(); ++checked) {
            const auto& c = list[checked];
            if (checked == 0) continue; // its first: nothing to be consistent with
            const auto& before = list[checked - 1];
            if (std::max(c.size, before.size) > size) break; // the leader does not hold it yet
            bool same = c.size == before.size && c.root == before.root;
            if (same || (on_tree(before) && on_tree(c))) continue;
            violation("witness " + witness + " cosigned two inconsistent checkpoints (size " +
                      std::to_string(before.size) + ", then size " + std::to_string(c.size) +
                      " of another tree)");
            checked = list.size();
            break;
        }
    }
}

void simulation::check_invariants(bool final) {
    auto* lead = leader();
    if (!lead || !lead->up || !lead->ledger) return;
    auto& store = *lead->ledger->store;
    auto size = store.stored_size();
    // No acknowledged entry lost: the leader holds each one at its index.
    for (auto it = acked_.lower_bound(final ? 0 : acked_checked_); it != acked_.end(); ++it) {
        if (it->first >= size) {
            violation("acknowledged entry " + std::to_string(it->first) +
                      " lost: the leader's tree has only " + std::to_string(size) + " entries");
            break;
        }
        auto e = store.entry(it->first);
        if (!e || !*e || sha256(byte_view(**e)) != it->second) {
            violation("acknowledged entry " + std::to_string(it->first) +
                      " lost: the leader holds another entry at that index");
            break;
        }
        acked_checked_ = it->first + 1;
    }
    // Replicas hold a prefix of the leader's tree; at the end, all of it.
    for (auto& n : nodes_) {
        if (n.get() == lead || !n->up || !n->ledger) continue;
        auto latest = n->ledger->store->latest_checkpoint();
        if (latest && *latest) {
            auto contradiction = storage::contradiction(store, **latest);
            if (contradiction)
                violation("replica " + n->spec->name + " holds a tree the leader does not");
        }
        if (final && n->ledger->store->stored_size() != size)
            violation("replica " + n->spec->name + " did not converge: it holds " +
                      std::to_string(n->ledger->store->stored_size()) + " entries, the leader " +
                      std::to_string(size));
    }
    check_cosignatures();
    // Every split view is detected: once the leader equivocated long enough
    // ago, every node holds evidence of it.
    if (final && equivocating_) {
        std::uint64_t holding = 0;
        for (auto& n : nodes_) {
            if (!n->up) continue;
            std::uint64_t held = 0;
            if (n->tree.gossip_store) held += n->tree.gossip_store->evidence_count();
            if (n->tree.witness_store) held += n->tree.witness_store->evidence_count();
            if (held > 0)
                ++holding;
            else if (n.get() != lead)
                violation("split view undetected: node " + n->spec->name +
                          " holds no evidence of the leader's two histories");
        }
        report_.split_views_detected = holding;
    }
}

void simulation::schedule_faults() {
    auto base = time_point{};
    for (const auto& c : opt_.faults.crashes) {
        auto it = std::find_if(nodes_.begin(), nodes_.end(),
                               [&](const auto& n) { return n->spec->name == c.node; });
        if (it == nodes_.end()) continue;
        auto* n = it->get();
        if (opt_.plant == sim_plant::lost_ack && n->options.network.leading) {
            // The planted bug: the leader's disk acknowledged writes it never
            // made. Its ledger comes back as it was 3 s before the crash.
            auto snapshot_at =
                c.at > std::chrono::seconds(3) ? c.at - std::chrono::seconds(3) : sim_duration(0);
            at(base + snapshot_at, [n] {
                auto dir = fs::path(n->options.data_dir);
                std::error_code ec;
                fs::remove_all(dir / "ledger.snapshot", ec);
                fs::copy(dir / "ledger", dir / "ledger.snapshot", fs::copy_options::recursive, ec);
            });
        }
        at(base + c.at, [this, n] {
            if (!n->up) return;
            crash(*n);
            auto dir = fs::path(n->options.data_dir);
            std::error_code ec;
            if (opt_.plant == sim_plant::lost_ack && fs::exists(dir / "ledger.snapshot", ec)) {
                fs::remove_all(dir / "ledger", ec);
                fs::rename(dir / "ledger.snapshot", dir / "ledger", ec);
            }
        });
        at(base + c.at + c.down_for, [this, n] {
            if (n->up) return;
            if (auto ok = boot(*n); !ok)
                violation("node " + n->spec->name + " did not restart: " + ok.message());
        });
    }
    for (const auto& s : opt_.faults.silences) {
        auto it = std::find_if(nodes_.begin(), nodes_.end(),
                               [&](const auto& n) { return n->spec->name == s.witness; });
        if (it == nodes_.end()) continue;
        auto* n = it->get();
        at(base + s.from, [n] { n->silenced = true; });
        at(base + s.until, [n] { n->silenced = false; });
    }
    if (opt_.faults.equivocate_at)
        at(base + *opt_.faults.equivocate_at, [this] {
            equivocating_ = true;
            equivocate();
        });
    // Partitions and spikes act when messages are sent; a partition that
    // outlasts the heartbeats is seen by CAF as dead connections.
}

result<simulation_report> simulation::run() {
    auto wall_start = std::chrono::steady_clock::now();
    CIVIC_TRY(prepare_files());
    report_.topology_file = opt_.topo.file;
    report_.seed = opt_.seed;
    report_.nodes = nodes_.size();
    report_.witnesses = static_cast<std::size_t>(
        std::count_if(nodes_.begin(), nodes_.end(), [](const auto& n) { return n->is_witness(); }));
    end_ = time_point{} + opt_.duration;
    auto stop = end_ + opt_.settle;
    for (auto& n : nodes_)
        CIVIC_TRY(boot(*n));

    // The workload's identity, registered through the leader's signer.
    if (auto* lead = leader()) {
        auto key = std::make_shared<const ed25519::secret_key>(derived_key(opt_.seed, "identity"));
        auto keys_dir = fs::path(lead->options.data_dir) / "keys";
        std::error_code ec;
        fs::create_directories(keys_dir, ec);
        CIVIC_TRY(write_file(
            (keys_dir / identity_key_file_name(identity_, key->public_key_bytes())).string(),
            note::format_signer_key(identity_, note::type_ed25519, *key)));
        register_identity(actors::new_identity_key{identity_, key}, 0);
    }
    schedule_submission(time_point{} + std::chrono::milliseconds(500));
    schedule_faults();
    for (auto t = time_point{} + opt_.check_every; t < stop; t += opt_.check_every)
        at(t, [this] { check_invariants(false); });
    // After the run: every crashed node back, for the settle period.
    at(end_, [this] {
        for (auto& n : nodes_)
            if (!n->up)
                if (auto ok = boot(*n); !ok)
                    violation("node " + n->spec->name + " did not restart: " + ok.message());
    });

    for (;;) {
        run_until_quiet();
        auto next = next_timer();
        if (!events_.empty() && (!next || events_.begin()->first.first <= *next))
            next = events_.begin()->first.first;
        if (!next || *next > stop) break;
        advance_to(std::max(*next, now_));
        while (!events_.empty() && events_.begin()->first.first <= now_) {
            auto f = std::move(events_.begin()->second);
            events_.erase(events_.begin());
            f();
            run_until_quiet();
        }
    }
    now_ = stop;
    check_invariants(true);
    if (auto* lead = leader(); lead && lead->up && lead->ledger) {
        report_.tree_size = lead->ledger->store->stored_size();
        if (auto latest = lead->ledger->store->latest_checkpoint(); latest && *latest)
            if (auto cp = parse_signed_checkpoint(**latest))
                report_.root_hash = hex_encode(cp->body.root);
    }
    report_.virtual_seconds = std::chrono::duration<double>(stop.time_since_epoch()).count();
    report_.time_to_quorum = percentiles_of(ttq_ms_);
    report_.time_to_witnessed = percentiles_of(witnessed_ms_);
    report_.time_to_quorum_samples = ttq_ms_;
    report_.time_to_witnessed_samples = witnessed_ms_;
    report_.replication_lag = percentiles_of(lag_ms_);
    report_.cosignatures_per_checkpoint =
        report_.checkpoints
            ? static_cast<double>(cosignature_lines_) / static_cast<double>(report_.checkpoints)
            : 0;
    for (auto& n : nodes_)
        if (n->up) tear_down(*n);
    report_.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    return report_;
}

nlohmann::json percentiles_json(const sim_percentiles& p) {
    return {{"samples", p.samples},
            {"p50_ms", p.p50},
            {"p95_ms", p.p95},
            {"p99_ms", p.p99},
            {"max_ms", p.max}};
}

} // namespace

std::string fixed_digits(double x, int digits) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << x;
    return s.str();
}

std::string simulation_report::to_json() const {
    nlohmann::json j = {
        {"topology", topology_file},
        {"seed", seed},
        {"virtual_seconds", virtual_seconds},
        {"nodes", nodes},
        {"witnesses", witnesses},
        {"quorum", quorum},
        {"submitted", submitted},
        {"acknowledged", acknowledged},
        {"refused", refused},
        {"tree_size", tree_size},
        {"root", root_hash},
        {"checkpoints", checkpoints},
        {"quorum_checkpoints", quorum_checkpoints},
        {"time_to_quorum", percentiles_json(time_to_quorum)},
        {"time_to_witnessed", percentiles_json(time_to_witnessed)},
        {"cosignatures_per_checkpoint", cosignatures_per_checkpoint},
        {"replication_lag", percentiles_json(replication_lag)},
        {"split_views_detected", split_views_detected},
        {"crashes", crashes},
        {"messages", messages},
        {"bytes", bytes},
        {"max_witness_clock_skew_seconds", max_witness_clock_skew_seconds},
        {"violations", violations},
    };
    return j.dump(2) + "\n";
}

std::string simulation_report::table() const {
    std::ostringstream out;
    auto row = [&](const std::string& name, const std::string& value) {
        out << "  " << std::left << std::setw(36) << name << value << "\n";
    };
    auto pct = [](const sim_percentiles& p) {
        if (p.samples == 0) return std::string("-");
        return fixed_digits(p.p50, 1) + " / " + fixed_digits(p.p95, 1) + " / " +
               fixed_digits(p.p99, 1) + " ms (" + std::to_string(p.samples) + " samples)";
    };
    out << "simulation of " << topology_file << ", seed " << seed << ", "
        << fixed_digits(virtual_seconds, 0) << " s virtual, " << nodes << " nodes, " << witnesses
        << " witnesses\n";
    row("checkpoints published", std::to_string(checkpoints) + " (" +
                                     std::to_string(quorum_checkpoints) + " met the quorum" +
                                     (quorum.empty() ? "" : " '" + quorum + "'") + ")");
    row("time to quorum p50/p95/p99", pct(time_to_quorum));
    row("ack to witnessed p50/p95/p99", pct(time_to_witnessed));
    row("cosignatures per checkpoint", fixed_digits(cosignatures_per_checkpoint, 2));
    row("replication lag p50/p95/p99", pct(replication_lag));
    row("entries acknowledged", std::to_string(acknowledged) + " of " + std::to_string(submitted) +
                                    " submitted (" + std::to_string(refused) + " refused)");
    row("leader's tree", std::to_string(tree_size) + " entries");
    row("messages between nodes",
        std::to_string(messages) + " (" + std::to_string(bytes) + " bytes)");
    if (crashes > 0) row("crashes", std::to_string(crashes));
    if (split_views_detected > 0)
        row("nodes holding split-view evidence", std::to_string(split_views_detected));
    if (max_witness_clock_skew_seconds > 0)
        row("witness clock skew seen", fixed_digits(max_witness_clock_skew_seconds, 0) + " s");
    row("invariant violations", std::to_string(violations.size()));
    for (const auto& v : violations)
        out << "    " << v << "\n";
    row("virtual/wall time",
        fixed_digits(wall_seconds > 0 ? virtual_seconds / wall_seconds : 0, 1) + "x (" +
            fixed_digits(wall_seconds, 2) + " s wall)");
    return out.str();
}

result<simulation_report> simulate(const simulation_options& options) {
    simulation sim(options);
    return sim.run();
}

} // namespace civic::node
