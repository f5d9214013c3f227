// The scrubber actor (see scrubber_actor in actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "actors/directory.hpp"
#include "storage/ledger_store.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>

namespace civic::actors {

struct scrubber_config {
    /// The bound on its reads; 0: it does not scrub (and only answers status).
    std::uint64_t entries_per_second = 50000;
    /// A pass starts at most this often: a small store is not read over and over.
    std::chrono::milliseconds pass_interval{60000};
    /// Whether a leader's copy can be fetched (through the node's "uplink", found
    /// in `actors`): a replica. A leader heals only what its own entries rebuild.
    bool can_fetch = false;
    std::shared_ptr<const directory> actors;
    std::chrono::milliseconds fetch_timeout{5000};
    /// Failed heals of a range are retried after a capped, jittered backoff.
    std::chrono::milliseconds heal_backoff_initial{1000};
    std::chrono::milliseconds heal_backoff_max{60000};
    std::uint64_t seed = 1; // the jitter: deterministic under the simulator
    /// Called after each step with the entries it checked (metrics).
    std::function<void(std::uint64_t entries)> on_scrubbed;
    /// A range healed, and from where ("local" or "leader").
    std::function<void(const storage::damaged_range&, const std::string& source)> on_healed;
    /// A range it cannot heal now, and why: once per range until healed.
    std::function<void(const storage::damaged_range&, const std::string& why)> on_not_healed;
};

struct scrubber_state {
    static inline const char* name = "scrubber";
    scrubber_config config;
    std::shared_ptr<storage::ledger_store> store;
    std::uint64_t next_tile = 0; // the entry tile the next step checks
    bool in_pass = false;
    caf::actor_clock::time_point pass_started{};
    scrub_status counters;
    /// Damaged ranges waiting to be healed: failures so far, when to try again.
    struct heal_plan {
        std::uint32_t failures = 0;
        caf::actor_clock::time_point next_try{};
        bool reported = false; // on_not_healed was called
    };
    std::map<storage::damaged_range, heal_plan> heals;
    bool heal_scheduled = false;
    bool fetching = false; // one fetch from the leader at a time
    std::minstd_rand jitter;
};

using scrubber_pointer = scrubber_actor::stateful_pointer<scrubber_state>;

/// Starts its first pass at once (unless entries_per_second is 0).
scrubber_actor::behavior_type scrubber(scrubber_pointer self, scrubber_config config,
                                       std::shared_ptr<storage::ledger_store> store);

/// The pause after a step that checked `entries`: at most `per_second` a second.
std::chrono::microseconds scrub_pause(std::uint64_t entries, std::uint64_t per_second);

} // namespace civic::actors
