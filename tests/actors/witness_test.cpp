// The witness actor on the deterministic scheduler with a real LMDB store:
// requests that arrive while a commit is in flight are decided in order against
// the state the ones before them leave, and nothing is answered before it is
// durable.
#include "actors/system.hpp"
#include "actors/witness.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/merkle.hpp"
#include "support.hpp"
#include "virtual_system.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <catch2/catch.hpp>

#include <cerrno>
#include <variant>

using namespace civic;
using namespace std::chrono_literals;

namespace civic_witness_test {

const std::string origin = "witness.test/log";

struct fixture : test::virtual_system {
    test::temp_dir dir{"witness-actor"};
    note::ed25519_signer log = test::log_signer(origin);
    std::vector<hash> leaves = test::make_leaves(64);
    std::shared_ptr<storage::witness_store> store;
    actors::witness_writer_actor writer;
    actors::witness_actor witness;
    std::vector<std::string> read_only_reports; // what it reported, in order
    std::uint32_t qpd = 0;                      // the log's requests a day (0: unlimited)

    fixture() { start(); }
    explicit fixture(std::uint32_t log_qpd) : qpd(log_qpd) { start(); }
    ~fixture() { stop(); }
    void start() {
        boot();
        store = std::shared_ptr<storage::witness_store>(
            std::move(*storage::witness_store::open(dir.path.string())));
        writer = sys->spawn(actors::witness_writer, store);
        actors::witness_config config;
        config.key = std::make_shared<const note::cosigner>(test::witness("w"));
        auto logs = std::make_shared<witness::trusted_logs>();
        REQUIRE(logs->add(log.verifier_key(), origin, qpd));
        config.logs = logs;
        config.unix_offset = 1795000000000ms;
        config.read_only.on_change = [this](const std::string& why) {
            read_only_reports.push_back(why);
        };
        witness = sys->spawn(actors::witness, config, std::move(*store->states()),
                             store->evidence_count(), writer);
        sched->run();
    }
    void stop() {
        if (!sys) return;
        caf::anon_send_exit(witness, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
        sched->run();
        witness = nullptr;
        writer = nullptr;
        shut_down();
        store.reset();
    }

    actors::cosign_request request(std::uint64_t old_size, std::uint64_t size) const {
        checkpoint cp{origin, size, test::reference_root(leaves, 0, size), {}};
        actors::cosign_request r{old_size, {}, note::serialize({cp.text(), {log.sign(cp.text())}})};
        std::vector<hash> proof;
        if (old_size > 0 && old_size < size)
            test::reference_subproof(leaves, old_size, 0, size, true, proof);
        for (const auto& h : proof)
            r.proof.insert(r.proof.end(), h.begin(), h.end());
        return r;
    }

    /// Sends every request before any is processed; returns the answers in order.
    std::vector<actors::cosign_answer> send_all(const std::vector<actors::cosign_request>& rs) {
        auto out = std::make_shared<std::vector<actors::cosign_answer>>(rs.size());
        for (std::size_t i = 0; i < rs.size(); ++i)
            sys->spawn([out, i, r = rs[i], target = witness](caf::event_based_actor* self) {
                self->request(target, 10s, atoms::add_atom_v, r)
                    .then([out, i](const actors::cosign_answer& a) { (*out)[i] = a; },
                          [out, i](caf::error&) { (*out)[i].status = 1; });
            });
        sched->run();
        return *out;
    }
};

TEST_CASE("witness actor: requests queued behind a commit are decided in order, as one round",
          "[actors][witness]") {
    fixture f;
    // The first request starts a commit; the rest arrive meanwhile and wait.
    // Four of them race from size 0, three from size 5.
    auto answers =
        f.send_all({f.request(0, 5), f.request(0, 7), f.request(0, 9), f.request(5, 8),
                    f.request(5, 12), f.request(0, 3), f.request(8, 20), f.request(5, 6)});
    std::vector<std::uint16_t> statuses;
    for (const auto& a : answers)
        statuses.push_back(a.status);
    // 0->5 wins; every other request from 0 and from 5 but the first after it
    // (5->8) is told the size of the moment; 8->20 extends the chain.
    CHECK(statuses == std::vector<std::uint16_t>{200, 409, 409, 200, 409, 409, 200, 409});
    CHECK(answers[1].body == "5\n");
    CHECK(answers[4].body == "8\n");
    CHECK(answers[5].body == "8\n");
    CHECK(answers[7].body == "20\n");
    auto states = f.store->states();
    REQUIRE(states);
    CHECK(states->at(origin).size == 20);
}

TEST_CASE("witness actor: state survives a restart, a fork is refused, its evidence kept, and "
          "the witness stops cosigning that log, durably",
          "[actors][witness]") {
    fixture f;
    REQUIRE(f.send_all({f.request(0, 10)})[0].status == 200);
    f.stop();
    f.start();
    // After the restart: the same size with another root is a fork.
    auto forked = f.request(10, 10);
    checkpoint cp{origin, 10, sha256(byte_view(std::string("other"))), {}};
    forked.checkpoint = note::serialize({cp.text(), {f.log.sign(cp.text())}});
    auto answers = f.send_all({f.request(0, 4), forked, f.request(10, 16)});
    CHECK(answers[0].status == 409);
    CHECK(answers[0].body == "10\n");
    CHECK(answers[1].status == 409);
    CHECK_FALSE(answers[1].size_body);
    // The fork it caught itself halts the log: even a proper extension is refused.
    CHECK(answers[2].status == 409);
    CHECK_FALSE(answers[2].size_body);
    CHECK(answers[2].body.find("stopped cosigning") != std::string::npos);
    CHECK(answers[2].body.find("split view (fork) caught by this witness") != std::string::npos);
    CHECK(f.store->evidence_count() == 1);
    auto evidence = f.store->evidence(0, 10);
    REQUIRE(evidence);
    REQUIRE(evidence->size() == 1);
    CHECK((*evidence)[0].kind == "fork");
    CHECK((*evidence)[0].theirs == forked.checkpoint);
    CHECK((*evidence)[0].ours == f.request(0, 10).checkpoint);
    // The halt is durable: after a restart it still refuses.
    f.stop();
    f.start();
    auto after = f.send_all({f.request(10, 20)});
    CHECK(after[0].status == 409);
    CHECK(after[0].body.find("stopped cosigning") != std::string::npos);
}

TEST_CASE("witness actor: a full disk is a 503 for what it would cosign, never a restart, and a "
          "halt that could not persist is kept and made durable once there is room",
          "[actors][witness][no-space]") {
    fixture f;
    REQUIRE(f.send_all({f.request(0, 10)})[0].status == 200);
    f.store->test_fail_writes = ENOSPC;
    auto full = f.send_all({f.request(10, 16), f.request(0, 3)});
    CHECK(full[0].status == 503);
    CHECK(full[0].body.find("no space left on the device of") != std::string::npos);
    CHECK(full[1].status == 409); // a refusal needs no commit
    CHECK(f.store->states()->at(origin).size == 10);
    // Read-only from that round on: reported once (after the empty one of its start).
    REQUIRE(f.read_only_reports.size() == 2);
    CHECK(f.read_only_reports[0].empty());
    CHECK(f.read_only_reports[1].find("no space left on the device of") != std::string::npos);

    // A halt (from gossip) while the disk is full: not durable, but not lost either.
    caf::anon_send(f.witness, atoms::halt_atom_v, origin, std::string("split view from gossip"));
    f.sched->run();
    CHECK(f.store->states()->at(origin).halted.empty());
    auto halted = f.send_all({f.request(10, 16)});
    CHECK(halted[0].status == 409); // decided as halted, even before the halt is durable
    CHECK(halted[0].body.find("split view from gossip") != std::string::npos);

    // Room again: the halt's own timer makes it durable, with no request to carry it.
    CHECK(f.read_only_reports.size() == 2); // still read-only: not reported again
    f.store->test_fail_writes = 0;
    f.run_for(1000ms);
    CHECK(f.store->states()->at(origin).halted == "split view from gossip");
    REQUIRE(f.read_only_reports.size() == 3); // writable again, with the halt's commit
    CHECK(f.read_only_reports[2].empty());
    f.stop();
    f.start();
    CHECK(f.send_all({f.request(10, 16)})[0].status == 409);
}

TEST_CASE("witness actor: after a full disk it cosigns again by itself",
          "[actors][witness][no-space]") {
    fixture f;
    REQUIRE(f.send_all({f.request(0, 10)})[0].status == 200);
    f.store->test_fail_writes = ENOSPC;
    CHECK(f.send_all({f.request(10, 16)})[0].status == 503);
    f.store->test_fail_writes = 0;
    CHECK(f.send_all({f.request(10, 16)})[0].status == 200);
    CHECK(f.store->states()->at(origin).size == 16);
}

/// The monitoring answer for `log_origin`: the note, or the error's code.
std::variant<std::string, std::uint8_t> monitored(fixture& f, const std::string& log_origin) {
    auto hash = hex_encode(sha256(byte_view(std::string_view(log_origin))));
    auto r = f.send_request<std::string>(f.witness, atoms::checkpt_atom_v, hash);
    f.sched->run();
    REQUIRE(r->done);
    if (r->value) return *r->value;
    return test::code_of(r->error);
}

TEST_CASE("witness actor: a log with a qpd is answered 429 beyond its allowance with when to "
          "ask again and forgeries do not spend it",
          "[actors][witness][qpd]") {
    fixture f(48); // 2 a hour: a burst of 2 (witness::request_burst), then one every 1,800 s
    CHECK(witness::request_burst(48) == 2);
    REQUIRE(f.send_all({f.request(0, 4)})[0].status == 200);
    // A forged checkpoint (not the log's key) is refused and spends nothing.
    auto forged = f.request(4, 6);
    checkpoint cp{origin, 6, test::reference_root(f.leaves, 0, 6), {}};
    auto stranger = note::ed25519_signer(origin, test::key_for("not the log"));
    forged.checkpoint = note::serialize({cp.text(), {stranger.sign(cp.text())}});
    CHECK(f.send_all({forged})[0].status == 403);
    REQUIRE(f.send_all({f.request(4, 6)})[0].status == 200);
    auto limited = f.send_all({f.request(6, 8)})[0];
    CHECK(limited.status == 429);
    CHECK(limited.retry_after_s == 1800);
    CHECK(limited.body.find("48 add-checkpoint requests a day") != std::string::npos);
    CHECK(f.store->states()->at(origin).size == 6); // nothing of it was kept
    // Half the time: still not; then the allowance has one again.
    f.sched->advance_time(900s);
    auto still = f.send_all({f.request(6, 8)})[0];
    CHECK(still.status == 429);
    CHECK(still.retry_after_s == 900);
    f.sched->advance_time(900s);
    CHECK(f.send_all({f.request(6, 8)})[0].status == 200);
    CHECK(f.send_all({f.request(8, 9)})[0].status == 429);
    // A day later it has its burst back, not a day's worth.
    f.sched->advance_time(24h);
    auto day = f.send_all({f.request(8, 9), f.request(9, 10), f.request(10, 11)});
    CHECK(day[0].status == 200);
    CHECK(day[1].status == 200);
    CHECK(day[2].status == 429);
}

TEST_CASE("witness actor: the network's own log (no qpd) is never rate limited",
          "[actors][witness][qpd]") {
    fixture f;
    for (std::uint64_t size = 1; size < f.leaves.size(); ++size)
        REQUIRE(f.send_all({f.request(size - 1, size)})[0].status == 200);
}

TEST_CASE("witness actor: the monitoring answer is the latest cosigned checkpoint with the log's "
          "signature and the witness's cosignature even after a restart",
          "[actors][witness][monitoring]") {
    fixture f;
    auto none = monitored(f, origin);
    REQUIRE(std::holds_alternative<std::uint8_t>(none));
    CHECK(std::get<std::uint8_t>(none) == static_cast<std::uint8_t>(actors::errc::no_checkpoint));
    REQUIRE(f.send_all({f.request(0, 7)})[0].status == 200);
    REQUIRE(f.send_all({f.request(7, 9)})[0].status == 200);
    for (int restarted = 0; restarted < 2; ++restarted) {
        auto served = monitored(f, origin);
        REQUIRE(std::holds_alternative<std::string>(served));
        auto text = std::get<std::string>(served);
        auto log_verifier =
            note::ed25519_verifier(origin, test::public_key_of(f.log.verifier_key()));
        auto w = test::witness("w");
        auto witness_verifier = note::make_verifier(w.verifier_key());
        REQUIRE(witness_verifier);
        auto parsed = note::parse(text);
        REQUIRE(parsed);
        auto opened = note::open(*parsed, {&log_verifier, witness_verifier->get()});
        REQUIRE(opened);
        CHECK(opened->signed_by.size() == 2);
        auto cp = parse_checkpoint(opened->content.text);
        REQUIRE(cp);
        CHECK(cp->size == 9);
        f.stop();
        f.start();
    }
    // An unknown hash, and a malformed one, are never cosigned logs.
    auto other = monitored(f, "another.test/log");
    CHECK(std::holds_alternative<std::uint8_t>(other));
}

TEST_CASE("witness actor: a new list of logs replaces the old one at once",
          "[actors][witness][logs]") {
    fixture f;
    REQUIRE(f.send_all({f.request(0, 5)})[0].status == 200);
    auto other = test::log_signer("other.test/log");
    auto next = std::make_shared<witness::trusted_logs>();
    REQUIRE(next->add(other.verifier_key(), "other.test/log", 100));
    caf::anon_send(f.witness, atoms::logs_atom_v, actors::trusted_logs_ptr(next));
    f.sched->run();
    CHECK(f.send_all({f.request(5, 6)})[0].status == 404); // no longer trusted
    // What it cosigned before stays served.
    CHECK(std::holds_alternative<std::string>(monitored(f, origin)));
    checkpoint cp{"other.test/log", 3, test::reference_root(f.leaves, 0, 3), {}};
    actors::cosign_request r{0, {}, note::serialize({cp.text(), {other.sign(cp.text())}})};
    CHECK(f.send_all({r})[0].status == 200);
    auto s = f.send_request<actors::witness_status>(f.witness, atoms::status_atom_v);
    f.sched->run();
    REQUIRE(s->value);
    CHECK(s->value->trusted_logs == 1);
}

} // namespace civic_witness_test
