// The deterministic actor system works from a plain Catch2 test: the scheduler is
// driven directly (CAF's own expect/inject macros need CAF's test runner).
#include "actors/actors.hpp"
#include "actors/system.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <catch2/catch.hpp>

using namespace civic;
using namespace std::chrono_literals;

namespace {

caf::behavior echo(caf::event_based_actor*) {
    return {[](atoms::ping_atom) { return atoms::pong_atom_v; }};
}

struct prober_state {
    int pongs = 0;
    int timeouts = 0;
};

// Pings `target` every second of (virtual) time, each request with a finite timeout.
caf::behavior prober(caf::stateful_actor<prober_state>* self, caf::actor target) {
    self->delayed_send(self, 1s, caf::tick_atom::value);
    return {[self, target](caf::tick_atom) {
        self->request(target, 500ms, atoms::ping_atom_v)
            .then([self](atoms::pong_atom) { ++self->state.pongs; },
                  [self](caf::error&) { ++self->state.timeouts; });
        self->delayed_send(self, 1s, caf::tick_atom::value);
    }};
}

} // namespace

TEST_CASE("a deterministic actor system runs on virtual time", "[actors]") {
    actors::system_config cfg({/*deterministic=*/true});
    caf::actor_system sys(cfg);
    auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
    auto start = sched.clock().now();

    auto target = sys.spawn(echo);
    auto probe = sys.spawn(prober, target);
    sched.run();
    for (int i = 0; i < 5; ++i) {
        sched.advance_time(1s);
        sched.run();
    }
    CHECK(sched.clock().now() - start == std::chrono::seconds(5));

    // Single-threaded scheduler: the state can be read directly between runs.
    auto& state = dynamic_cast<caf::stateful_actor<prober_state>&>(
                      *caf::actor_cast<caf::abstract_actor*>(probe))
                      .state;
    CHECK(state.pongs == 5);
    CHECK(state.timeouts == 0);

    // Kill the target: the next probes time out on virtual time instead of hanging.
    anon_send_exit(target, caf::exit_reason::kill);
    sched.run();
    for (int i = 0; i < 3; ++i) {
        sched.advance_time(1s);
        sched.run();
    }
    CHECK(state.pongs == 5);
    CHECK(state.timeouts == 3);
    anon_send_exit(probe, caf::exit_reason::user_shutdown);
    sched.run();
}

TEST_CASE("requests to a dead actor fail instead of hanging", "[actors]") {
    actors::system_config cfg({/*deterministic=*/true});
    caf::actor_system sys(cfg);
    auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
    auto target = sys.spawn(echo);
    int pongs = 0, errors = 0;
    auto client = sys.spawn([&](caf::event_based_actor* self) {
        self->request(target, 1s, atoms::ping_atom_v)
            .then([&](atoms::pong_atom) { ++pongs; }, [&](caf::error&) { ++errors; });
    });
    sched.run();
    CHECK(pongs == 1);
    anon_send_exit(target, caf::exit_reason::kill);
    sched.run();
    auto client2 = sys.spawn([&](caf::event_based_actor* self) {
        self->request(target, 1s, atoms::ping_atom_v)
            .then([&](atoms::pong_atom) { ++pongs; }, [&](caf::error&) { ++errors; });
    });
    sched.run();
    sched.advance_time(2s);
    sched.run();
    CHECK(pongs == 1);
    CHECK(errors == 1);
}
