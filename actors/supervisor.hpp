// The supervisor actor (see supervisor_actor in actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "actors/log.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace civic::actors {

/// One child: its name and how to start it (again).
struct child_spec {
    std::string name;
    std::function<caf::actor(caf::actor_system&)> start;
};

/// For a factory that cannot start its actor (its durable state is unreadable):
/// an actor that stops at once with `why`, so that the failure counts as a
/// restart and escalates like any other, instead of starting from wrong state.
caf::actor failed_start(caf::actor_system& sys, std::string why);

enum class restart_strategy {
    one_for_one, // restart the child that stopped
    rest_for_one // and, first stopping them, every child started after it
};

struct supervisor_config {
    std::vector<child_spec> children; // started in this order
    restart_strategy strategy = restart_strategy::one_for_one;
    /// Called with each child's handle whenever it is (re)started, before the
    /// next child starts (a node's directory; see directory.hpp).
    std::function<void(const std::string&, const caf::actor&)> on_start;
    std::size_t max_restarts = 3; // per child, within `window`
    std::chrono::milliseconds window{10000};
    log::logger_ptr log = log::logger::none(); // each restart, and giving up
};

struct supervisor_state {
    static inline const char* name = "supervisor";
    struct child {
        child_spec spec;
        caf::actor handle;
        std::deque<caf::actor_clock::time_point> restarts; // within the window
    };
    std::vector<child> children;
    supervisor_config config;
};

using supervisor_pointer = supervisor_actor::stateful_pointer<supervisor_state>;

supervisor_actor::behavior_type supervisor(supervisor_pointer self, supervisor_config config);

} // namespace civic::actors
