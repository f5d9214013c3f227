// An actor system on CAF's deterministic test coordinator (virtual time, no
// threads), for the actor tests: what every fixture starts from.
#pragma once

#include "actors/system.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <chrono>
#include <memory>

namespace civic::test {

struct virtual_system {
    std::unique_ptr<actors::system_config> cfg;
    std::unique_ptr<caf::actor_system> sys;
    caf::scheduler::test_coordinator* sched = nullptr;

    void boot() {
        cfg = std::make_unique<actors::system_config>(actors::system_options{true});
        sys = std::make_unique<caf::actor_system>(*cfg);
        sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    }
    /// Drops the system (its actors must have been stopped).
    void shut_down() {
        sys.reset();
        cfg.reset();
        sched = nullptr;
    }
    /// Runs the virtual clock forward by `d` in 1 ms steps, running every job.
    void run_for(caf::timespan d) {
        for (caf::timespan t{0}; t < d; t += std::chrono::milliseconds(1)) {
            sched->advance_time(std::chrono::milliseconds(1));
            sched->run();
        }
    }
};

} // namespace civic::test
