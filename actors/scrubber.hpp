// The scrubber actor (see scrubber_actor in actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "storage/ledger_store.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace civic::actors {

struct scrubber_config {
    /// The bound on its reads; 0: it does not scrub (and only answers status).
    std::uint64_t entries_per_second = 50000;
    /// A pass starts at most this often: a small store is not read over and over.
    std::chrono::milliseconds pass_interval{60000};
    /// Called after each step with the entries it checked (metrics).
    std::function<void(std::uint64_t entries)> on_scrubbed;
};

struct scrubber_state {
    static inline const char* name = "scrubber";
    scrubber_config config;
    std::shared_ptr<const storage::ledger_store> store;
    std::uint64_t next_tile = 0; // the entry tile the next step checks
    bool in_pass = false;
    caf::actor_clock::time_point pass_started{};
    scrub_status counters;
};

using scrubber_pointer = scrubber_actor::stateful_pointer<scrubber_state>;

/// Starts its first pass at once (unless entries_per_second is 0).
scrubber_actor::behavior_type scrubber(scrubber_pointer self, scrubber_config config,
                                       std::shared_ptr<const storage::ledger_store> store);

/// The pause after a step that checked `entries`: at most `per_second` a second.
std::chrono::microseconds scrub_pause(std::uint64_t entries, std::uint64_t per_second);

} // namespace civic::actors
