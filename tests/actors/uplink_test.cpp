// The uplink on the deterministic scheduler, against stand-ins for the
// candidates' gateways behind a fake middleman: whom it joins, how it backs
// off and reconnects, and how the requests it forwards to the leader end,
// every one of them, answered or failed, never hanging.
#include "actors/errors.hpp"
#include "actors/uplink.hpp"
#include "fake_network.hpp"
#include "protocol/sha256.hpp"
#include "virtual_system.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>

using namespace civic;
using namespace std::chrono_literals;

namespace civic_uplink_test {

/// A node's gateway, as far as the uplink uses it: its status, the joins and
/// forwarded signs it got, and how it answers them.
struct gateway_script {
    actors::node_status status;
    caf::error join_refusal;        // when set, joins fail with it
    std::vector<caf::actor> joined; // the replicas that joined
    std::vector<actors::forwarded_sign> signs;
    caf::error sign_error; // when set, signs fail with it
    bool hang_signs = false;
    std::vector<caf::typed_response_promise<actors::append_receipt>> waiting; // while hanging
};

caf::behavior fake_gateway(caf::event_based_actor* self, std::shared_ptr<gateway_script> g) {
    return {
        [g](atoms::status_atom) { return g->status; },
        [g](atoms::join_atom, caf::actor& replica) -> caf::result<std::uint64_t> {
            if (g->join_refusal) return g->join_refusal;
            g->joined.push_back(replica);
            return g->status.size;
        },
        [self, g](atoms::sign_atom, actors::forwarded_sign& fs) {
            g->signs.push_back(fs);
            auto promise = self->make_response_promise<actors::append_receipt>();
            if (g->hang_signs)
                g->waiting.push_back(promise);
            else if (g->sign_error)
                promise.deliver(g->sign_error);
            else
                promise.deliver(
                    actors::append_receipt{g->signs.size() - 1, "a checkpoint", {}, {}});
            return promise;
        },
        // Answers the signs it kept waiting (from inside the actor, as a promise must be).
        [g](atoms::flush_atom, std::uint64_t index) {
            auto waiting = std::move(g->waiting);
            g->waiting.clear();
            for (auto& p : waiting)
                p.deliver(actors::append_receipt{index, "late", {}, {}});
        },
        [g](atoms::fetch_atom, std::uint64_t first, std::uint64_t count) {
            actors::replicated_batch b;
            b.first_index = first;
            for (std::uint64_t i = 0; i < count; ++i)
                b.entries.push_back(bytes{static_cast<std::uint8_t>(first + i)});
            return b;
        },
    };
}

std::uint8_t code(actors::errc e) { return static_cast<std::uint8_t>(e); }

struct fixture : test::virtual_system {
    std::shared_ptr<test::fake_network> net = std::make_shared<test::fake_network>();
    caf::actor middleman, replica; // the replica: only its handle travels
    std::vector<caf::actor> gateways;
    actors::uplink_config config;
    actors::uplink_actor uplink;

    fixture() {
        boot();
        middleman = sys->spawn(test::fake_middleman, net);
        replica = sys->spawn([]() -> caf::behavior { return {[](atoms::ping_atom) {}}; });
        config.connect_timeout = 500ms;
        config.backoff_initial = 100ms;
        config.backoff_max = 800ms;
        config.poll_interval = 1s;
        config.forward_timeout = 1s;
    }
    ~fixture() {
        net->pending.clear();
        for (auto& a : gateways)
            caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
        for (const auto& a : {caf::actor_cast<caf::actor>(uplink), middleman, replica})
            caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
        sched->run();
        net->published.clear();
        gateways.clear();
        uplink = nullptr;
        middleman = replica = nullptr;
        drain(); // clients whose request a failed check left waiting
        shut_down();
    }
    /// A node's gateway on `port` (a candidate unless told otherwise).
    std::shared_ptr<gateway_script> add_node(std::uint16_t port, const std::string& name,
                                             bool leading, std::uint64_t epoch, std::uint64_t size,
                                             bool candidate = true) {
        auto g = std::make_shared<gateway_script>();
        g->status = {name, leading, epoch, size};
        gateways.push_back(sys->spawn(fake_gateway, g));
        net->published[port] = gateways.back();
        if (candidate) config.candidates.emplace_back("127.0.0.1", port);
        return g;
    }
    void start() {
        uplink =
            sys->spawn(actors::uplink, config, caf::actor_cast<caf::io::middleman_actor>(middleman),
                       caf::actor_cast<actors::replica_actor>(replica));
        sched->run();
    }
    actors::link_status status() {
        auto r = call<actors::link_status>(uplink, atoms::status_atom_v);
        REQUIRE(r.value);
        return *r.value;
    }
    /// A sign request as this node's HTTP side forwards it; the reply fills in.
    std::shared_ptr<test::reply<actors::append_receipt>> sign(const std::string& text) {
        auto content = sha256(byte_view(text));
        actors::forwarded_sign fs{bytes(32, 0xab),
                                  {"town/clerk", bytes(content.begin(), content.end()), {}}};
        return send_request<actors::append_receipt>(uplink, atoms::sign_atom_v, fs);
    }
};

TEST_CASE("uplink: joins the candidate that leads under the newest epoch, passing over replicas "
          "and deposed leaders, and polls the leader's size",
          "[actors][uplink]") {
    fixture f;
    f.config.epoch = 2;
    auto other_replica = f.add_node(1001, "r2", false, 2, 10);
    auto deposed = f.add_node(1002, "old-leader", true, 1, 12); // leads under an older epoch
    auto leader = f.add_node(1003, "leader", true, 2, 11);
    f.start();
    auto s = f.status();
    CHECK(s.joined);
    CHECK(s.leader == "leader");
    CHECK(s.leader_size == 11);
    CHECK(s.last_failure.empty());
    CHECK(other_replica->joined.empty());
    CHECK(deposed->joined.empty());
    REQUIRE(leader->joined.size() == 1);
    CHECK(leader->joined[0] == f.replica);
    // Each candidate was asked once; nothing more once joined.
    CHECK(f.net->attempts.size() == 3);

    // The leader's size, polled every poll interval.
    leader->status.size = 40;
    f.run_for(999ms);
    CHECK(f.status().leader_size == 11);
    f.run_for(1ms);
    s = f.status();
    CHECK(s.leader_size == 40);
    CHECK(s.polled_ms_ago == 0);
    f.run_for(300ms);
    CHECK(f.status().polled_ms_ago == 300);
    CHECK(f.net->attempts.size() == 3);
}

TEST_CASE("uplink: while no candidate leads it tries each in turn, then backs off exponentially "
          "with jitter up to its cap, says where and why the last attempt failed, and joins a "
          "leader that appears",
          "[actors][uplink]") {
    fixture f;
    f.config.candidates = {{"127.0.0.1", 1001}, {"127.0.0.1", 1002}}; // nobody listens
    f.start();
    f.run_for(10s);
    // One round tries both candidates at one moment, in order.
    const auto& attempts = f.net->attempts;
    REQUIRE(attempts.size() % 2 == 0);
    std::vector<caf::actor_clock::time_point> rounds;
    for (std::size_t i = 0; i < attempts.size(); i += 2) {
        CHECK(attempts[i].port == 1001);
        CHECK(attempts[i + 1].port == 1002);
        CHECK(attempts[i].at == attempts[i + 1].at);
        rounds.push_back(attempts[i].at);
    }
    // The k-th wait is 100 ms * 2^(k-1), capped at 800 ms, times a factor in
    // [0.5, 1.5), and never above the cap.
    REQUIRE(rounds.size() >= 10);
    for (std::size_t k = 1; k < rounds.size(); ++k) {
        auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(rounds[k] - rounds[k - 1]);
        auto base = std::min<std::int64_t>(100 << std::min<std::size_t>(k - 1, 20), 800);
        INFO("wait " << k << ": " << gap.count() << " ms");
        CHECK(gap.count() >= base / 2);
        CHECK(gap.count() <= std::min<std::int64_t>(base * 3 / 2, 800));
    }
    auto s = f.status();
    CHECK_FALSE(s.joined);
    CHECK_THAT(s.last_failure, Catch::StartsWith("127.0.0.1:1002: connect: "));

    // A leader comes up on the second candidate's port: joined at the next try.
    auto leader = f.add_node(1002, "leader", true, 0, 5, /*candidate=*/false);
    f.run_for(800ms);
    s = f.status();
    CHECK(s.joined);
    CHECK(s.leader == "leader");
    REQUIRE(leader->joined.size() == 1);
    auto tried = attempts.size();
    f.run_for(5s);
    CHECK(attempts.size() == tried); // joined: no more attempts
}

TEST_CASE("uplink: an attempt that never ends is given up at the connect timeout for the next "
          "candidate, and a refused join is retried after the backoff",
          "[actors][uplink]") {
    fixture f;
    f.net->hung.insert(1001);
    f.config.candidates.emplace_back("127.0.0.1", 1001);
    auto leader = f.add_node(1002, "leader", true, 0, 5);
    leader->join_refusal = actors::make_error(actors::errc::overloaded, "not now");
    f.start();
    f.run_for(499ms);
    CHECK(f.net->attempts_at(1002) == 0);
    f.run_for(1ms);
    CHECK(f.net->attempts_at(1002) == 1);
    auto s = f.status();
    CHECK_FALSE(s.joined);
    CHECK_THAT(s.last_failure, Catch::StartsWith("127.0.0.1:1002: join: "));
    CHECK_THAT(s.last_failure, Catch::Contains("not now"));

    // The next round, after the backoff: the hung candidate first again, then the leader.
    leader->join_refusal = {};
    f.run_for(150ms); // the first wait is at most 1.5 * 100 ms
    REQUIRE(f.net->attempts_at(1001) == 2);
    CHECK_FALSE(f.status().joined);
    f.run_for(500ms);
    s = f.status();
    CHECK(s.joined);
    CHECK(leader->joined.size() == 1);
}

TEST_CASE("uplink: forwards signs to the leader and relays its answers, and refuses at once while "
          "not joined or with too many waiting",
          "[actors][uplink]") {
    fixture f;
    f.config.candidates.emplace_back("127.0.0.1", 1001);
    f.config.max_forwards = 2;
    f.start();
    REQUIRE_FALSE(f.status().joined);
    auto early = f.sign("before the leader");
    f.sched->run();
    REQUIRE(early->done);
    CHECK(test::code_of(early->error) == code(actors::errc::unavailable));

    auto leader = f.add_node(1001, "leader", true, 0, 5, /*candidate=*/false);
    f.run_for(150ms);
    REQUIRE(f.status().joined);
    auto signed_ = f.sign("the minutes");
    f.sched->run();
    REQUIRE(signed_->value);
    CHECK(signed_->value->checkpoint == "a checkpoint");
    REQUIRE(leader->signs.size() == 1);
    CHECK(leader->signs[0].token_sha256 == bytes(32, 0xab));
    CHECK(leader->signs[0].request.identity == "town/clerk");
    auto content = sha256(byte_view(std::string_view("the minutes")));
    CHECK(leader->signs[0].request.content_sha256 == bytes(content.begin(), content.end()));

    // The leader's refusal reaches the client as it was.
    leader->sign_error = actors::make_error(actors::errc::forbidden, "not this identity");
    auto refused = f.sign("refused");
    f.sched->run();
    REQUIRE(refused->done);
    CHECK(test::code_of(refused->error) == code(actors::errc::forbidden));
    CHECK_THAT(actors::message_of(refused->error), Catch::Contains("not this identity"));

    // With max_forwards waiting for the leader, the next is refused at once.
    leader->sign_error = {};
    leader->hang_signs = true;
    auto first = f.sign("one"), second = f.sign("two"), third = f.sign("three");
    f.sched->run();
    CHECK_FALSE(first->done);
    CHECK_FALSE(second->done);
    REQUIRE(third->done);
    CHECK(test::code_of(third->error) == code(actors::errc::overloaded));
    CHECK(leader->signs.size() == 4); // the third never left
    // Their answers come: relayed, and room again.
    caf::anon_send(f.net->published[1001], atoms::flush_atom_v, std::uint64_t{7});
    f.sched->run();
    REQUIRE(first->value);
    REQUIRE(second->value);
    CHECK(first->value->index == 7);
    leader->hang_signs = false;
    auto after = f.sign("after");
    f.sched->run();
    CHECK(after->value);
}

TEST_CASE("uplink: a forward the leader does not answer fails with unavailable at its own "
          "deadline, and a late answer changes nothing",
          "[actors][uplink]") {
    fixture f;
    auto leader = f.add_node(1001, "leader", true, 0, 5);
    f.start();
    REQUIRE(f.status().joined);
    leader->hang_signs = true;
    auto first = f.sign("first");
    f.sched->run(); // forwarded at 0 ms: due at 1000 ms
    f.run_for(500ms);
    auto second = f.sign("second");
    f.sched->run(); // forwarded at 500 ms: due at 1500 ms
    f.run_for(499ms);
    CHECK_FALSE(first->done);
    f.run_for(1ms);
    REQUIRE(first->done);
    CHECK(test::code_of(first->error) == code(actors::errc::unavailable));
    CHECK_THAT(actors::message_of(first->error), Catch::Contains("did not answer in time"));
    CHECK_FALSE(second->done); // its deadline is its own
    f.run_for(499ms);
    CHECK_FALSE(second->done);
    f.run_for(1ms);
    REQUIRE(second->done);
    CHECK(test::code_of(second->error) == code(actors::errc::unavailable));
    // The leader answers after all: too late, and nothing breaks.
    caf::anon_send(f.net->published[1001], atoms::flush_atom_v, std::uint64_t{1});
    f.sched->run();
    CHECK_FALSE(first->value);
    CHECK(f.status().joined);
    leader->hang_signs = false;
    auto third = f.sign("third");
    f.sched->run();
    CHECK(third->value);
}

TEST_CASE("uplink: when the leader goes down, the forwards waiting for it fail at once, and it "
          "joins the leader again after a first short backoff",
          "[actors][uplink]") {
    fixture f;
    auto leader = f.add_node(1001, "leader", true, 0, 5);
    f.start();
    REQUIRE(f.status().joined);
    leader->hang_signs = true;
    auto a = f.sign("a"), b = f.sign("b");
    f.sched->run();
    REQUIRE(leader->signs.size() == 2);
    caf::anon_send_exit(f.net->published[1001], caf::exit_reason::kill);
    f.sched->run(); // no time passes
    for (const auto& r : {a, b}) {
        REQUIRE(r->done);
        CHECK(test::code_of(r->error) == code(actors::errc::unavailable));
        CHECK_THAT(actors::message_of(r->error), Catch::Contains("lost the connection"));
    }
    CHECK_FALSE(f.status().joined);
    auto during = f.sign("while down");
    f.sched->run();
    REQUIRE(during->done);
    CHECK(test::code_of(during->error) == code(actors::errc::unavailable));

    // The leader restarts on its port. The join had reset the backoff: the
    // first wait, at most 150 ms, and not less than 50.
    auto tried = f.net->attempts.size();
    auto restarted = f.add_node(1001, "leader", true, 0, 6, /*candidate=*/false);
    f.run_for(49ms);
    CHECK(f.net->attempts.size() == tried);
    f.run_for(101ms);
    auto s = f.status();
    CHECK(s.joined);
    CHECK(s.leader_size == 6);
    CHECK(restarted->joined.size() == 1);
    auto again = f.sign("again");
    f.sched->run();
    CHECK(again->value);
    CHECK(restarted->signs.size() == 1);
}

TEST_CASE("uplink: a fetch goes to the leader's gateway while joined, and is refused at once "
          "while not",
          "[actors][uplink]") {
    fixture f;
    f.config.candidates.emplace_back("127.0.0.1", 1001);
    f.start();
    auto refused = f.call<actors::replicated_batch>(f.uplink, atoms::fetch_atom_v, std::uint64_t{3},
                                                    std::uint64_t{2});
    REQUIRE(refused.done);
    CHECK(test::code_of(refused.error) == code(actors::errc::unavailable));
    f.add_node(1001, "leader", true, 0, 5, /*candidate=*/false);
    f.run_for(150ms);
    REQUIRE(f.status().joined);
    auto fetched = f.call<actors::replicated_batch>(f.uplink, atoms::fetch_atom_v, std::uint64_t{3},
                                                    std::uint64_t{2});
    REQUIRE(fetched.value);
    CHECK(fetched.value->first_index == 3);
    CHECK(fetched.value->entries == std::vector<bytes>{bytes{3}, bytes{4}});
}

} // namespace civic_uplink_test
