// The witness and its writer (see witness_actor and witness_writer_actor in
// actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "actors/read_only.hpp"
#include "protocol/witness.hpp"
#include "storage/witness_store.hpp"

#include <caf/response_promise.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>

namespace civic::actors {

struct witness_config {
    std::shared_ptr<const note::cosigner> key;         // its cosigning key
    std::shared_ptr<const witness::trusted_logs> logs; // the logs it witnesses
    /// Unix time = this offset + the actor clock (cosignature timestamps).
    std::chrono::milliseconds unix_offset{0};
    std::size_t max_waiting = 4096; // requests waiting for a commit; beyond: 503
    std::size_t max_round = 512;    // requests decided per commit
    /// A commit this slow means the disk is gone: the witness stops, and its
    /// restart re-reads what is durable.
    std::chrono::milliseconds commit_timeout{60000};
    /// After a round that could not persist a halt (a full disk), it is tried
    /// again this often until it is durable, whether or not requests come.
    std::chrono::milliseconds halt_retry{1000};
    /// Fault injection for tests: called after a round is durable and before it
    /// is answered (a test kills the process there).
    std::function<void()> after_persist;
    /// A planted bug, for the simulator's tests only (no topology or node flag
    /// sets it): cosign a log-signed checkpoint even when it contradicts what
    /// this witness cosigned before (a failed consistency proof, another root
    /// at the same size). The invariant checkers must catch such a witness.
    bool test_skip_consistency_check = false;
    /// Called with each checkpoint it cosigned, once durable, as it answers.
    std::function<void(const std::string& checkpoint, std::uint64_t timestamp)> on_cosigned;
    /// A round that found no room makes the witness read-only (reported here:
    /// log, metric, status) until a round persists again. Every round tries:
    /// requests are the probes, and the halt timer when a halt waits.
    read_only_config read_only;
    log::logger_ptr log = log::logger::none(); // refusals, and logs it stops cosigning for
};

struct witness_state {
    static inline const char* name = "witness";
    struct waiting_request {
        cosign_request request;
        caf::typed_response_promise<cosign_answer> promise;
    };
    witness_config config;
    witness_writer_actor writer;
    std::map<std::string, storage::cosigned_record> states; // durable, by origin
    std::map<std::string, std::string> origin_of_hash;      // hex SHA-256 -> origin, of states
    std::map<std::string, witness::request_allowance> allowances; // logs with a qpd, by origin
    std::deque<waiting_request> waiting;
    std::map<std::string, std::string> pending_halts; // origin -> why, for the next round
    bool committing = false;
    bool halt_retry_scheduled = false; // a halt waits for room, and its timer is set
    read_only_mode read_only;
    std::uint64_t cosigned = 0, refused = 0, evidence = 0, rate_limited = 0;
};

using witness_pointer = witness_actor::stateful_pointer<witness_state>;

/// A witness over the states read from its store (`states`, `evidence_count`).
witness_actor::behavior_type witness(witness_pointer self, witness_config config,
                                     std::map<std::string, storage::cosigned_record> states,
                                     std::uint64_t evidence_count, witness_writer_actor writer);

/// The writer; spawned detached on a node (it blocks on fsync).
witness_writer_actor::behavior_type witness_writer(witness_writer_actor::pointer self,
                                                   std::shared_ptr<storage::witness_store> store);

/// The answer a witness gives for a verdict that is not a cosignature.
cosign_answer refusal(const witness::verdict& v);

} // namespace civic::actors
