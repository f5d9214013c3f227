// The gossip actor on the deterministic scheduler, with a real witness store
// for its evidence and stand-ins for its peers, its node's witness and, on a
// ledger node, a real ledger store: it catches a log that shows two histories
// and keeps the proof, takes in what agrees, and bounds what it takes.
// One file over 600 lines on purpose: the cases share one fixture (gossip, its
// stand-in peers and stores, on one coordinator).
#include "actors/gossip.hpp"
#include "actors/witness.hpp"
#include "fake_network.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/merkle.hpp"
#include "store_fixture.hpp"
#include "support.hpp"
#include "virtual_system.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>

using namespace civic;
using namespace std::chrono_literals;

namespace civic_gossip_test {

const std::string origin = "gossip.test/log";

/// A peer's gateway, as far as gossip uses it: keeps every exchange it is
/// sent and answers with `answer`, or never while `hang`.
struct peer_script {
    std::vector<actors::gossip_message> received;
    actors::gossip_message answer;
    bool hang = false;
    std::vector<caf::typed_response_promise<actors::gossip_message>> unanswered;
};

caf::behavior fake_peer(caf::event_based_actor* self, std::shared_ptr<peer_script> script) {
    return {
        [self, script](atoms::gossip_atom, actors::gossip_message& m) {
            script->received.push_back(m);
            auto promise = self->make_response_promise<actors::gossip_message>();
            if (script->hang)
                script->unanswered.push_back(promise);
            else
                promise.deliver(script->answer);
            return promise;
        },
    };
}

/// The node's witness, as far as gossip uses it: every halt it is told.
using halt_log = std::vector<std::pair<std::string, std::string>>; // origin, reason

caf::behavior fake_witness(caf::event_based_actor*, std::shared_ptr<halt_log> halts) {
    return {
        [halts](atoms::halt_atom, const std::string& log, const std::string& why) {
            halts->emplace_back(log, why);
        },
    };
}

std::shared_ptr<const note::verifier> verifier_of(const note::vkey& key) {
    auto v = note::make_verifier(key);
    REQUIRE(v.ok());
    return std::shared_ptr<const note::verifier>(std::move(*v));
}

hash fork_root(std::uint64_t size) {
    return sha256(byte_view("a fork at " + std::to_string(size)));
}

std::vector<std::string> signer_names(const std::string& signed_text) {
    auto cp = parse_signed_checkpoint(signed_text);
    REQUIRE(cp.ok());
    std::vector<std::string> names;
    for (const auto& s : cp->signed_note.signatures)
        names.push_back(s.name);
    return names;
}

struct fixture : test::virtual_system {
    test::temp_dir dir{"gossip"};
    note::ed25519_signer log = test::log_signer(origin);
    std::vector<hash> leaves = test::make_leaves(64); // the leaf hashes of the log's one tree
    note::cosigner w1 = test::witness("w1"), w2 = test::witness("w2");
    std::shared_ptr<storage::witness_store> evidence_store; // gossip's own, as on a node
    actors::witness_writer_actor writer;
    std::shared_ptr<actors::directory> directory = std::make_shared<actors::directory>();
    std::shared_ptr<halt_log> halts = std::make_shared<halt_log>();
    std::shared_ptr<test::fake_network> net = std::make_shared<test::fake_network>();
    caf::actor middleman, witness;
    std::vector<storage::evidence_record> reported; // what on_evidence was told
    actors::gossip_config config;                   // for start(); the tests change it
    actors::gossip_actor gossip;

    fixture() {
        boot();
        auto opened = storage::witness_store::open(dir.path.string());
        REQUIRE(opened.ok());
        evidence_store = std::move(*opened);
        writer = sys->spawn(actors::witness_writer, evidence_store);
        witness = sys->spawn(fake_witness, halts);
        directory->set("witness", witness);
        middleman = sys->spawn(test::fake_middleman, net);
        config.node_name = "me";
        config.period = 1s;
        config.exchange_timeout = 500ms;
        config.log_key = verifier_of(log.verifier_key());
        config.witness_keys = {verifier_of(w1.verifier_key()), verifier_of(w2.verifier_key())};
        config.on_evidence = [this](const storage::evidence_record& r) { reported.push_back(r); };
        config.unix_offset = 1795000000000ms; // 2026-11-18, as a node's clock says
    }
    ~fixture() {
        stop();
        for (const auto& a : {caf::actor_cast<caf::actor>(writer), witness, middleman})
            caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
        for (auto& [port, peer] : net->published)
            caf::anon_send_exit(peer, caf::exit_reason::user_shutdown);
        sched->run();
        net->published.clear();
        net->pending.clear();
        directory->clear();
        writer = nullptr;
        witness = middleman = nullptr;
        drain(); // clients whose request a failed check left waiting
        shut_down();
    }
    /// Starts gossip with `config` and the evidence its store holds, as a node
    /// does; its first tick runs at once.
    void start() {
        auto held = evidence_store->evidence(0, storage::max_evidence_records);
        REQUIRE(held.ok());
        gossip =
            sys->spawn(actors::gossip, config, caf::actor_cast<caf::io::middleman_actor>(middleman),
                       directory, evidence_store, writer, std::move(*held));
        sched->run();
    }
    void stop() {
        if (!gossip) return;
        caf::anon_send_exit(gossip, caf::exit_reason::user_shutdown);
        sched->run();
        gossip = nullptr;
    }
    /// A peer on `port` that answers exchanges as `script` says.
    std::shared_ptr<peer_script> add_peer(const std::string& name, std::uint16_t port) {
        auto script = std::make_shared<peer_script>();
        script->answer.from = name;
        net->published[port] = sys->spawn(fake_peer, script);
        config.peers.push_back({name, "127.0.0.1", port});
        return script;
    }

    /// The log's checkpoint of its first `size` leaves, or of another tree of
    /// that size (`root`), signed with the log's key unless `by` is given.
    std::string at(std::uint64_t size, std::optional<hash> root = std::nullopt,
                   const note::ed25519_signer* by = nullptr) const {
        return test::signed_checkpoint(by ? *by : log, size,
                                       root ? *root : test::reference_root(leaves, 0, size));
    }
    /// `signed_text` with a cosignature of each of `witnesses` added.
    static std::string cosigned(const std::string& signed_text,
                                std::initializer_list<const note::cosigner*> witnesses) {
        auto cp = parse_signed_checkpoint(signed_text);
        REQUIRE(cp.ok());
        auto n = cp->signed_note;
        for (const auto* w : witnesses)
            n.signatures.push_back(w->cosign(n.text, 1795000000));
        return note::serialize(n);
    }
    std::vector<hash> proof(std::uint64_t from, std::uint64_t to) const {
        std::vector<hash> out;
        test::reference_subproof(leaves, from, 0, to, true, out);
        return out;
    }

    /// A peer's side of an exchange; returns gossip's side.
    actors::gossip_message exchange(const std::string& from, std::vector<std::string> checkpoints,
                                    std::vector<actors::gossip_evidence> evidence = {}) {
        auto r = call<actors::gossip_message>(
            gossip, atoms::gossip_atom_v,
            actors::gossip_message{from, std::move(checkpoints), std::move(evidence)});
        INFO(actors::message_of(r.error));
        REQUIRE(r.value);
        return *r.value;
    }
    actors::gossip_status status() {
        auto r = call<actors::gossip_status>(gossip, atoms::status_atom_v);
        REQUIRE(r.value);
        return *r.value;
    }
    /// Gossip's newest checkpoint of the log, or "" when it knows none.
    std::string newest() {
        auto r = call<std::string>(gossip, atoms::checkpt_atom_v);
        REQUIRE(r.done);
        return r.value ? *r.value : std::string();
    }
};

actors::gossip_evidence evidence_of(const std::string& ours, const std::string& theirs,
                                    std::optional<hash> root_at_smaller = std::nullopt,
                                    const std::vector<hash>& proof = {}) {
    actors::gossip_evidence g;
    g.ours = ours;
    g.theirs = theirs;
    if (root_at_smaller) g.root_at_smaller.assign(root_at_smaller->begin(), root_at_smaller->end());
    for (const auto& h : proof)
        g.proof.insert(g.proof.end(), h.begin(), h.end());
    return g;
}

TEST_CASE("gossip: a peer that shows another root at the size in its view is caught: the "
          "evidence is kept durably, reported, gossiped on, and the node's witness halts",
          "[actors][gossip]") {
    fixture f;
    f.start();
    const auto honest = f.at(8), forked = f.at(8, fork_root(8));
    CHECK(f.exchange("p1", {honest}).evidence.empty());
    CHECK(f.newest() == honest);
    CHECK(f.status().evidence == 0);
    CHECK(f.halts->empty());

    auto answer = f.exchange("p2", {forked});
    // Kept, and told at once to the very peer that showed it.
    REQUIRE(answer.evidence.size() == 1);
    CHECK(answer.evidence[0].ours == honest);
    CHECK(answer.evidence[0].theirs == forked);
    CHECK(answer.evidence[0].root_at_smaller.empty());
    CHECK(answer.evidence[0].shown_by == "p2");
    auto s = f.status();
    CHECK(s.evidence == 1);
    CHECK(s.rejected == 0);
    REQUIRE(f.reported.size() == 1);
    CHECK(f.reported[0].kind == "fork");
    CHECK(f.reported[0].origin == origin);
    CHECK(f.reported[0].source == "p2");
    // Durable: in gossip's store.
    auto stored = f.evidence_store->evidence(0, 10);
    REQUIRE(stored.ok());
    REQUIRE(stored->size() == 1);
    CHECK((*stored)[0].kind == "fork");
    CHECK((*stored)[0].ours == honest);
    CHECK((*stored)[0].theirs == forked);
    // The node's witness never cosigns for the log again.
    REQUIRE(f.halts->size() == 1);
    CHECK(f.halts->at(0).first == origin);
    CHECK(f.halts->at(0).second == "split view (fork) reported by p2");
    // The view keeps the checkpoint it held first.
    CHECK(f.newest() == honest);

    // The same fork again, as evidence from other peers either way round: nothing new.
    f.exchange("p3", {}, {answer.evidence[0]});
    f.exchange("p4", {}, {evidence_of(forked, honest)});
    CHECK(f.status().evidence == 1);
    CHECK(f.reported.size() == 1);
    CHECK(f.halts->size() == 1);
    CHECK(f.evidence_store->evidence_count() == 1);

    // After a restart it holds the evidence still, from its store, and gossips it.
    f.stop();
    f.start();
    auto later = f.exchange("p5", {});
    REQUIRE(later.evidence.size() == 1);
    CHECK(later.evidence[0].theirs == forked);
    f.exchange("p6", {}, {evidence_of(honest, forked)});
    CHECK(f.status().evidence == 1);
    CHECK(f.evidence_store->evidence_count() == 1);
}

TEST_CASE("gossip: evidence from a peer is kept only if it proves two histories: two roots at "
          "one size, or a larger tree whose prefix is not the smaller checkpoint's tree",
          "[actors][gossip]") {
    fixture f;
    f.start();
    auto impostor = note::ed25519_signer(origin, test::key_for("impostor"));
    auto other_log = test::log_signer("other.test/log");
    const auto real8 = f.at(8), real13 = f.at(13), forked8 = f.at(8, fork_root(8));
    const auto real_root8 = test::reference_root(f.leaves, 0, 8);
    struct refused_case {
        const char* what;
        actors::gossip_evidence evidence;
    };
    auto bad_proof = evidence_of(real13, forked8, real_root8, f.proof(8, 13));
    bad_proof.proof.push_back(0); // 32 * n + 1 bytes
    auto bad_root = evidence_of(real13, forked8, real_root8, f.proof(8, 13));
    bad_root.root_at_smaller.pop_back(); // 31 bytes
    std::vector<refused_case> refused{
        {"one checkpoint twice", evidence_of(real8, real8)},
        {"two checkpoints of one tree", evidence_of(real13, real8, real_root8, f.proof(8, 13))},
        {"a fork signed by another key under the log's name",
         evidence_of(real8, f.at(8, fork_root(8), &impostor))},
        {"a fork of another log", evidence_of(test::signed_checkpoint(other_log, 8, real_root8),
                                              test::signed_checkpoint(other_log, 8, fork_root(8)))},
        {"sizes that differ, without the larger tree's root at the smaller size",
         evidence_of(real13, forked8)},
        {"a proof that does not take the claimed root to the larger one",
         evidence_of(real13, forked8, fork_root(99), f.proof(8, 13))},
        {"a proof that is not whole hashes", bad_proof},
        {"a root at the smaller size that is no hash", bad_root},
        {"not checkpoints", evidence_of("hello\n", "world\n")},
    };
    std::uint64_t rejected = 0;
    for (const auto& r : refused) {
        INFO(r.what);
        f.exchange("p1", {}, {r.evidence});
        auto s = f.status();
        CHECK(s.rejected == ++rejected);
        CHECK(s.evidence == 0);
    }
    CHECK(f.reported.empty());
    CHECK(f.halts->empty());

    // The larger tree's root at 8, with the proof from 8 to 13, is not the
    // forked checkpoint's root: the log signed two histories.
    auto proven = evidence_of(real13, forked8, real_root8, f.proof(8, 13));
    proven.shown_by = "w9";
    f.exchange("p1", {}, {proven});
    CHECK(f.status().evidence == 1);
    REQUIRE(f.reported.size() == 1);
    CHECK(f.reported[0].kind == "inconsistent");
    CHECK(f.reported[0].source == "w9"); // who caught it, not who passed it on
    CHECK(f.reported[0].root_at_smaller == base64_encode(real_root8));
    CHECK(f.evidence_store->evidence_count() == 1);
    REQUIRE(f.halts->size() == 1);
    CHECK(f.halts->at(0).second == "split view (inconsistent) reported by w9");
    // It travels on with its proof, which checks.
    auto passed_on = f.exchange("p2", {}).evidence;
    REQUIRE(passed_on.size() == 1);
    auto e = actors::from_gossip(passed_on[0]);
    REQUIRE(e);
    auto kind = check_split_view(*e, *f.config.log_key);
    REQUIRE(kind.ok());
    CHECK(*kind == split_view_kind::inconsistent);
}

TEST_CASE("gossip: checkpoints that agree are taken in: a larger one replaces the view, an older "
          "one does not, and copies of one checkpoint pool the policy witnesses' cosignatures",
          "[actors][gossip]") {
    fixture f;
    f.start();
    CHECK(f.newest().empty());
    f.exchange("p1", {f.at(8)});
    f.exchange("p2", {f.at(13)});
    f.exchange("p3", {f.at(5)});
    auto s = f.status();
    CHECK(s.origins == std::vector<std::string>{origin});
    CHECK(s.sizes == std::vector<std::uint64_t>{13});
    CHECK(f.newest() == f.at(13));

    auto stranger = test::witness("stranger"); // not a witness of the policy
    f.exchange("p1", {f.cosigned(f.at(13), {&f.w1, &stranger})});
    CHECK(signer_names(f.newest()) == std::vector<std::string>{origin, "w1"});
    // A line under w2's name that does not verify is dropped, not pooled.
    auto wrong = note::cosigner("w2", test::key_for("not w2's key"));
    f.exchange("p2", {f.cosigned(f.at(13), {&wrong})});
    CHECK(signer_names(f.newest()) == std::vector<std::string>{origin, "w1"});
    // w1 twice (here and already held) is kept once.
    f.exchange("p3", {f.cosigned(f.at(13), {&f.w2, &f.w1, &f.w1})});
    CHECK(signer_names(f.newest()) == std::vector<std::string>{origin, "w1", "w2"});
    auto cp = parse_signed_checkpoint(f.newest());
    REQUIRE(cp.ok());
    CHECK(cp->body.size == 13);
    // Each cosignature it serves is one the witness made.
    note::cosignature_verifier v1("w1", test::public_key_of(f.w1.verifier_key()));
    note::cosignature_verifier v2("w2", test::public_key_of(f.w2.verifier_key()));
    auto opened = note::open(cp->signed_note, {&v1, &v2});
    REQUIRE(opened.ok());
    CHECK(opened->signed_by == std::vector<std::size_t>{0, 1});

    s = f.status();
    CHECK(s.evidence == 0);
    CHECK(s.rejected == 0);
    CHECK(f.halts->empty());
}

TEST_CASE("gossip: a checkpoint of another log, or without the log's signature, is refused and "
          "changes nothing",
          "[actors][gossip]") {
    fixture f;
    f.start();
    f.exchange("p1", {f.at(8)});
    auto impostor = note::ed25519_signer(origin, test::key_for("impostor"));
    auto other_log = test::log_signer("other.test/log");
    // A note that the policy witness cosigned but the log never signed.
    auto unsigned_note = [&] {
        checkpoint cp{origin, 20, test::reference_root(f.leaves, 0, 20), {}};
        return note::serialize(note::note{cp.text(), {f.w1.cosign(cp.text(), 1795000000)}});
    }();
    struct refused_case {
        const char* what;
        std::string text;
    };
    std::uint64_t rejected = 0;
    for (const auto& r : std::vector<refused_case>{
             {"another log's checkpoint", test::signed_checkpoint(other_log, 20, fork_root(20))},
             {"signed by another key under the log's name", f.at(20, fork_root(20), &impostor)},
             {"cosigned by a witness, not signed by the log", unsigned_note},
             {"not a checkpoint", "hello\n"},
         }) {
        INFO(r.what);
        f.exchange("p2", {r.text});
        auto s = f.status();
        CHECK(s.rejected == ++rejected);
        CHECK(s.sizes == std::vector<std::uint64_t>{8});
        CHECK(s.evidence == 0);
    }
    CHECK(f.newest() == f.at(8));
    CHECK(f.halts->empty());
}

TEST_CASE("gossip: it reads at most 16 checkpoints and 16 evidence records of one message, checks "
          "a text it checked lately once, and sends the newest max_evidence_sent records it holds",
          "[actors][gossip]") {
    fixture f;
    // Three records in its store from before (gossip trusts its own store).
    auto write = std::make_shared<storage::witness_write>();
    for (int i = 0; i < 3; ++i) {
        storage::evidence_record r;
        r.origin = origin;
        r.kind = "fork";
        r.ours = f.at(3 + i);
        r.theirs = f.at(3 + i, fork_root(3 + i));
        r.source = "p" + std::to_string(i);
        write->evidence.push_back(r);
    }
    REQUIRE(f.evidence_store->commit(*write).ok());
    f.config.max_evidence_sent = 2;
    f.start();
    CHECK(f.status().evidence == 3);
    auto sent = f.exchange("p1", {});
    REQUIRE(sent.evidence.size() == 2); // the newest two, oldest first
    CHECK(sent.evidence[0].theirs == f.at(4, fork_root(4)));
    CHECK(sent.evidence[1].theirs == f.at(5, fork_root(5)));
    CHECK(sent.evidence[1].shown_by == "p2");

    // Twenty texts that are no checkpoints: the first 16 are read (and refused).
    auto junk = [](int i) { return "junk " + std::to_string(i) + "\n"; };
    std::vector<std::string> twenty;
    for (int i = 0; i < 20; ++i)
        twenty.push_back(junk(i));
    f.exchange("p1", twenty);
    CHECK(f.status().rejected == 16);
    std::vector<actors::gossip_evidence> bad(20, evidence_of("x\n", "y\n"));
    f.exchange("p1", {}, bad);
    CHECK(f.status().rejected == 32);
    CHECK(f.status().evidence == 3);

    // A text it checked lately is not checked again (peers send the same one
    // every round), even in one message.
    f.exchange("p2", {junk(0), junk(0), junk(15)});
    CHECK(f.status().rejected == 32);
    // It remembers the last 64 texts only: after 64 others, junk 0 is new again.
    for (int m = 0; m < 4; ++m) {
        std::vector<std::string> sixteen;
        for (int i = 0; i < 16; ++i)
            sixteen.push_back(junk(100 + 16 * m + i));
        f.exchange("p3", sixteen);
    }
    CHECK(f.status().rejected == 32 + 64);
    f.exchange("p2", {junk(0)});
    CHECK(f.status().rejected == 32 + 64 + 1);
}

TEST_CASE("gossip: on a node that holds the ledger, a checkpoint that contradicts its tree is "
          "caught at any size the tree holds, and one beyond the tree once it has grown that far",
          "[actors][gossip]") {
    fixture f;
    test::temp_dir ledger_dir("gossip-ledger");
    auto store = test::open_ledger_store(ledger_dir.path.string());
    storage::tree_state tree;
    store->trust(tree);
    // Entry i's leaf hash is leaves[i] (test::make_leaves): the store holds the log's one tree.
    auto entries = [](std::uint64_t from, std::uint64_t to) {
        std::vector<bytes> out;
        for (auto i = from; i < to; ++i) {
            auto s = std::to_string(i);
            out.emplace_back(s.begin(), s.end());
        }
        return out;
    };
    test::commit_batch(*store, tree, entries(0, 8), f.log);
    REQUIRE(tree.root() == test::reference_root(f.leaves, 0, 8));
    f.config.own_checkpoint = [store]() -> std::optional<std::string> {
        auto latest = store->latest_checkpoint();
        if (!latest.ok() || !*latest) return std::nullopt;
        return **latest;
    };
    f.config.check_against_tree = [store](const std::string& text) {
        return storage::contradiction(*store, text);
    };
    f.start(); // its first tick takes the node's own checkpoint
    CHECK(f.newest() == f.at(8));

    // The log's own checkpoints at sizes the tree holds agree.
    f.exchange("p1", {f.at(3), f.at(5)});
    CHECK(f.status().evidence == 0);
    // Another tree at 5: smaller than the view, so only the tree can tell.
    const auto forked5 = f.at(5, fork_root(5));
    f.exchange("p1", {forked5});
    CHECK(f.status().evidence == 1);
    REQUIRE(f.reported.size() == 1);
    CHECK(f.reported[0].kind == "inconsistent");
    CHECK(f.reported[0].ours == f.at(8));
    CHECK(f.reported[0].theirs == forked5);
    CHECK(f.reported[0].source == "p1");
    CHECK(f.halts->size() == 1);

    // Another tree at 13, beyond the tree: nothing to tell it by yet.
    const auto forked13 = f.at(13, fork_root(13));
    f.exchange("p2", {forked13});
    CHECK(f.status().evidence == 1);
    // The tree grows to 16; from its next tick on the node knows.
    test::commit_batch(*store, tree, entries(8, 16), f.log);
    f.run_for(1s);
    f.exchange("p3", {forked13});
    CHECK(f.status().evidence == 2);
    REQUIRE(f.reported.size() == 2);
    CHECK(f.reported[1].kind == "inconsistent");
    CHECK(f.reported[1].ours == f.at(16));
    CHECK(f.reported[1].theirs == forked13);
    CHECK(f.newest() == f.at(16));
}

TEST_CASE("gossip: every period it exchanges its view with `fanout` of its peers and takes in "
          "their answers, and an exchange a peer does not answer in time is a failure",
          "[actors][gossip]") {
    fixture f;
    std::vector<std::shared_ptr<peer_script>> peers;
    for (std::uint16_t i = 0; i < 3; ++i) {
        peers.push_back(f.add_peer("p" + std::to_string(i + 1), 1001 + i));
        peers.back()->answer.checkpoints = {f.at(3 * (i + 1))}; // sizes 3, 6 and 9
    }
    f.config.fanout = 2;
    f.config.own_checkpoint = [&f]() -> std::optional<std::string> { return f.at(2); };
    f.start();
    auto received = [&] {
        std::size_t n = 0;
        for (const auto& p : peers)
            n += p->received.size();
        return n;
    };
    auto before = received();
    std::uint64_t rounds_before = f.status().rounds;
    for (int round = 1; round <= 10; ++round) {
        f.run_for(1s);
        INFO("round " << round);
        CHECK(received() == before + 2 * static_cast<std::size_t>(round));
    }
    auto s = f.status();
    CHECK(s.rounds == rounds_before + 10);
    CHECK(s.failures == 0);
    for (const auto& p : peers) {
        INFO(p->answer.from);
        CHECK_FALSE(p->received.empty()); // drawn at random, each one sooner or later
        for (const auto& m : p->received) {
            CHECK(m.from == "me");
            CHECK(m.checkpoints.size() == 1);
        }
    }
    // What they answered is taken in: the largest of their checkpoints, which
    // is what it shows from then on.
    CHECK(f.newest() == f.at(9));
    std::vector<std::size_t> seen;
    for (const auto& p : peers)
        seen.push_back(p->received.size());
    f.run_for(1s);
    std::size_t shown = 0;
    for (std::size_t i = 0; i < peers.size(); ++i)
        for (auto k = seen[i]; k < peers[i]->received.size(); ++k, ++shown)
            CHECK(peers[i]->received[k].checkpoints == std::vector<std::string>{f.at(9)});
    CHECK(shown == 2);

    // p2 stops answering: each exchange with it fails after the exchange timeout.
    peers[1]->hang = true;
    auto asked_before = peers[1]->received.size();
    f.run_for(10s);
    f.run_for(600ms); // the last round's exchange times out too (no round starts meanwhile)
    auto asked = peers[1]->received.size() - asked_before;
    CHECK(asked > 0);
    CHECK(f.status().failures == asked);
}

TEST_CASE("gossip: a peer that is down is tried again every round it is due, wherever the "
          "shuffle puts it after the fanout's exchanges",
          "[actors][gossip]") {
    // The round used to stop at the fanout: a down peer drawn after it waited
    // for a round that drew it earlier.
    fixture f;
    f.add_peer("p1", 1001);
    f.add_peer("p2", 1002);
    f.config.peers.push_back({"down", "127.0.0.1", 1003}); // nobody listens there
    f.config.fanout = 1;
    f.config.timing.backoff_initial = 100ms; // due again at every round
    f.config.timing.backoff_max = 100ms;
    f.start();
    f.run_for(1s); // both up peers connected
    auto before = f.net->attempts_at(1003);
    constexpr int rounds = 20;
    for (int round = 0; round < rounds; ++round)
        f.run_for(1s);
    // Jitter may put one retry just past a round's start: never more than one
    // round's worth short.
    CHECK(f.net->attempts_at(1003) - before >= static_cast<std::size_t>(rounds - 1));
}

TEST_CASE("gossip: one fork is kept once, whatever cosignatures either checkpoint carries",
          "[actors][gossip]") {
    // Evidence was told apart by the two checkpoints' whole texts, signatures
    // included: a peer with k cosignatures of each side could make up to 4^k
    // records (and halts, and reports) of one fork.
    fixture f;
    f.start();
    const auto honest = f.at(8), forked = f.at(8, fork_root(8));
    f.exchange("p1", {honest});
    f.exchange("p2", {forked});
    REQUIRE(f.status().evidence == 1);
    f.exchange("p3", {f.cosigned(honest, {&f.w1})});
    f.exchange("p4", {f.cosigned(forked, {&f.w2})});
    CHECK(f.status().evidence == 1);
    CHECK(f.reported.size() == 1);
    CHECK(f.halts->size() == 1);
}

TEST_CASE("gossip: the evidence it keeps says when this node caught it", "[actors][gossip]") {
    // It was 0 (1970) in every record gossip kept and reported.
    fixture f;
    f.start();
    f.exchange("p1", {f.at(8)});
    f.exchange("p2", {f.at(8, fork_root(8))});
    REQUIRE(f.reported.size() == 1);
    CHECK(f.reported[0].observed_unix >= 1795000000);
    auto stored = f.evidence_store->evidence(0, 10);
    REQUIRE(stored.ok());
    REQUIRE(stored->size() == 1);
    CHECK((*stored)[0].observed_unix == f.reported[0].observed_unix);
}

} // namespace civic_gossip_test
