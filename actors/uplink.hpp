// The uplink actor (see uplink_actor in actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "actors/log.hpp"

#include <caf/io/middleman_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace civic::actors {

struct uplink_config {
    /// The gateways of the nodes that may lead (host, port). The uplink joins the
    /// one that says it leads, under the newest epoch; a deposed leader that
    /// still thinks it leads is passed over.
    std::vector<std::pair<std::string, std::uint16_t>> candidates;
    std::uint64_t epoch = 0;                         // the newest epoch this replica knows of
    std::chrono::milliseconds connect_timeout{5000}; // per attempt, and for the join
    std::chrono::milliseconds backoff_initial{100};
    std::chrono::milliseconds backoff_max{10000};
    std::chrono::milliseconds poll_interval{1000};   // asking the leader's size, while joined
    std::chrono::milliseconds forward_timeout{5000}; // a forwarded request, at most
    std::size_t max_forwards = 10000;                // forwarded requests in flight
    std::uint64_t seed = 1;                          // jitter: deterministic under the simulator
    log::logger_ptr log = log::logger::none();       // joining, losing and failing to join
};

struct uplink_state {
    static inline const char* name = "uplink";
    uplink_config config;
    caf::io::middleman_actor middleman;
    replica_actor replica;
    gateway_actor leader; // while joined
    std::string leader_name;
    std::uint64_t leader_size = 0;
    caf::actor_clock::time_point polled_at{};
    bool joined = false;
    bool connecting = false;
    std::size_t next_candidate = 0;
    std::size_t round_left = 0; // candidates still to try before a backoff
    bool poll_scheduled = false;
    std::uint32_t failures = 0;        // in a row: the backoff's exponent
    std::string last_failure;          // the last failed attempt to join: where and why
    std::uint64_t attempts_failed = 0; // since the last join: how often it is logged
    std::minstd_rand jitter;
    /// Forwarded requests waiting for the leader, by sequence number; their
    /// deadlines grow with it (one timeout for all). CAF 0.17 never cancels a
    /// request's own timer, so the uplink keeps deadlines itself.
    struct forward {
        caf::actor_clock::time_point deadline;
        caf::typed_response_promise<append_receipt> promise;
    };
    std::map<std::uint64_t, forward> forwards;
    std::uint64_t next_forward = 0;
    bool expiry_scheduled = false;
};

using uplink_pointer = uplink_actor::stateful_pointer<uplink_state>;

/// Starts connecting at once.
uplink_actor::behavior_type uplink(uplink_pointer self, uplink_config config,
                                   caf::io::middleman_actor middleman, replica_actor replica);

/// The delay before retry number `failures` (1, 2, ...): initial * 2^(failures-1),
/// capped, then scaled by a factor drawn from [0.5, 1.5) so that replicas that
/// lost their leader together do not all come back at the same moment.
std::chrono::milliseconds uplink_backoff(const uplink_config& config, std::uint32_t failures,
                                         std::minstd_rand& jitter);

} // namespace civic::actors
