// The replica actor (see replica_actor in actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "actors/peer_directory.hpp"
#include "actors/read_only.hpp"
#include "protocol/note.hpp"
#include "storage/ledger_store.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace civic::actors {

struct replica_config {
    std::string origin;
    std::size_t max_batch_entries = 100000;          // larger offers are refused
    std::size_t max_queued_batches = 64;             // offers waiting while one commits
    std::chrono::milliseconds commit_timeout{30000}; // a slower commit stops the replica
    /// Called with the durable size after each batch it commits (the
    /// simulator measures replication lag with it).
    std::function<void(std::uint64_t size)> on_durable;
    /// When a commit finds no room: how often to probe the store, and whom to tell.
    read_only_config read_only;
    /// Who sent a batch, as the peer port's TLS front authenticated it, and the
    /// nodes that may lead: only they may offer batches (none in the simulator).
    std::shared_ptr<const peer_directory> peers;
    std::set<std::string> leaders;
    log::logger_ptr log = log::logger::none(); // fencing: epochs taken and refused
};

struct replica_state {
    static inline const char* name = "replica";

    struct offer {
        replicated_batch batch;
        caf::typed_response_promise<std::uint64_t> promise;
    };

    replica_config config;
    std::shared_ptr<storage::ledger_store> store;
    std::unique_ptr<note::verifier> log_key;
    committer_actor committer;
    storage::tree_state tree; // durable
    std::deque<offer> queue;  // offers in arrival order; the front one may be committing
    bool committing = false;
    ledger_status counters;
    std::uint64_t epoch = 0; // the newest leadership epoch seen (durable in the store)
    /// Set when a commit found no room: offers are refused until a probe writes.
    read_only_mode read_only;
    std::uint64_t last_fenced_epoch = 0; // logged once per deposed epoch
};

using replica_pointer = replica_actor::stateful_pointer<replica_state>;

/// Starts on the store's committed state after checking it against its latest
/// signed checkpoint; quits with errc::storage_failure when that check fails.
replica_actor::behavior_type replica(replica_pointer self, replica_config config,
                                     std::shared_ptr<storage::ledger_store> store,
                                     note::vkey log_key, committer_actor committer);

} // namespace civic::actors
