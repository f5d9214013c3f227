// The ledger actor (see ledger_actor in actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "actors/read_only.hpp"
#include "protocol/note.hpp"
#include "storage/ledger_store.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace civic::actors {

/// What the ledger reports after each committed batch (for metrics).
struct batch_report {
    std::size_t entries = 0;
    std::size_t bytes = 0;
    std::chrono::microseconds commit_time{0}; // on the actor clock
    std::uint64_t tree_size = 0;              // durable, after the batch
    std::size_t pending = 0;                  // waiting for the next batch
};

struct ledger_config {
    std::string origin;
    std::size_t max_batch_entries = 10000;         // per write transaction
    std::size_t max_batch_bytes = 8 * 1024 * 1024; // entry bytes per write transaction
    std::size_t max_pending = 100000;              // accepted but not yet in a batch
    /// How long an idle ledger waits for more entries before it commits (0: not
    /// at all). While a commit is in flight, arrivals wait for it anyway.
    std::chrono::milliseconds batch_linger{0};
    std::chrono::milliseconds commit_timeout{30000}; // a commit slower than this stops the ledger
    /// Entries signed elsewhere (submitted whole by their owner) must be stamped
    /// within this of the ledger's time (0: not checked): an owner's clock may be
    /// off a little, but an entry must not claim a time long past or to come.
    std::chrono::milliseconds max_timestamp_skew{0};
    std::chrono::milliseconds unix_offset{0}; // Unix time = this + the actor clock
    /// Replica acknowledgements a batch needs before its appends are answered
    /// (0: answer once durable here).
    std::size_t replica_acks = 0;
    std::chrono::milliseconds replica_timeout{5000}; // per batch sent to a replica
    std::chrono::milliseconds replica_retry{200};    // wait after a replica failed
    std::size_t max_replicas = 64;
    std::uint64_t epoch = 0; // this leader's epoch, stamped on every batch it replicates
    std::size_t max_catch_up_entries = 10000;  // per batch a lagging replica gets from the store
    std::size_t max_unreplicated_batches = 64; // durable here, waiting for acks: then stop cutting
    /// Called on the ledger's thread after each commit; must be quick and must
    /// not call back into actors (metrics only).
    std::function<void(const batch_report&)> on_commit;
    /// Entries a client waits to see witnessed were answered: the tree size
    /// that covers them (the leader tells its collector, which starts a round
    /// at once). Called on the ledger's thread; may only send.
    std::function<void(std::uint64_t size)> on_witnessed_wanted;
    /// When a commit finds no room: how often to probe the store, and whom to tell.
    read_only_config read_only;
    log::logger_ptr log = log::logger::none(); // replicas joining and leaving
};

struct ledger_state {
    static inline const char* name = "ledger";

    struct accepted {
        std::uint64_t index = 0;
        bytes entry;
        hash leaf{};
        std::optional<storage::identity_record> registry; // the identity's record after this entry
        caf::typed_response_promise<append_receipt> promise;
        bool witnessed = false; // its client waits for a witnessed checkpoint
    };

    ledger_config config;
    std::shared_ptr<storage::ledger_store> store;
    std::shared_ptr<const note::ed25519_signer> log_key;
    committer_actor committer;

    storage::tree_state tree;         // committed and in-flight entries
    std::uint64_t committed_size = 0; // durable in LMDB
    std::string latest_checkpoint;    // signed, durable, covering committed_size
    /// The newest checkpoint clients may see: its batch is held by enough replicas.
    std::string published_checkpoint;
    std::deque<accepted> pending;    // in arrival order, indexes tree.size() onwards
    std::vector<accepted> in_flight; // the batch being committed
    std::string in_flight_checkpoint;
    /// Proofs for the batch being committed, made from memory while it commits.
    std::optional<merkle::batch_inclusion> in_flight_proofs;
    batch_ptr in_flight_batch; // what the committer writes, kept for the replicas
    caf::actor_clock::time_point commit_started{};
    bool linger_timer_set = false;
    /// Set when a commit found no room: appends are refused until a probe writes.
    read_only_mode read_only;

    /// A batch durable here whose appends wait for replica acknowledgements.
    struct committed_batch {
        std::uint64_t first_index = 0, end = 0;
        std::vector<accepted> appends;
        std::string checkpoint;
        std::optional<merkle::batch_inclusion> proofs;
        batch_ptr batch;
    };
    std::deque<committed_batch> unreplicated; // in order

    struct replica_link {
        replica_actor handle;
        std::uint64_t acked = 0; // entries it holds (once `known`)
        bool known = false;      // acked was learned from the replica
        bool busy = false;       // a request to it is in flight
        caf::actor_clock::time_point retry_at{};
    };
    std::vector<replica_link> replicas;
    /// When recent batches became durable here, and how long replicas then took
    /// to acknowledge them (microseconds, a ring of the latest samples).
    struct commit_time {
        std::uint64_t end = 0;
        caf::actor_clock::time_point committed_at{};
    };
    static constexpr std::size_t max_recent_commits = 256;
    static constexpr std::size_t max_lag_samples = 4096;
    std::deque<commit_time> recent_commits;
    std::vector<std::uint64_t> replica_lags;
    std::size_t next_lag_sample = 0;
    bool replica_timer_set = false;
    std::map<std::string, storage::identity_record>
        registry; // identities seen, with pending effects
    ledger_status counters;

    /// The next index to hand out.
    std::uint64_t next_index() const { return tree.size() + pending.size(); }
};

using ledger_pointer = ledger_actor::stateful_pointer<ledger_state>;

/// Starts on the store's committed state after checking it against the latest
/// signed checkpoint; quits with errc::storage_failure when that check fails.
ledger_actor::behavior_type ledger(ledger_pointer self, ledger_config config,
                                   std::shared_ptr<storage::ledger_store> store,
                                   std::shared_ptr<const note::ed25519_signer> log_key,
                                   committer_actor committer);

} // namespace civic::actors
