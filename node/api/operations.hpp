// What the HTTP API needs of a node, and nothing more (as Go sumdb's ServerOps
// is to its server): the handlers in node/api/ reach the node only through
// `operations`, so each can be tested against a fake without CAF or LMDB. The
// node's implementation is node/service/operations.cpp.
#pragma once

#include "actors/actors.hpp"
#include "actors/errors.hpp"
#include "protocol/bundle.hpp"
#include "protocol/policy.hpp"
#include "protocol/tiles.hpp"
#include "storage/records.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace civic::node::api {

/// Why an asked actor did not answer: one of our codes (or 0 for CAF's own
/// errors, e.g. a timeout) and its message.
struct failure {
    std::uint8_t code = 0;
    std::string message;
};

template <class T>
using done_fn = std::function<void(const T&)>;
using failed_fn = std::function<void(const failure&)>;

/// What a node is, fixed at start.
struct node_facts {
    std::string node_name;
    bool holds_ledger = false; // a leader or a replica (else only a witness)
    bool leading = false;
    bool witness = false;    // answers tlog-witness add-checkpoint
    bool collecting = false; // a leader with witnesses to ask
    bool gated = false;      // a leader publishing only checkpoints its replicas hold
    bool has_policy = false; // the network has a witness policy
    /// How long a "witnessed": true request waits for the quorum, from its arrival.
    std::chrono::milliseconds witnessed_wait{0};
    /// A leader's identity keys at start, for /api/status (null elsewhere).
    nlohmann::json identity_keys;
};

/// One page of the split-view evidence a node holds.
struct evidence_page {
    std::uint64_t total = 0;
    std::vector<storage::evidence_record> records;
};

/// A change to an identity that makes and keeps a new key.
enum class identity_change { register_key, rotate_key };

/// Where a checkpoint comes from.
enum class checkpoint_source {
    ledger,    // the ledger's newest published (log-signed)
    witnessed, // the collector's newest that met the quorum
    collected, // the collector's newest, with the cosignatures it has
    gossiped,  // gossip's newest view of the log
};

class operations {
public:
    virtual ~operations() = default;

    virtual const node_facts& facts() const = 0;

    // Reads of the store, on the HTTP thread (nodes that hold a ledger).
    virtual std::uint64_t stored_size() const = 0;
    virtual std::uint64_t verified_size() const = 0;
    virtual std::uint64_t epoch() const = 0;
    /// The verified tree's tiles: every hash in them was checked on the way in.
    virtual const tiles::tile_reader& verified_tiles() const = 0;
    virtual result<std::optional<bytes>> checked_entry(std::uint64_t index) const = 0;
    virtual result<bytes> checked_entry_bundle(std::uint64_t tile, std::uint16_t width) const = 0;
    virtual result<std::optional<std::string>> latest_checkpoint() const = 0;
    virtual result<std::optional<storage::identity_record>>
    identity(const std::string& name) const = 0;
    virtual result<std::vector<std::string>> identity_names(const std::string& after,
                                                            std::size_t limit) const = 0;
    /// Indexes of an identity's entries above `after`, at most `limit`, in log order.
    virtual result<std::vector<std::uint64_t>> identity_entries(const std::string& name,
                                                                std::optional<std::uint64_t> after,
                                                                std::size_t limit) const = 0;
    /// The record of the token with this SHA-256, if there is one.
    virtual std::optional<storage::token_record> token(const hash& token_sha256) const = 0;
    virtual result<evidence_page> evidence(std::uint64_t from, std::size_t limit) const = 0;
    /// Why the store refuses writes now, or nothing.
    virtual std::optional<std::string> read_only_reason() const = 0;

    // Checks.
    /// A tlog-proof checked against this log's key alone.
    virtual bundle_verdict verify_bundle(const std::string& proof, const hash& content) const = 0;
    /// Which witnesses of the network's policy cosigned the checkpoint (nothing
    /// without a policy, or when it does not verify).
    virtual std::optional<policy_verdict> network_verdict(const std::string& checkpoint) const = 0;

    // Identity key files (custodial identities).
    /// Writes the key's file (0600, never overwriting); returns its path.
    virtual result<std::string> write_identity_key(const std::string& name,
                                                   const ed25519::secret_key& key) = 0;
    virtual void remove_identity_key(const std::string& name, const ed25519::public_key& key) = 0;

    // Asks of the node's actors: each calls `done` or `failed` once, on some thread.
    /// Signs and appends; `token_sha256` when forwarding to the leader (it checks it).
    virtual void sign(actors::sign_request request, std::optional<hash> token_sha256,
                      done_fn<actors::append_receipt> done, failed_fn failed) = 0;
    /// Appends an entry its owner signed, as it is (the leader's ledger
    /// verifies it); `token_sha256` when forwarding to the leader (it checks it).
    /// `witnessed`: the client waits for a witnessed answer (the leader's
    /// collector starts a round at its commit).
    virtual void submit(bytes entry, std::optional<hash> token_sha256, bool witnessed,
                        done_fn<actors::append_receipt> done, failed_fn failed) = 0;
    virtual void change_identity(identity_change change, actors::new_identity_key key,
                                 done_fn<actors::append_receipt> done, failed_fn failed) = 0;
    virtual void revoke_key(const std::string& name, bytes public_key,
                            done_fn<actors::append_receipt> done, failed_fn failed) = 0;
    virtual void checkpoint(checkpoint_source source, done_fn<std::string> done,
                            failed_fn failed) = 0;
    /// The collector's newest witnessed checkpoint once it covers `size`, or
    /// whatever is newest after `max_wait` (a leader with witnesses; a
    /// replica asks its leader's through its uplink).
    virtual void await_witnessed(std::uint64_t size, std::chrono::milliseconds max_wait,
                                 done_fn<std::string> done, failed_fn failed) = 0;
    virtual void ledger_status(done_fn<actors::ledger_status> done, failed_fn failed) = 0;
    virtual void collector_status(done_fn<actors::collector_status> done, failed_fn failed) = 0;
    virtual void link_status(done_fn<actors::link_status> done, failed_fn failed) = 0;
    virtual void scrub_status(done_fn<actors::scrub_status> done, failed_fn failed) = 0;
    virtual void witness_status(done_fn<actors::witness_status> done, failed_fn failed) = 0;
    virtual void add_checkpoint(actors::cosign_request request, done_fn<actors::cosign_answer> done,
                                failed_fn failed) = 0;
    /// The witness's latest cosigned checkpoint of the log whose origin has
    /// this SHA-256 (lowercase hex): the note with the log's signatures and
    /// the witness's cosignature.
    virtual void cosigned_checkpoint(const std::string& origin_sha256, done_fn<std::string> done,
                                     failed_fn failed) = 0;

    // The node itself.
    /// The Prometheus text of the node's metrics.
    virtual std::string metrics_text() const = 0;
    /// A checked read found the store damaged.
    virtual void report_damage(const std::string& what) = 0;
    /// One poll for witnessed answers ran; `waiting` still wait.
    virtual void witnessed_polled(std::size_t waiting) = 0;
    /// Runs `job` once, `delay` from now, off the calling thread.
    virtual void after(std::chrono::milliseconds delay, std::function<void()> job) = 0;
    virtual std::chrono::steady_clock::time_point now() const = 0;
};

} // namespace civic::node::api
