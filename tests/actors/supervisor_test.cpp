// The supervisor on the deterministic scheduler: restarts, re-resolution by
// name, the restart intensity limit, and escalation.
#include "actors/errors.hpp"
#include "actors/supervisor.hpp"
#include "actors/system.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <catch2/catch.hpp>

#include <map>

using namespace civic;
using namespace std::chrono_literals;

namespace civic_supervisor_test {

struct fixture {
    actors::system_config cfg{actors::system_options{true}};
    caf::actor_system sys{cfg};
    caf::scheduler::test_coordinator& sched =
        dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
    int starts = 0; // how often the fragile child was started

    /// A child that crashes when pinged, and answers `pong` otherwise.
    actors::child_spec fragile() {
        return {"fragile", [this](caf::actor_system& s) {
                    ++starts;
                    return s.spawn([](caf::event_based_actor* self) -> caf::behavior {
                        return {[self](atoms::ping_atom) {
                            self->quit(actors::make_error(actors::errc::storage_failure, "crash"));
                        }};
                    });
                }};
    }
    caf::actor child(const actors::supervisor_actor& sup, const std::string& name) {
        caf::actor out;
        sys.spawn([&out, sup, name](caf::event_based_actor* self) {
            self->request(sup, 1s, atoms::child_atom_v, name)
                .then([&out](caf::actor& a) { out = a; }, [](caf::error&) {});
        });
        sched.run();
        return out;
    }
};

TEST_CASE("supervisor: restarts a crashed child, which dependents find again by name, and "
          "escalates past the restart limit",
          "[actors][supervisor]") {
    fixture f;
    actors::supervisor_config config;
    config.children = {f.fragile()};
    config.max_restarts = 2;
    config.window = 1000ms;
    auto sup = f.sys.spawn(actors::supervisor, config);
    caf::error sup_reason;
    bool sup_down = false;
    auto watcher = f.sys.spawn([&, sup](caf::event_based_actor* self) -> caf::behavior {
        self->monitor(sup);
        self->set_down_handler([&](caf::down_msg& msg) {
            sup_down = true;
            sup_reason = msg.reason;
        });
        return {[](atoms::ping_atom) {}}; // stays alive to hear about the supervisor
    });
    f.sched.run();
    REQUIRE(f.starts == 1);
    auto first = f.child(sup, "fragile");
    REQUIRE(first);

    // Two crashes within the window: restarted each time, under a new handle.
    caf::anon_send(first, atoms::ping_atom_v);
    f.sched.run();
    CHECK(f.starts == 2);
    auto second = f.child(sup, "fragile");
    REQUIRE(second);
    CHECK(second != first);
    caf::anon_send(second, atoms::ping_atom_v);
    f.sched.run();
    CHECK(f.starts == 3);
    CHECK_FALSE(sup_down);

    // Once the window has passed, the old restarts no longer count.
    f.sched.advance_time(1500ms);
    caf::anon_send(f.child(sup, "fragile"), atoms::ping_atom_v);
    f.sched.run();
    CHECK(f.starts == 4);
    CHECK_FALSE(sup_down);

    // Two more crashes in quick succession: the third restart within the window escalates.
    caf::anon_send(f.child(sup, "fragile"), atoms::ping_atom_v);
    f.sched.run();
    CHECK(f.starts == 5);
    caf::anon_send(f.child(sup, "fragile"), atoms::ping_atom_v);
    f.sched.run();
    CHECK(f.starts == 5);
    CHECK(sup_down);
    CHECK(actors::code_of(sup_reason) == static_cast<std::uint8_t>(actors::errc::storage_failure));
    caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
    f.sched.run();
}

TEST_CASE("supervisor: a child that stops cleanly stays stopped, and stopping the supervisor "
          "stops its children",
          "[actors][supervisor]") {
    fixture f;
    actors::supervisor_config config;
    config.children = {f.fragile()};
    auto sup = f.sys.spawn(actors::supervisor, config);
    f.sched.run();
    auto c = f.child(sup, "fragile");
    REQUIRE(c);
    bool child_down = false;
    auto watcher = f.sys.spawn([&, c](caf::event_based_actor* self) -> caf::behavior {
        self->monitor(c);
        self->set_down_handler([&](caf::down_msg&) { child_down = true; });
        return {[](atoms::ping_atom) {}};
    });
    f.sched.run();
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    f.sched.run();
    CHECK(child_down);
    CHECK(f.starts == 1);
    caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
    f.sched.run();
}

TEST_CASE("supervisor: rest-for-one restarts the children started after a crashed one, and "
          "reports every new handle",
          "[actors][supervisor]") {
    fixture f;
    int steady_starts = 0, dependent_starts = 0;
    std::map<std::string, caf::actor> published; // what on_start reported last
    auto idle = [](caf::event_based_actor*) -> caf::behavior { return {[](atoms::ping_atom) {}}; };
    actors::supervisor_config config;
    config.strategy = actors::restart_strategy::rest_for_one;
    config.on_start = [&](const std::string& name, const caf::actor& h) { published[name] = h; };
    config.children = {
        {"steady",
         [&](caf::actor_system& s) {
             ++steady_starts;
             return s.spawn(idle);
         }},
        f.fragile(),
        {"dependent",
         [&](caf::actor_system& s) {
             ++dependent_starts;
             // A dependent is made with the handle its sibling has now.
             CHECK(published.count("fragile") == 1);
             return s.spawn(idle);
         }},
    };
    auto sup = f.sys.spawn(actors::supervisor, config);
    f.sched.run();
    REQUIRE(published.size() == 3);
    auto old_dependent = published["dependent"];
    CHECK(f.child(sup, "dependent") == old_dependent);

    caf::anon_send(f.child(sup, "fragile"), atoms::ping_atom_v); // crashes it
    f.sched.run();
    CHECK(steady_starts == 1);    // started before the crashed one: untouched
    CHECK(f.starts == 2);         // the crashed one
    CHECK(dependent_starts == 2); // and the one after it
    CHECK(published["dependent"] != old_dependent);
    CHECK(f.child(sup, "dependent") == published["dependent"]);
    CHECK(f.child(sup, "fragile") == published["fragile"]);
    caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    f.sched.run();
}

} // namespace civic_supervisor_test
