// A link to a peer's gateway, kept by the actors that talk to other nodes
// (the collector, gossip): connect through the middleman with a timeout,
// monitor, and after a failure or a lost connection try again after a capped
// backoff with seeded jitter (CAF 0.17 never reconnects by itself).
#pragma once

#include "actors/actors.hpp"
#include "actors/backoff.hpp"
#include "actors/errors.hpp"
#include "actors/log.hpp"

#include <caf/actor_cast.hpp>
#include <caf/io/middleman_actor.hpp>

#include <chrono>
#include <random>
#include <set>
#include <string>

namespace civic::actors {

struct peer_endpoint {
    std::string name;
    std::string host;
    std::uint16_t port = 0;
};

struct peer_link {
    using time_point = caf::actor_clock::time_point;
    peer_endpoint endpoint;
    gateway_actor gateway; // while connected
    bool connecting = false;
    std::uint32_t failures = 0; // connection attempts failed in a row
    time_point retry_at{};
    time_point connected_at{};
};

struct link_timing {
    std::chrono::milliseconds connect_timeout{3000};
    std::chrono::milliseconds backoff_initial{200};
    std::chrono::milliseconds backoff_max{10000};
};

/// Starts connecting link `i` of `get(self)` (a vector of peer_link in the
/// actor's state) unless it is connected or connecting; `on_up(i)` once it is.
/// The actor's state has `middleman` (a caf::io::middleman_actor), `jitter` and
/// `config.log`: the first failure in a row is logged, then every power of two
/// of them, and a connection made after failures.
template <class Self, class GetLinks, class OnUp>
void connect_link(Self self, GetLinks get, const link_timing& timing, std::size_t i, OnUp on_up) {
    auto& link = get(self)[i];
    if (link.gateway || link.connecting) return;
    link.connecting = true;
    auto fail = [self, get, timing, i](const std::string& why) {
        // failures reset once a link proves itself (below)
        auto& l = get(self)[i];
        l.connecting = false;
        auto n = ++l.failures;
        if ((n & (n - 1)) == 0)
            self->state.config.log->warn(
                self->name(), "cannot reach a peer",
                {{"peer", l.endpoint.name},
                 {"at", l.endpoint.host + ":" + std::to_string(l.endpoint.port)},
                 {"why", why},
                 {"failed_attempts", n}});
        l.retry_at = self->clock().now() + backoff_delay(timing.backoff_initial, timing.backoff_max,
                                                         l.failures, self->state.jitter);
    };
    self->request(self->state.middleman, timing.connect_timeout, caf::connect_atom::value,
                  link.endpoint.host, link.endpoint.port)
        .then(
            [self, get, i, fail, on_up](const caf::node_id&, caf::strong_actor_ptr& ptr,
                                        const std::set<std::string>&) {
                if (!ptr) return fail("no actor published there");
                auto& l = get(self)[i];
                l.connecting = false;
                if (l.failures > 0)
                    self->state.config.log->info(
                        self->name(), "reached a peer",
                        {{"peer", l.endpoint.name}, {"failed_attempts", l.failures}});
                l.gateway = caf::actor_cast<gateway_actor>(std::move(ptr));
                l.connected_at = self->clock().now();
                self->monitor(l.gateway);
                on_up(i);
            },
            [fail](caf::error& e) { fail(message_of(e)); });
}

/// A down message for one of the links: it is dropped, `on_down(i)` told, and
/// connected again at once if it had lasted a second (CAF 0.17 was seen to
/// report every peer of a node unreachable when one of its connections closed,
/// peers that were up), else after the backoff (a peer whose connections die
/// as soon as they are made).
template <class Self, class GetLinks, class OnDown, class OnUp>
void link_down(Self self, GetLinks get, const link_timing& timing, const caf::down_msg& msg,
               OnDown on_down, OnUp on_up) {
    auto& links = get(self);
    for (std::size_t i = 0; i < links.size(); ++i) {
        auto& l = links[i];
        if (!l.gateway || l.gateway.address() != msg.source) continue;
        l.gateway = nullptr;
        self->state.config.log->warn(
            self->name(), "lost a peer",
            {{"peer", l.endpoint.name}, {"reason", message_of(msg.reason)}});
        on_down(i);
        auto now = self->clock().now();
        if (now - l.connected_at >= std::chrono::seconds(1)) {
            l.failures = 0;
            connect_link(self, get, timing, i, on_up);
        } else {
            ++l.failures;
            l.retry_at = now + backoff_delay(timing.backoff_initial, timing.backoff_max, l.failures,
                                             self->state.jitter);
        }
    }
}

} // namespace civic::actors
