// The bridge actor (see bridge_actor in actors.hpp) and the one way jobs make
// requests from it.
#pragma once

#include "actors/actors.hpp"
#include "actors/directory.hpp"
#include "actors/errors.hpp"

#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace civic::actors {

struct bridge_state {
    static inline const char* name = "bridge";
    std::chrono::milliseconds timeout{10000};
    /// Requests waiting for an answer, by sequence number. One timeout for all,
    /// so deadlines grow with the sequence number and expiry scans from the front.
    struct waiting {
        caf::actor_clock::time_point deadline;
        std::function<void()> expire;
    };
    std::map<std::uint64_t, waiting> pending;
    std::uint64_t next_id = 0;
    bool tick_scheduled = false;
};

using bridge_pointer = bridge_actor::stateful_pointer<bridge_state>;

/// Every request a bridge makes waits at most `timeout`.
bridge_actor::behavior_type bridge(bridge_pointer self, std::chrono::milliseconds timeout);

/// Registers a deadline for the request `id`; `expire` runs if it passes first.
void bridge_track(bridge_pointer self, std::uint64_t id, std::function<void()> expire);

/// Sends `xs...` to `dest` and calls `done(Result&)` or `failed(caf::error&)`
/// exactly once: with the answer, the error, or a request_timeout error after
/// the bridge's timeout.
template <class Result, class Handle, class Done, class Failed, class... Ts>
void bridge_request(bridge_pointer self, const Handle& dest, Done done, Failed failed, Ts&&... xs) {
    auto id = self->state.next_id++;
    self->request(dest, caf::infinite, std::forward<Ts>(xs)...)
        .then(
            [self, id, done](Result& r) {
                if (self->state.pending.erase(id) == 0) return; // expired already
                done(r);
            },
            [self, id, failed](caf::error& e) {
                if (self->state.pending.erase(id) == 0) return;
                failed(e);
            });
    bridge_track(self, id, [failed] {
        caf::error timeout = caf::make_error(caf::sec::request_timeout);
        failed(timeout);
    });
}

/// The one way to ask a node's actor from outside the actor system (an HTTP
/// thread, the simulator's driver): the bridge looks up the current handle of
/// `slot` in `actors` and asks it, and `done(Result&)` or `failed(caf::error&)`
/// runs exactly once, on the bridge; an actor that is restarting fails at once
/// (errc::unavailable), a late answer with the bridge's timeout.
template <class Result, class Handle, class Done, class Failed, class... Ts>
void ask_actor(const bridge_actor& bridge, std::shared_ptr<const directory> actors,
               actor_slot<Handle> slot, Done done, Failed failed, Ts... xs) {
    caf::anon_send(bridge, bridge_job{[actors, slot, done, failed, xs...](bridge_pointer self) {
                       auto dest = actors->get(slot);
                       if (!dest) {
                           auto e = make_error(errc::unavailable,
                                               std::string(slot.name) + " is restarting, retry");
                           return failed(e);
                       }
                       bridge_request<Result>(self, dest, done, failed, xs...);
                   }});
}

} // namespace civic::actors
