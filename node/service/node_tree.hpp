// What runs inside a node: its ledger store, opened and checked, and the
// supervision tree of its actors. One implementation for the node process
// (service.cpp, on CAF's threaded scheduler) and for the simulator (on CAF's
// deterministic test coordinator): the simulator runs the code that runs in
// production, only its clock, scheduler and network differ.
#pragma once

#include "actors/actors.hpp"
#include "actors/directory.hpp"
#include "actors/log.hpp"
#include "actors/peer_directory.hpp"
#include "actors/signer.hpp"
#include "actors/supervisor.hpp"
#include "node/config/options.hpp"
#include "protocol/note.hpp"
#include "protocol/result.hpp"
#include "storage/ledger_store.hpp"
#include "storage/witness_store.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace civic::node {

/// How a node's actors run, and what they report to their host.
struct node_runtime {
    /// Who sent what, as the peer port's TLS front authenticated it (process
    /// only; the simulator has none, and every sender there is a node of it).
    std::shared_ptr<const actors::peer_directory> peers;
    /// Blocking actors (the LMDB writers) on the scheduler instead of on their
    /// own threads: under the simulator nothing may run outside the coordinator.
    bool deterministic = false;
    /// Unix time = this offset + the actor clock (actors::unix_offset_now() in
    /// a process; a fixed value, plus a skew, in simulation).
    std::chrono::milliseconds unix_offset{0};
    std::function<void(const actors::batch_report&)> on_commit;
    std::function<void(const std::string& witness, std::chrono::microseconds latency, bool ok)>
        on_witness_answer;
    /// Each cosigning round: its time to quorum (nothing when it had none) and
    /// the checkpoint published, with its cosignatures.
    std::function<void(std::optional<std::chrono::microseconds>, const std::string&)>
        on_cosign_round;
    /// A witness's view after each request to it (see collector_config).
    std::function<void(const actors::witness_link&)> on_witness_view;
    /// Makes the actor that asks one outside witness (the process: tlog-witness
    /// over HTTP; the simulator: its model). Unset: outside witnesses are not
    /// asked.
    std::function<actors::outside_witness_actor(caf::actor_system&,
                                                const actors::outside_witness_spec&)>
        spawn_outside_witness;
    /// A newer checkpoint met the quorum (what witnessed answers get).
    std::function<void(const std::string& checkpoint)> on_witnessed;
    /// A witness cosigned a checkpoint (durably), with its timestamp.
    std::function<void(const std::string& checkpoint, std::uint64_t timestamp)> on_cosigned;
    /// A replica holds this many entries durably.
    std::function<void(std::uint64_t size)> on_replica_durable;
    std::function<void(const storage::evidence_record&)> on_evidence;
    /// The scrubber checked this many entries; healed a range (from "local" or
    /// "leader"); cannot heal one now (once per range).
    std::function<void(std::uint64_t entries)> on_scrubbed;
    std::function<void(const storage::damaged_range&, const std::string& source)> on_healed;
    std::function<void(const storage::damaged_range&, const std::string& why)> on_not_healed;
    /// The ledger or replica became read-only (a commit found no room: the
    /// reason) or takes writes again (empty); also empty at each of its starts.
    std::function<void(const std::string& reason)> on_read_only;
    /// The witness became read-only (a round found no room: the reason) or
    /// persists again (empty); also empty at each of its starts.
    std::function<void(const std::string& reason)> on_witness_read_only;
    /// A ledger, replica or witness commit failed, with its reason's label
    /// (no_space, quota, map_full, other).
    std::function<void(const char* reason)> on_commit_failed;
    /// When a leader in test-equivocate mode starts showing two histories.
    caf::actor_clock::time_point equivocate_from{};
    /// The node's log, handed to each actor that writes to it.
    log::logger_ptr logger = log::logger::none();
};

/// An identity the node cannot sign for: its key file is missing or unreadable
/// (`identity` empty: an unreadable file that holds no identity's current key).
struct identity_key_problem {
    std::string identity;
    std::string file; // under the data directory
    std::string reason;
};

/// The identity keys found in a data directory's keys/.
struct identity_keys {
    static constexpr std::size_t max_problems = 100; // kept; the rest only counted
    actors::key_ring keys;
    std::vector<identity_key_problem> problems;
    std::size_t problem_count = 0;
};

/// A node's ledger store, opened, with the log's keys, checked against its
/// latest signed checkpoint.
struct opened_ledger {
    std::string origin;
    std::shared_ptr<storage::ledger_store> store;
    /// The log's signer: only while the node leads.
    std::shared_ptr<const note::ed25519_signer> log;
    std::string log_vkey; // note format
    /// A leader's identity keys at start: how many, and what disables identities.
    std::size_t identity_keys_loaded = 0;
    std::vector<identity_key_problem> identity_key_problems;
    std::size_t identity_key_problem_count = 0;
};

/// Opens `data_dir`/ledger and reads its origin.
result<opened_ledger> open_ledger(const std::string& data_dir);

/// Loads the log key (a leader's, or a node's without the network's verifier
/// key), checks the identity keys (a leader: what disables an identity is in
/// `ledger`, not an error), and refuses a store that is not the tree its latest
/// checkpoint signed.
status load_log_keys(opened_ledger& ledger, const service_options& options);

/// The file an identity's key is kept in, under the data directory's keys/.
std::string identity_key_file_name(const std::string& identity, const ed25519::public_key& key);

/// The identity keys in `dir`/keys for the identities in force in `store`.
result<identity_keys> load_identity_keys(const std::filesystem::path& dir,
                                         const storage::ledger_store& store);

/// The logs a node's witness trusts now: a reloaded list replaces them, and a
/// witness that restarts starts with the ones in force (shared by the tree's
/// start function and the thread that reloads).
class witness_logs_holder {
public:
    explicit witness_logs_holder(actors::trusted_logs_ptr logs) : logs_(std::move(logs)) {}
    actors::trusted_logs_ptr get() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return logs_;
    }
    void set(actors::trusted_logs_ptr logs) {
        std::lock_guard<std::mutex> lock(mutex_);
        logs_ = std::move(logs);
    }

private:
    mutable std::mutex mutex_;
    actors::trusted_logs_ptr logs_;
};

/// The logs a witness trusts: its network's log (network_options::log_vkey,
/// unlimited) and those of its list (witness_options::logs_file, each with
/// its qpd). A bad item of the list is logged with its line and skipped; a
/// file that cannot be read or is not a list is an error naming it.
result<actors::trusted_logs_ptr> load_witness_logs(const service_options& options,
                                                   const log::logger_ptr& log);

/// A node's supervision tree (rest-for-one: whatever depends on an actor that
/// restarted starts again with its new handle) and what its actors share.
struct node_tree {
    std::shared_ptr<actors::directory> directory = std::make_shared<actors::directory>();
    std::shared_ptr<storage::witness_store> witness_store; // witnesses
    std::shared_ptr<storage::witness_store> gossip_store;  // split-view evidence
    std::shared_ptr<witness_logs_holder> witness_logs;     // witnesses
    actors::supervisor_config config;
    bool collecting = false;       // a leader with witnesses to ask
    std::size_t evidence_held = 0; // split-view evidence in the gossip store at start
};

/// Builds the tree of a node: committer, then ledger, signer and collector on
/// a leader, or replica and uplink on a replica, and the scrubber; then witness-writer and
/// witness on a witness, and gossip-writer and gossip when it has peers.
/// `ledger` is null on a node that is only a witness.
result<node_tree> build_node_tree(const service_options& options, const opened_ledger* ledger,
                                  const node_runtime& runtime);

} // namespace civic::node
