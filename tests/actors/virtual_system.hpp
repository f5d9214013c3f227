// An actor system on CAF's deterministic test coordinator (virtual time, no
// threads), for the actor tests: what every fixture starts from.
#pragma once

#include "actors/errors.hpp"
#include "actors/system.hpp"

#include <caf/all.hpp>
#include <caf/detail/init_fun_factory.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <chrono>
#include <memory>
#include <optional>

namespace civic::test {

/// actors::code_of, and 0 for no error at all (actors::code_of asks an empty
/// caf::error for its category, which crashes in CAF 0.17).
inline std::uint8_t code_of(const caf::error& e) { return e ? actors::code_of(e) : 0; }

/// What one request got: its answer or its error, once `done`.
template <class T>
struct reply {
    bool done = false;
    std::optional<T> value;
    caf::error error;
};

struct virtual_system {
    std::unique_ptr<actors::system_config> cfg;
    std::unique_ptr<caf::actor_system> sys;
    caf::scheduler::test_coordinator* sched = nullptr;

    void boot() {
        cfg = std::make_unique<actors::system_config>(actors::system_options{true});
        sys = std::make_unique<caf::actor_system>(*cfg);
        sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    }
    /// Fires every pending timeout (at most `rounds` times over), running the
    /// jobs each one makes: requests still waiting end with their timeout, so
    /// that their clients stop (the system waits for every actor when dropped).
    void drain(int rounds = 100) {
        sched->run();
        for (int i = 0; i < rounds && sched->has_pending_timeout(); ++i) {
            sched->trigger_timeouts();
            sched->run();
        }
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
    /// Sends `xs...` as a request to `target` from a fresh client actor, with a
    /// timeout of a virtual minute; the reply (an answer of type T, or the
    /// error) fills in as the scheduler runs.
    template <class T, class Handle, class... Ts>
    std::shared_ptr<reply<T>> send_request(const Handle& target, Ts... xs) {
        auto out = std::make_shared<reply<T>>();
        sys->spawn(requester<T>(out, target, xs...));
        return out;
    }
    /// The body of such a client actor: asks `target` and fills in `out`
    /// (for spawning it elsewhere, e.g. under another node's id).
    template <class T, class Handle, class... Ts>
    static auto requester(std::shared_ptr<reply<T>> out, Handle target, Ts... xs) {
        return [out, target, xs...](caf::event_based_actor* self) {
            self->request(target, std::chrono::minutes(1), xs...)
                .then(
                    [out](T& x) {
                        out->value = std::move(x);
                        out->done = true;
                    },
                    [out](caf::error& e) {
                        out->error = std::move(e);
                        out->done = true;
                    });
        };
    }
    /// send_request, then every job that is ready runs (no time passes): for
    /// answers that need none.
    template <class T, class Handle, class... Ts>
    reply<T> call(const Handle& target, Ts... xs) {
        auto out = send_request<T>(target, xs...);
        sched->run();
        return *out;
    }
};

/// Spawns the function-based actor `fun` on `sys` under another node's id, as
/// if it lived on that node: what a message from a remote node looks like to
/// the actor that receives it (current_sender()->node()), without a network.
/// CAF's own spawn always uses the system's node id; this does what it does
/// (actor_system::spawn_impl) with `node` instead.
template <class F>
caf::actor spawn_as(caf::actor_system& sys, const caf::node_id& node, F fun) {
    using impl = caf::infer_impl_from_fun_t<F>;
    caf::actor_config cfg{sys.dummy_execution_unit()};
    caf::detail::init_fun_factory<impl, F> factory;
    cfg.init_fun = factory(std::move(fun));
    auto handle = caf::make_actor<impl, caf::actor>(sys.next_actor_id(), node, &sys, cfg);
    static_cast<impl*>(caf::actor_cast<caf::abstract_actor*>(handle))
        ->launch(cfg.host, false, false);
    return handle;
}

} // namespace civic::test
