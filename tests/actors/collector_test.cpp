// The collector on the deterministic scheduler, against real witness actors
// behind links of chosen (virtual) latency: it publishes at the policy's
// quorum, after the k-th fastest witness and not the slowest, keeps late
// cosignatures that arrive within its grace period, learns a witness's size
// from a 409, and says so when the quorum is missing.
#include "actors/collector.hpp"
#include "actors/committer.hpp"
#include "actors/ledger.hpp"
#include "actors/system.hpp"
#include "actors/witness.hpp"
#include "protocol/entry.hpp"
#include "store_fixture.hpp"
#include "support.hpp"
#include "virtual_system.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace civic;
using namespace std::chrono_literals;

namespace civic_collector_test {

const std::string origin = "collector.test/log";

/// A witness's gateway seen across a link of fixed one-way latency: each
/// request is handed on after `delay` and its answer returned after `delay`.
struct link_state {
    static inline const char* name = "slow-link";
    struct pending {
        actors::cosign_request request;
        caf::typed_response_promise<actors::cosign_answer> promise;
        actors::cosign_answer answer;
    };
    std::map<std::uint64_t, pending> inflight;
    std::uint64_t next = 0;
};

caf::behavior slow_link(caf::stateful_actor<link_state>* self, actors::witness_actor target,
                        caf::timespan delay) {
    return {
        [self, delay](atoms::add_atom, actors::cosign_request& r) {
            auto promise = self->make_response_promise<actors::cosign_answer>();
            auto id = self->state.next++;
            self->state.inflight[id] = {std::move(r), promise, {}};
            self->delayed_send(self, delay, atoms::flush_atom_v, id); // out after `delay`
            return promise;
        },
        [self, target, delay](atoms::flush_atom, std::uint64_t id) {
            self->request(target, 10s, atoms::add_atom_v, self->state.inflight[id].request)
                .then([self, delay, id](actors::cosign_answer& a) {
                    self->state.inflight[id].answer = std::move(a);
                    self->delayed_send(self, delay, atoms::tick_atom_v, id); // back after `delay`
                });
        },
        [self](atoms::tick_atom, std::uint64_t id) {
            auto p = std::move(self->state.inflight[id]);
            self->state.inflight.erase(id);
            p.promise.deliver(std::move(p.answer));
        },
    };
}

/// An outside witness's HTTP side as the collector sees it: the first `busy`
/// requests answered 429 with Retry-After 2 s (a rate limit), the rest handed
/// to its link; `seen` counts the requests that reached it.
caf::behavior busy_front(caf::event_based_actor* self, caf::actor link, std::size_t busy,
                         std::shared_ptr<std::size_t> seen) {
    return {
        [self, link, busy, seen](atoms::add_atom,
                                 actors::cosign_request& r) -> caf::result<actors::cosign_answer> {
            if ((*seen)++ < busy) return actors::cosign_answer{429, false, "busy", 2};
            auto promise = self->make_response_promise<actors::cosign_answer>();
            self->request(link, 10s, atoms::add_atom_v, std::move(r))
                .then([promise](actors::cosign_answer& a) mutable { promise.deliver(a); });
            return promise;
        },
    };
}

/// The middleman as the collector sees it: `connect` to port N answers link N.
caf::behavior fake_middleman(caf::event_based_actor*, std::map<std::uint16_t, caf::actor> links) {
    return {
        [links](caf::connect_atom, const std::string&, std::uint16_t port)
            -> caf::result<caf::node_id, caf::strong_actor_ptr, std::set<std::string>> {
            auto it = links.find(port);
            if (it == links.end()) return caf::sec::cannot_connect_to_node;
            return {caf::node_id{}, caf::actor_cast<caf::strong_actor_ptr>(it->second),
                    std::set<std::string>{}};
        },
    };
}

struct witness_node {
    std::string name;
    std::unique_ptr<test::temp_dir> dir;
    std::shared_ptr<storage::witness_store> store;
    actors::witness_writer_actor writer;
    actors::witness_actor witness;
    caf::actor link;
};

struct fixture : test::store_system {
    std::shared_ptr<const note::ed25519_signer> log =
        std::make_shared<const note::ed25519_signer>(test::log_signer(origin));
    ed25519::secret_key clerk = test::key_for("collector-clerk");
    actors::ledger_actor ledger;
    std::vector<witness_node> witnesses;
    caf::actor middleman;
    actors::collector_actor collector;
    std::shared_ptr<const policy> rules;
    std::uint64_t appended = 0;
    std::set<std::size_t> outside; // witnesses asked as outside ones (busy_front)
    std::size_t outside_busy = 0;  // 429s each outside witness answers first
    std::shared_ptr<std::size_t> outside_seen = std::make_shared<std::size_t>(0);

    /// Witnesses w0..w(n-1) with the given one-way latencies; the policy asks
    /// `quorum` of them. Those in `outside_witnesses` are outside the network.
    fixture(const std::vector<caf::timespan>& latencies, std::size_t quorum,
            std::set<std::size_t> outside_witnesses = {}, std::size_t busy = 0)
        : store_system("collector"), outside(std::move(outside_witnesses)), outside_busy(busy) {
        open_store();
        actors::ledger_config lc;
        lc.origin = origin;
        ledger = sys->spawn(actors::ledger, lc, store, log, committer);

        std::string policy_text = "log " + note::format_vkey(log->verifier_key()) + "\n";
        std::string members;
        std::map<std::uint16_t, caf::actor> links;
        for (std::size_t i = 0; i < latencies.size(); ++i) {
            witness_node w;
            w.name = "w" + std::to_string(i);
            w.dir = std::make_unique<test::temp_dir>("collector-" + w.name);
            w.store = std::shared_ptr<storage::witness_store>(
                std::move(*storage::witness_store::open(w.dir->path.string())));
            w.writer = sys->spawn(actors::witness_writer, w.store);
            actors::witness_config wc;
            wc.key = std::make_shared<const note::cosigner>(test::witness(w.name));
            auto logs = std::make_shared<witness::trusted_logs>();
            REQUIRE(logs->add(note::format_vkey(log->verifier_key())));
            wc.logs = logs;
            wc.unix_offset = 1795000000000ms;
            w.witness = sys->spawn(actors::witness, wc, std::move(*w.store->states()),
                                   std::uint64_t{0}, w.writer);
            w.link = sys->spawn(slow_link, w.witness, latencies[i]);
            links[static_cast<std::uint16_t>(1000 + i)] = w.link;
            policy_text +=
                "witness " + w.name + " " + note::format_vkey(wc.key->verifier_key()) + "\n";
            members += " " + w.name;
            witnesses.push_back(std::move(w));
        }
        policy_text += "group all " + std::to_string(quorum) + members + "\nquorum all\n";
        auto parsed = parse_policy(policy_text);
        REQUIRE(parsed);
        rules = std::make_shared<const policy>(std::move(*parsed));
        middleman = sys->spawn(fake_middleman, links);
        append(1);
        start_collector();
    }
    ~fixture() {
        for (auto& w : witnesses)
            for (const auto& a :
                 {caf::actor_cast<caf::actor>(w.link), caf::actor_cast<caf::actor>(w.witness),
                  caf::actor_cast<caf::actor>(w.writer)})
                caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
        sched->run();
        witnesses.clear(); // their handles, before close_store drops the system
        close_store(collector, ledger, middleman);
    }

    void start_collector() {
        if (collector) caf::anon_send_exit(collector, caf::exit_reason::kill);
        actors::collector_config cc;
        cc.rules = rules;
        for (std::size_t i = 0; i < witnesses.size(); ++i) {
            if (outside.count(i)) {
                cc.outside.push_back({witnesses[i].name, "https://" + witnesses[i].name});
                continue;
            }
            cc.endpoints.push_back(
                {witnesses[i].name, "127.0.0.1", static_cast<std::uint16_t>(1000 + i)});
        }
        cc.spawn_outside = [this](caf::actor_system& system,
                                  const actors::outside_witness_spec& o) {
            auto i = static_cast<std::size_t>(std::stoul(o.name.substr(1)));
            return caf::actor_cast<actors::outside_witness_actor>(
                system.spawn(busy_front, witnesses[i].link, outside_busy, outside_seen));
        };
        cc.interval = 1s;
        cc.witness_timeout = 2s;
        cc.grace = 200ms;
        collector = sys->spawn(actors::collector, cc, store,
                               caf::actor_cast<caf::io::middleman_actor>(middleman), ledger);
        sched->run();
    }

    /// Appends `n` entries (the first ever is the clerk's registration).
    void append(std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            entry e;
            e.kind = appended == 0 ? entry_kind::identity_registration : entry_kind::statement;
            e.timestamp_ms = 1795000000000 + appended;
            e.identity = "clerk";
            e.public_key = clerk.public_key_bytes();
            if (e.kind == entry_kind::statement)
                e.content_hash = sha256(byte_view("doc " + std::to_string(appended)));
            e.sign(clerk);
            ++appended;
            caf::anon_send(ledger, atoms::append_atom_v, e.encode());
            sched->run();
        }
    }

    actors::collector_status status() {
        actors::collector_status out;
        sys->spawn([&out, target = collector](caf::event_based_actor* self) {
            self->request(target, 10s, atoms::status_atom_v)
                .then([&out](const actors::collector_status& s) { out = s; });
        });
        sched->run();
        return out;
    }

    std::string published() {
        std::string out;
        sys->spawn([&out, target = collector](caf::event_based_actor* self) {
            self->request(target, 10s, atoms::checkpt_atom_v)
                .then([&out](const std::string& s) { out = s; }, [](caf::error&) {});
        });
        sched->run();
        return out;
    }
};

TEST_CASE("collector: publishes at the k-th fastest witness, keeps late cosignatures within "
          "its grace, and goes on from each witness's size",
          "[actors][collector]") {
    // One-way latencies: round trips of 20, 40, 60, 80 and 1000 ms; 3 of 5 needed.
    fixture f({10ms, 20ms, 30ms, 40ms, 500ms}, 3);
    f.run_for(1500ms); // the first tick connects, the second (at 1 s) starts a round
    auto s = f.status();
    REQUIRE(s.rounds == 1);
    CHECK(s.quorum);
    // Quorum with the third fastest (60 ms); w3 (80 ms) made the 200 ms grace, w4 did not.
    CHECK(s.time_to_quorum_p50_us == 60000);
    CHECK(s.cosigners == std::vector<std::string>{"w0", "w1", "w2", "w3"});
    auto cp = parse_signed_checkpoint(f.published());
    REQUIRE(cp);
    CHECK(cp->body.size == 1);
    CHECK(cp->signed_note.signatures.size() == 5); // the log's and four cosignatures
    auto verifier = policy_verifier::make(*f.rules);
    REQUIRE(verifier);
    auto verdict = verifier->verify(f.published());
    REQUIRE(verdict);
    CHECK(verdict->quorum);

    // The tree grows: the next round asks each witness from the size it holds
    // (the slow one answered late, so it holds 1 too) with a consistency proof.
    f.append(9);
    f.run_for(1600ms); // the round starts at 2 s; the slow witness answers at 3 s
    s = f.status();
    REQUIRE(s.rounds == 2);
    CHECK(s.published_size == 10);
    CHECK(s.time_to_quorum_p95_us == 60000);
    for (const auto& w : s.witnesses)
        CHECK(w.failures == 0);
    CHECK(s.witnesses[4].known_size == 10); // its late answer still counts

    // A new collector knows no sizes: each witness answers 409 with its own and
    // is asked again from it; the quorum costs one more round trip.
    f.append(5);
    f.start_collector();
    f.run_for(1500ms);
    s = f.status();
    REQUIRE(s.rounds == 1);
    CHECK(s.published_size == 15);
    CHECK(s.quorum);
    CHECK(s.time_to_quorum_p50_us == 120000);
}

TEST_CASE("collector: without a quorum it publishes what it has and says so",
          "[actors][collector]") {
    fixture f({10ms, 20ms, 30ms}, 2);
    // Two of three witnesses gone: requests to them fail.
    caf::anon_send_exit(f.witnesses[1].link, caf::exit_reason::kill);
    caf::anon_send_exit(f.witnesses[2].link, caf::exit_reason::kill);
    f.run_for(4000ms);
    auto s = f.status();
    REQUIRE(s.rounds >= 1);
    CHECK_FALSE(s.quorum);
    CHECK(s.published_size == 1);
    CHECK(s.cosigners == std::vector<std::string>{"w0"});
    CHECK(s.quorum_rounds == 0);
    auto verifier = policy_verifier::make(*f.rules);
    auto verdict = verifier->verify(f.published());
    REQUIRE(verdict);
    CHECK_FALSE(verdict->quorum);
}

TEST_CASE("collector: witnessed requests start a round at once, pipelined beside one in flight, "
          "and their polls are answered at the quorum",
          "[actors][collector][witnessed]") {
    fixture f({10ms, 20ms, 30ms, 40ms, 500ms}, 3);
    f.run_for(1500ms); // round 1 (size 1) met its quorum at 1.06 s; the next tick is at 2 s
    REQUIRE(f.status().rounds == 1);

    // A poll a witnessed checkpoint covers already is answered at once.
    auto covered =
        f.call<std::string>(f.collector, atoms::poll_atom_v, std::uint64_t{1}, std::uint32_t{5000});
    REQUIRE(covered.done);
    REQUIRE(covered.value);
    CHECK(parse_signed_checkpoint(*covered.value)->body.size == 1);

    // Entries a client waits to see witnessed: a round for size 5 now, not at 2 s.
    f.append(4);
    auto first = f.send_request<std::string>(f.collector, atoms::poll_atom_v, std::uint64_t{5},
                                             std::uint32_t{5000});
    f.run_for(20ms);
    CHECK(!first->done);
    // More while that round waits for its quorum: a second round beside it,
    // each witness asked from the size the first leaves it (no 409 round trip).
    f.append(5);
    caf::anon_send(f.collector, atoms::poll_atom_v, std::uint64_t{10}); // what the ledger sends
    auto second = f.send_request<std::string>(f.collector, atoms::poll_atom_v, std::uint64_t{10},
                                              std::uint32_t{5000});
    f.run_for(35ms); // 55 ms after the first round started
    CHECK(!first->done);
    f.run_for(10ms); // its quorum at 60 ms, with the third fastest witness
    REQUIRE(first->done);
    REQUIRE(first->value);
    auto verifier = policy_verifier::make(*f.rules);
    REQUIRE(verifier);
    auto verdict = verifier->verify(*first->value);
    REQUIRE(verdict);
    CHECK(verdict->quorum);
    CHECK(verdict->checkpoint.body.size == 5);
    CHECK(!second->done);
    f.run_for(20ms); // the second round's quorum, 60 ms after it started at 20 ms
    REQUIRE(second->done);
    REQUIRE(second->value);
    verdict = verifier->verify(*second->value);
    REQUIRE(verdict);
    CHECK(verdict->quorum);
    CHECK(verdict->checkpoint.body.size == 10);

    f.run_for(1000ms); // the slow witness answers all three; nothing more was wanted
    auto s = f.status();
    CHECK(s.demand_rounds == 2);
    CHECK(s.rounds == 3);
    CHECK(s.published_size == 10);
    for (const auto& w : s.witnesses) {
        CHECK(w.failures == 0);
        CHECK(w.known_size == 10);
    }
}

TEST_CASE("collector: rounds on demand are spaced by a quarter of the time to quorum plus 2 ms, "
          "and the first after a quiet while starts at once",
          "[actors][collector][witnessed]") {
    // Three witnesses 1 ms away, 2 needed: the time to quorum is 2 ms, so
    // rounds on demand are at least 2.5 ms apart.
    fixture f({1ms, 1ms, 1ms}, 2);
    f.run_for(1500ms); // the first tick's round, which sets the time to quorum
    REQUIRE(f.status().rounds == 1);

    // After a quiet second, a witnessed request starts its round at once:
    // answered one time to quorum later.
    f.append(1);
    auto quick = f.send_request<std::string>(f.collector, atoms::poll_atom_v, f.appended,
                                             std::uint32_t{5000});
    f.run_for(2100us);
    REQUIRE(quick->done);
    REQUIRE(quick->value);
    CHECK(parse_signed_checkpoint(*quick->value)->body.size == f.appended);

    // A commit every half millisecond for 20 ms, each with a client waiting:
    // unspaced that is a round per commit (40, up to 4 in flight); spaced,
    // one round covers every commit of its 2.5 ms, so at most 16 rounds start
    // in the 30 ms until the last is witnessed even at the 2 ms floor.
    auto before = f.status().demand_rounds;
    for (int i = 0; i < 40; ++i) {
        f.append(1);
        caf::anon_send(f.collector, atoms::poll_atom_v, f.appended);
        f.run_for(500us);
    }
    auto last = f.send_request<std::string>(f.collector, atoms::poll_atom_v, f.appended,
                                            std::uint32_t{5000});
    f.run_for(10ms); // the spacing and one time to quorum after the last commit
    REQUIRE(last->done);
    REQUIRE(last->value);
    CHECK(parse_signed_checkpoint(*last->value)->body.size == f.appended);
    auto spaced = f.status().demand_rounds - before;
    CHECK(spaced >= 6);
    CHECK(spaced <= 16);
}

TEST_CASE("collector: a poll no round covers ends at its wait with what is witnessed, and "
          "polls beyond the bound are answered at once",
          "[actors][collector][witnessed]") {
    fixture f({10ms, 20ms, 30ms}, 2);
    // Right after start, before the first tick's round: the poll's demand
    // starts one, answered at its quorum (the second fastest, 40 ms).
    auto early = f.send_request<std::string>(f.collector, atoms::poll_atom_v, std::uint64_t{1},
                                             std::uint32_t{5000});
    f.run_for(39ms);
    CHECK(!early->done);
    f.run_for(2ms);
    REQUIRE(early->done);
    REQUIRE(early->value);
    CHECK(parse_signed_checkpoint(*early->value)->body.size == 1);

    f.run_for(1500ms);
    // A size the log never reaches: held for its wait, then the newest witnessed.
    auto beyond = f.send_request<std::string>(f.collector, atoms::poll_atom_v, std::uint64_t{99},
                                              std::uint32_t{300});
    f.run_for(299ms);
    CHECK(!beyond->done);
    f.run_for(2ms);
    REQUIRE(beyond->done);
    REQUIRE(beyond->value);
    CHECK(parse_signed_checkpoint(*beyond->value)->body.size == 1);

    // At most max_awaiting held: the next is answered at once.
    std::vector<std::shared_ptr<test::reply<std::string>>> held;
    for (std::size_t i = 0; i < actors::collector_config{}.max_awaiting; ++i)
        held.push_back(f.send_request<std::string>(f.collector, atoms::poll_atom_v,
                                                   std::uint64_t{99}, std::uint32_t{60000}));
    f.sched->run();
    auto one_more = f.call<std::string>(f.collector, atoms::poll_atom_v, std::uint64_t{99},
                                        std::uint32_t{60000});
    CHECK(one_more.done);
    CHECK(one_more.value);
    for (const auto& h : held)
        CHECK(!h->done);
    // A held poll lasts at most 10 s, whatever it asked for.
    f.run_for(10001ms);
    for (const auto& h : held)
        CHECK(h->done);
}

TEST_CASE("collector: an outside witness gets one request at a time, waits out its Retry-After, "
          "and is asked for the newest round once it answers",
          "[actors][collector][outside]") {
    // w0 in the network (20 ms round trip), w1 outside (300 ms); both needed.
    // w1 answers its first request 429 with Retry-After 2 s.
    fixture f({10ms, 150ms}, 2, {1}, 1);
    f.run_for(1500ms);
    auto s = f.status();
    REQUIRE(s.witnesses.size() == 2);
    CHECK(s.witnesses[1].url == "https://w1");
    CHECK(s.witnesses[1].throttled == 1);
    CHECK(s.witnesses[1].last_error.find("429") != std::string::npos);
    CHECK_FALSE(s.quorum);
    // Rounds at 1 s went on without it: it is not asked before 2 s.
    CHECK(*f.outside_seen == 1);
    f.run_for(1600ms); // asked at the tick after 2 s, it cosigns 300 ms later
    s = f.status();
    CHECK(*f.outside_seen == 2);
    CHECK(s.quorum);
    CHECK(s.witnesses[1].known_size == 1);
    CHECK(s.witnesses[1].last_cosignature_time > 0);
    CHECK(s.witnesses[1].last_error.empty());

    // A witnessed request while it is busy with a round: the round on demand
    // goes to w0 at once and to w1 the moment it answers, not at the next tick.
    f.append(2);
    caf::anon_send(f.collector, atoms::poll_atom_v, std::uint64_t{3});
    f.run_for(5ms);
    auto before = *f.outside_seen;
    f.append(2);
    auto waiter = f.send_request<std::string>(f.collector, atoms::poll_atom_v, std::uint64_t{5},
                                              std::uint32_t{5000});
    f.run_for(100ms);
    CHECK(*f.outside_seen == before); // one at a time: still busy with size 3
    f.run_for(550ms);                 // 300 ms for size 3, then 300 ms for size 5
    REQUIRE(waiter->done);
    REQUIRE(waiter->value);
    CHECK(parse_signed_checkpoint(*waiter->value)->body.size == 5);
    CHECK(*f.outside_seen == before + 1);
    CHECK(f.status().witnesses[1].failures == 1); // only the 429
}

} // namespace civic_collector_test
