// Every actor interface of Civic Attest, and the one CAF type ID block that
// registers the messages they exchange. Each node registers this block in its
// actor_system_config (see system.hpp); CAF atoms are at most 10 characters.
// One file on purpose, over 600 lines: a reader finds every interface and
// message in one place, and CAF needs the whole type ID block in one header.
//
// Actors are written as functions over a state struct. Everything an actor does
// must run under the deterministic scheduler: time only from self->clock(), no
// threads or sleeps, randomness only from a seeded source. Every request carries
// a finite timeout.
#pragma once

#include "protocol/bytes.hpp"
#include "protocol/ed25519.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace civic::storage {
struct batch;
struct witness_write;
} // namespace civic::storage

namespace civic::witness {
class trusted_logs;
} // namespace civic::witness

namespace civic::actors {

/// Where an appended entry landed and the proof that it is there: the entry's
/// index, the signed checkpoint of the batch that made it durable, the
/// inclusion proof against that checkpoint (concatenated 32-byte hashes), and
/// the entry itself.
struct append_receipt {
    std::uint64_t index = 0;
    std::string checkpoint;
    bytes inclusion;
    bytes entry;
};

/// The receipt's inclusion proof as hashes.
inline std::vector<std::array<std::uint8_t, 32>> inclusion_hashes(const append_receipt& r) {
    std::vector<std::array<std::uint8_t, 32>> out(r.inclusion.size() / 32);
    for (std::size_t i = 0; i < out.size(); ++i)
        std::copy_n(r.inclusion.begin() + static_cast<std::ptrdiff_t>(32 * i), 32, out[i].begin());
    return out;
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_receipt& x) {
    return f(caf::meta::type_name("append_receipt"), x.index, x.checkpoint, x.inclusion, x.entry);
}

/// A ledger's counters, for /api/status and metrics.
struct ledger_status {
    std::uint64_t size = 0;           // entries in the tree, committed or not
    std::uint64_t committed_size = 0; // entries durable in LMDB
    std::uint64_t pending = 0;        // accepted, waiting for a batch
    std::uint64_t batches = 0;        // batches committed since start
    std::uint64_t last_batch_size = 0;
    std::uint64_t last_commit_us = 0;  // duration of the last commit, on the actor clock
    std::uint64_t replicated_size = 0; // entries held by enough replicas to answer clients
    std::uint64_t replicas = 0;        // joined now
    /// From a batch's local commit to a replica's acknowledgement of it, over
    /// the latest samples (one per replica per batch).
    std::uint64_t replica_lag_p50_us = 0;
    std::uint64_t replica_lag_p95_us = 0;
    /// Why it refuses writes (a commit found no room), or empty when it takes them.
    std::string read_only_reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ledger_status& x) {
    return f(caf::meta::type_name("ledger_status"), x.size, x.committed_size, x.pending, x.batches,
             x.last_batch_size, x.last_commit_us, x.replicated_size, x.replicas,
             x.replica_lag_p50_us, x.replica_lag_p95_us, x.read_only_reason);
}

/// What the signer is asked to sign: an identity's statement about content.
struct sign_request {
    std::string identity;
    bytes content_sha256; // 32 bytes
    bytes metadata;       // the entry's payload, at most civic::max_entry_payload bytes
    /// Its client waits for a witnessed checkpoint ("witnessed": true): the
    /// leader starts a cosigning round as soon as it is answered.
    bool witnessed = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sign_request& x) {
    return f(caf::meta::type_name("sign_request"), x.identity, x.content_sha256, x.metadata,
             x.witnessed);
}

/// A committed batch as the leader sends it to replicas: the entries from
/// `first_index` on, and the log-signed checkpoint of the tree they end. The
/// replica recomputes the tree and accepts the batch only if the roots agree.
struct replicated_batch {
    std::uint64_t first_index = 0;
    std::vector<bytes> entries;
    std::string checkpoint;
    std::uint64_t epoch = 0; // the sending leader's: replicas refuse older epochs
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replicated_batch& x) {
    return f(caf::meta::type_name("replicated_batch"), x.first_index, x.entries, x.checkpoint,
             x.epoch);
}

/// A sign request one node received and forwards to the leader: the SHA-256 of
/// the client's bearer token (the leader authorises it against its own token
/// table; the token itself never travels) and what to sign.
struct forwarded_sign {
    bytes token_sha256; // 32 bytes
    sign_request request;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, forwarded_sign& x) {
    return f(caf::meta::type_name("forwarded_sign"), x.token_sha256, x.request);
}

/// An entry its owner signed (POST /api/submit) that one node received and
/// forwards to the leader whole: the SHA-256 of the client's bearer token (the
/// leader authorises it, as for forwarded_sign) and the encoded entry, which
/// the leader's ledger verifies like any entry from outside. `witnessed`: its
/// client waits for a witnessed answer (a cosigning round starts at its commit).
struct forwarded_entry {
    bytes token_sha256; // 32 bytes
    bytes entry;
    bool witnessed = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, forwarded_entry& x) {
    return f(caf::meta::type_name("forwarded_entry"), x.token_sha256, x.entry, x.witnessed);
}

/// What a node's gateway says about the node to peers (and to /api/status).
struct node_status {
    std::string name;
    bool leading = false;    // sequences and signs checkpoints
    std::uint64_t epoch = 0; // the leadership epoch this node knows of
    std::uint64_t size = 0;  // entries durable in its store
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_status& x) {
    return f(caf::meta::type_name("node_status"), x.name, x.leading, x.epoch, x.size);
}

/// What the uplink knows of the leader, for a replica's /api/status.
struct link_status {
    bool joined = false;
    std::string leader;            // its name, once joined
    std::uint64_t leader_size = 0; // its durable size, as last polled
    std::uint64_t polled_ms_ago = 0;
    std::string last_failure; // the last failed attempt to join: where and why
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, link_status& x) {
    return f(caf::meta::type_name("link_status"), x.joined, x.leader, x.leader_size,
             x.polled_ms_ago, x.last_failure);
}

/// A tlog-witness add-checkpoint request, as a message: the old size, the
/// consistency proof (concatenated 32-byte hashes) and the signed checkpoint.
struct cosign_request {
    std::uint64_t old_size = 0;
    bytes proof;
    std::string checkpoint;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cosign_request& x) {
    return f(caf::meta::type_name("cosign_request"), x.old_size, x.proof, x.checkpoint);
}

/// A witness's answer, exactly what tlog-witness answers over HTTP: the status
/// (200, 400, 403, 404, 409, 422, 429 beyond a log's requests a day, or 503
/// when it cannot persist now) and the body: cosignature lines on 200,
/// "<size>\n" on a 409 about the old size (`size_body`), else a message. On a
/// 429 or 503, `retry_after_s` says when to ask again (HTTP Retry-After).
struct cosign_answer {
    std::uint16_t status = 0;
    bool size_body = false;
    std::string body;
    std::uint32_t retry_after_s = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cosign_answer& x) {
    return f(caf::meta::type_name("cosign_answer"), x.status, x.size_body, x.body, x.retry_after_s);
}

/// What a witness holds, for /api/status and metrics: per origin its latest
/// cosigned size (and whether it stopped cosigning it), and its counters.
struct witness_status {
    std::string name;
    std::vector<std::string> origins;
    std::vector<std::uint64_t> sizes;
    std::vector<std::string> halted; // per origin: why it stopped cosigning, or empty
    std::uint64_t cosigned = 0;      // cosignatures given since start
    std::uint64_t refused = 0;       // requests answered with 4xx since start
    std::uint64_t evidence = 0;      // evidence records in its store
    std::string read_only_reason;    // why its last round could not persist, or empty
    std::uint64_t rate_limited = 0;  // requests answered 429 (beyond a log's qpd) since start
    std::uint64_t trusted_logs = 0;  // logs it cosigns for now
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, witness_status& x) {
    return f(caf::meta::type_name("witness_status"), x.name, x.origins, x.sizes, x.halted,
             x.cosigned, x.refused, x.evidence, x.read_only_reason, x.rate_limited, x.trusted_logs);
}

/// What the leader's collector knows of one witness.
struct witness_link {
    std::string name;
    bool connected = false;
    std::uint64_t known_size = 0; // the latest size it cosigned, as far as we know
    std::uint64_t cosigned = 0;   // cosignatures it gave since start
    std::uint64_t failures = 0;   // requests that failed or timed out since start
    std::uint64_t last_latency_us = 0;
    std::string url; // an outside witness's tlog-witness URL; empty for one in the network
    std::uint64_t last_cosignature_time = 0; // unix seconds its latest cosignature states
    std::uint64_t throttled = 0;             // 429 and 503 answers since start
    std::string last_error;                  // why its latest failed request failed, or empty
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, witness_link& x) {
    return f(caf::meta::type_name("witness_link"), x.name, x.connected, x.known_size, x.cosigned,
             x.failures, x.last_latency_us, x.url, x.last_cosignature_time, x.throttled,
             x.last_error);
}

/// The collector's view, for /api/status and metrics: the published
/// checkpoint's size, whether it met the policy's quorum, its cosigners, and
/// the time from asking the witnesses to meeting the quorum over recent rounds.
struct collector_status {
    std::uint64_t published_size = 0;
    bool quorum = false;
    std::vector<std::string> cosigners;
    std::uint64_t rounds = 0;        // rounds finished since start
    std::uint64_t quorum_rounds = 0; // of them, rounds that met the quorum
    std::uint64_t time_to_quorum_p50_us = 0;
    std::uint64_t time_to_quorum_p95_us = 0;
    std::vector<witness_link> witnesses;
    std::uint64_t demand_rounds = 0; // rounds started at once for witnessed requests
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, collector_status& x) {
    return f(caf::meta::type_name("collector_status"), x.published_size, x.quorum, x.cosigners,
             x.rounds, x.quorum_rounds, x.time_to_quorum_p50_us, x.time_to_quorum_p95_us,
             x.witnesses, x.demand_rounds);
}

/// Evidence of a split view as gossip carries it (see protocol/split_view.hpp).
struct gossip_evidence {
    std::string ours, theirs;
    bytes root_at_smaller; // 32 bytes when the sizes differ, else empty
    bytes proof;           // concatenated 32-byte hashes
    std::string shown_by;  // the node whose checkpoint contradicted the other
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, gossip_evidence& x) {
    return f(caf::meta::type_name("gossip_evidence"), x.ours, x.theirs, x.root_at_smaller, x.proof,
             x.shown_by);
}

/// One side of a gossip exchange: the newest verified checkpoint the sender
/// knows per origin (with the cosignatures it holds), and the newest evidence.
struct gossip_message {
    std::string from;
    std::vector<std::string> checkpoints;
    std::vector<gossip_evidence> evidence;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, gossip_message& x) {
    return f(caf::meta::type_name("gossip_message"), x.from, x.checkpoints, x.evidence);
}

/// What a node's gossip knows, for /api/status.
struct gossip_status {
    std::uint64_t rounds = 0;         // its own exchanges started
    std::uint64_t exchanges = 0;      // exchanges answered, both ways
    std::uint64_t failures = 0;       // exchanges that failed or timed out
    std::uint64_t rejected = 0;       // checkpoints or evidence that did not verify
    std::uint64_t evidence = 0;       // evidence records held
    std::vector<std::string> origins; // the origins it has a view of
    std::vector<std::uint64_t> sizes; // and the size of the newest checkpoint of each
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, gossip_status& x) {
    return f(caf::meta::type_name("gossip_status"), x.rounds, x.exchanges, x.failures, x.rejected,
             x.evidence, x.origins, x.sizes);
}

/// What a node's scrubber has checked, for /api/status and metrics.
struct scrub_status {
    std::uint64_t entries_per_second = 0; // its bound (0: it does not scrub)
    std::uint64_t position = 0;           // the next entry it checks
    std::uint64_t passes = 0;             // whole passes over the store since start
    std::uint64_t last_pass_ms = 0;       // how long the last whole pass took
    std::uint64_t entries_checked = 0;    // since start
    std::uint64_t damage_found = 0;       // steps that found damage, since start
    std::uint64_t healed = 0;             // ranges it healed, since start
    std::uint64_t damaged_ranges = 0;     // ranges the store knows as damaged now
    std::vector<std::string> damaged;     // the first of them, by name
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scrub_status& x) {
    return f(caf::meta::type_name("scrub_status"), x.entries_per_second, x.position, x.passes,
             x.last_pass_ms, x.entries_checked, x.damage_found, x.healed, x.damaged_ranges,
             x.damaged);
}

/// A batch handed from the ledger to its committer: local only, never serialised.
using batch_ptr = std::shared_ptr<const storage::batch>;

/// An entry this node's own signer has just signed. The ledger does not verify
/// its signature again (one Ed25519 verification per entry would cap a ledger at
/// one core's 20 k/s). Local only: the type has no serialisation, so no peer can
/// ever send one; entries from elsewhere arrive as plain bytes and are verified.
struct signed_locally {
    bytes entry;
    bool witnessed = false; // its client waits for a witnessed checkpoint
};

/// A new identity key handed to the signer (registration, rotation): local only,
/// never serialised, so secret keys never travel between nodes.
struct new_identity_key {
    std::string identity;
    std::shared_ptr<const ed25519::secret_key> key;
};

/// A round of a witness's state changes handed to its writer: local only.
using witness_write_ptr = std::shared_ptr<const storage::witness_write>;

/// The logs a witness trusts, replacing the ones it had (a reloaded list):
/// local only.
using trusted_logs_ptr = std::shared_ptr<const witness::trusted_logs>;

struct bridge_job;
struct bridge_state;

} // namespace civic::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(civic::actors::new_identity_key)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(civic::actors::bridge_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(civic::actors::batch_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(civic::actors::witness_write_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(civic::actors::trusted_logs_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(civic::actors::signed_locally)

CAF_BEGIN_TYPE_ID_BLOCK(civic_attest, caf::first_custom_type_id)

CAF_ADD_TYPE_ID(civic_attest, (civic::actors::append_receipt))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::ledger_status))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::sign_request))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::replicated_batch))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::forwarded_sign))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::node_status))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::link_status))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::cosign_request))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::cosign_answer))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::witness_status))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::collector_status))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::gossip_evidence))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::gossip_message))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::gossip_status))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::scrub_status))
CAF_ADD_TYPE_ID(civic_attest, (civic::actors::forwarded_entry))

/// Liveness probe: any actor answers `ping` with `pong` (supervision, tests).
CAF_ADD_ATOM(civic_attest, civic::atoms, ping_atom, "ping")
CAF_ADD_ATOM(civic_attest, civic::atoms, pong_atom, "pong")
CAF_ADD_ATOM(civic_attest, civic::atoms, append_atom, "append")
CAF_ADD_ATOM(civic_attest, civic::atoms, commit_atom, "commit")
CAF_ADD_ATOM(civic_attest, civic::atoms, status_atom, "status")
CAF_ADD_ATOM(civic_attest, civic::atoms, checkpt_atom, "checkpt")
CAF_ADD_ATOM(civic_attest, civic::atoms, sign_atom, "sign")
CAF_ADD_ATOM(civic_attest, civic::atoms, flush_atom, "flush")
CAF_ADD_ATOM(civic_attest, civic::atoms, add_atom, "add")
CAF_ADD_ATOM(civic_attest, civic::atoms, rotate_atom, "rotate")
CAF_ADD_ATOM(civic_attest, civic::atoms, revoke_atom, "revoke")
CAF_ADD_ATOM(civic_attest, civic::atoms, tick_atom, "tick")
CAF_ADD_ATOM(civic_attest, civic::atoms, replicate_atom, "replicate")
CAF_ADD_ATOM(civic_attest, civic::atoms, join_atom, "join")
CAF_ADD_ATOM(civic_attest, civic::atoms, child_atom, "child")
CAF_ADD_ATOM(civic_attest, civic::atoms, poll_atom, "poll")
CAF_ADD_ATOM(civic_attest, civic::atoms, expire_atom, "expire")
CAF_ADD_ATOM(civic_attest, civic::atoms, gossip_atom, "gossip")
CAF_ADD_ATOM(civic_attest, civic::atoms, halt_atom, "halt")
CAF_ADD_ATOM(civic_attest, civic::atoms, fetch_atom, "fetch")
CAF_ADD_ATOM(civic_attest, civic::atoms, heal_atom, "heal")
CAF_ADD_ATOM(civic_attest, civic::atoms, probe_atom, "probe")
CAF_ADD_ATOM(civic_attest, civic::atoms, logs_atom, "logs")

CAF_END_TYPE_ID_BLOCK(civic_attest)

namespace civic::actors {

/// The committer: the one actor that blocks. Writes a batch to LMDB in one
/// fsync'd transaction and answers when it is durable (or with the error:
/// errc::no_space when the store found no room, see storage::shortage_of).
/// `probe` (bytes) writes and removes a record that large, to learn whether a
/// store that had no room takes writes again.
/// Spawned detached (its own thread) in a node; on the scheduler in simulation.
using committer_actor =
    caf::typed_actor<caf::replies_to<atoms::commit_atom, batch_ptr>::with<atoms::commit_atom>,
                     caf::replies_to<atoms::probe_atom, std::uint64_t>::with<atoms::probe_atom>>;

/// A replica: holds a verified copy of the ledger. `replicate` offers it the
/// next batch; it recomputes the tree from its own state, accepts the batch only
/// if the root and size equal the log-signed checkpoint and every entry passes
/// the registry's rules, commits it durably (its own committer), and answers with
/// its durable size. A batch it already holds is answered with its size (a
/// re-sent batch is harmless); a batch beyond its size fails with errc::gap,
/// whose message carries the size to resend from; a batch from an older
/// leadership epoch than the replica knows fails with errc::not_leader (a
/// deposed leader can get no acknowledgement). A refused batch changes nothing.
/// A commit that finds no room makes it read-only (see the ledger): it refuses
/// every offer at once with errc::no_space, so its leader gets no ack from it,
/// and `probe` (its timer) tries the store again until it takes writes.
using replica_actor =
    caf::typed_actor<caf::replies_to<atoms::replicate_atom, replicated_batch>::with<std::uint64_t>,
                     caf::replies_to<atoms::status_atom>::with<ledger_status>,
                     caf::reacts_to<atoms::probe_atom>>;

/// The ledger (sequencer): validates entries against the identity registry,
/// appends them to the Merkle tree in arrival order, batches everything that
/// arrives while a commit is in flight into the next transaction, signs a
/// checkpoint per batch, and answers each append only once its batch is durable,
/// with the inclusion proof against that batch's checkpoint.
/// With replicas, a batch's appends are answered only once the configured number
/// of replicas hold it too, and no batch is cut while fewer replicas are joined
/// (fencing: a leader cut off from its replicas, perhaps deposed meanwhile,
/// signs no checkpoint of a history nobody else holds). `checkpt` answers the
/// newest checkpoint whose batch is that safe: the one to publish.
/// `join` adds a replica (a replica_actor, passed as caf::actor: typed handles
/// have no type ID of their own to cross the network; answers the ledger's
/// durable size); the ledger sends it every batch from what it holds on, from
/// memory or from the store when it lags, and drops it when it goes down.
/// `flush` is its own linger timer: an idle ledger may wait that long for more
/// entries before it starts a commit; `tick` retries replicas that failed.
/// A commit that fails because the store has no room (disk full, quota, LMDB
/// map full) does not stop it: the batch and everything queued behind it are
/// refused with errc::no_space (none was acknowledged), its tree goes back to
/// the store's, and it is read-only: appends are refused at once, reads and
/// replication go on, and `probe` (its timer, with backoff) tries a small write
/// until the store takes one; then it takes appends again. Any other failed
/// commit stops it, for its supervisor to restart it from the store.
/// `append` (entry, true): an entry whose client waits for a witnessed answer,
/// which the collector hears of at its commit (as for a signed_locally's flag).
using ledger_actor =
    caf::typed_actor<caf::replies_to<atoms::append_atom, bytes>::with<append_receipt>,
                     caf::replies_to<atoms::append_atom, bytes, bool>::with<append_receipt>,
                     caf::replies_to<atoms::append_atom, signed_locally>::with<append_receipt>,
                     caf::replies_to<atoms::checkpt_atom>::with<std::string>,
                     caf::replies_to<atoms::status_atom>::with<ledger_status>,
                     caf::replies_to<atoms::join_atom, caf::actor>::with<std::uint64_t>,
                     caf::reacts_to<atoms::flush_atom>, caf::reacts_to<atoms::tick_atom>,
                     caf::reacts_to<atoms::probe_atom>>;

/// The uplink: keeps a replica joined to its leader across the network. It
/// connects through the middleman it is given (the TLS one on a node, the test
/// network's in simulation) to the leader's gateway, joins, monitors it, and
/// after a failed attempt or a lost connection tries again after a capped
/// exponential backoff with seeded jitter: CAF 0.17 never reconnects by itself.
/// - `sign`: a request this node received, forwarded to the leader. Refused at
///   once with errc::unavailable while not joined; failed with it when the
///   leader goes away or does not answer in time (a message in flight to a node
///   that dies is never answered): clients get 503, never a hang.
/// - `append`: an entry its owner signed, forwarded to the leader the same way.
/// - `status`: whether it is joined, and the leader's size as last polled.
/// - `fetch` (first, count): entries [first, first + count) from the leader's
///   store (its gateway's `fetch`), for the scrubber to heal a damaged range;
///   errc::unavailable while not joined.
/// - `poll` (size, max wait in ms): the leader's witnessed checkpoint once it
///   covers `size` (its gateway's `poll`), for witnessed answers on this node;
///   errc::unavailable while not joined.
/// - `tick`: its reconnection timer; `poll`: its timer for asking the leader's
///   size; `expire`: its timer for forwarded requests.
using uplink_actor = caf::typed_actor<
    caf::replies_to<atoms::sign_atom, forwarded_sign>::with<append_receipt>,
    caf::replies_to<atoms::append_atom, forwarded_entry>::with<append_receipt>,
    caf::replies_to<atoms::status_atom>::with<link_status>,
    caf::replies_to<atoms::fetch_atom, std::uint64_t, std::uint64_t>::with<replicated_batch>,
    caf::replies_to<atoms::poll_atom, std::uint64_t, std::uint32_t>::with<std::string>,
    caf::reacts_to<atoms::tick_atom>, caf::reacts_to<atoms::poll_atom>,
    caf::reacts_to<atoms::expire_atom>>;

/// A witness's writer: the one place its store blocks. Commits a round's
/// changes in one fsync'd transaction and answers when they are durable.
using witness_writer_actor = caf::typed_actor<
    caf::replies_to<atoms::commit_atom, witness_write_ptr>::with<atoms::commit_atom>>;

/// A witness (C2SP tlog-witness): `add` checks a checkpoint against the latest
/// one it cosigned for the origin and, only once the new one is durable (its
/// writer), answers with its cosignature. Requests that arrive while a commit
/// is in flight wait, and are decided in arrival order against the state the
/// requests before them leave, then committed together: check and update are
/// atomic whatever the interleaving, and nothing is answered before the state
/// it depends on is durable. A log-signed checkpoint that contradicts the
/// record is kept as evidence. `status`: what it holds. `halt` (origin,
/// reason): the log was caught showing two histories; the witness records it
/// durably and never cosigns for that origin again.
/// A round its writer cannot persist (a full disk) is answered 503 for every
/// request it would have cosigned; the witness stays up, and a halt in that
/// round goes first in the next one, which `probe` (its timer) starts when no
/// request does, until the halt is durable.
/// A log with a qpd (add-checkpoint requests a day, from a log list) that asks
/// more often is answered 429 with when to ask again; only requests its key
/// signed count. `logs` replaces the trusted logs (a reloaded list); what it
/// cosigned for a log that left the list stays. `checkpt` (lowercase hex
/// SHA-256 of an origin): tlog-witness's monitoring answer, the latest
/// checkpoint it cosigned for that log with the log's signatures and its
/// cosignature (errc::no_checkpoint for a log it never cosigned).
using witness_actor =
    caf::typed_actor<caf::replies_to<atoms::add_atom, cosign_request>::with<cosign_answer>,
                     caf::replies_to<atoms::status_atom>::with<witness_status>,
                     caf::replies_to<atoms::checkpt_atom, std::string>::with<std::string>,
                     caf::reacts_to<atoms::halt_atom, std::string, std::string>,
                     caf::reacts_to<atoms::logs_atom, trusted_logs_ptr>,
                     caf::reacts_to<atoms::probe_atom>>;

/// Gossip: every `tick` (its period) it exchanges, with `fanout` peers drawn
/// from a seeded generator, the newest verified checkpoint it knows per origin
/// and the newest evidence (push-pull: the peer answers with its own). A
/// checkpoint from a peer is checked: the log's signature, then against this
/// node's view (another root at the same size) and, on a node that holds the
/// ledger, against its tree (another root at any size it holds). A
/// contradiction is a split view: the evidence is verified, kept durably,
/// reported (`on_evidence`), gossiped, and the node's witness halts for the
/// origin. Evidence from peers is verified before it is kept.
/// - `gossip`: a peer's side of an exchange; answered with this node's.
/// - `status`: see gossip_status.
/// - `checkpt`: the newest checkpoint of the log it knows, with every
///   cosignature it gathered (how replicas serve witnessed bundles). On the
///   leader, gossip takes the collector's published checkpoint at every tick.
using gossip_actor =
    caf::typed_actor<caf::replies_to<atoms::gossip_atom, gossip_message>::with<gossip_message>,
                     caf::replies_to<atoms::checkpt_atom>::with<std::string>,
                     caf::replies_to<atoms::status_atom>::with<gossip_status>,
                     caf::reacts_to<atoms::tick_atom>>;

/// The collector (on the leader): gathers witness cosignatures for the log's
/// checkpoints. Every `tick` (its cadence) it asks the ledger for the newest
/// published checkpoint and, when the tree grew, asks every witness of the
/// policy in parallel (each request with its own timeout), from the size that
/// witness last cosigned (a 409 is retried once from the size it reports; at
/// start every witness is asked from 0 and so tells its size). It publishes the
/// checkpoint with every cosignature gathered once the policy's quorum is met
/// and either every witness answered or a short grace period for late ones
/// passed, or once every request ended without a quorum (then it says so).
/// It keeps a connection to each witness's gateway, reconnecting with backoff.
/// Witnessed requests do not wait for the cadence: `poll` (a size) says that
/// some wait for a tree of that size, and a round starts at once for the
/// ledger's newest checkpoint, beside the rounds still short of their quorum
/// (at most max_rounds_in_flight; each witness gets its requests in order,
/// each from the size the one before leaves). A checkpoint is witnessed the
/// moment it meets the quorum; late cosignatures join what is published.
/// - `checkpt`: the published checkpoint, with its cosignatures; with `true`,
///   the newest one that met the quorum (bundles prefer it when it covers).
/// - `poll` (size, max wait in ms): the newest witnessed checkpoint once it
///   covers `size`, or whatever is newest when the wait ends (errc::no_checkpoint
///   if none); at most max_awaiting wait, the rest are answered at once.
/// - `status`: see collector_status.
/// A witness that answers 429 or 503 is not asked before its Retry-After; a
/// round short of its quorum waits for it (at most witness_timeout from the
/// round's start) and asks it again then.
/// - `flush` (round id): its grace timer; `expire` (poll id): a poll's end;
///   `tick`: its cadence; `tick` (link): a held-back witness may be asked.
using collector_actor = caf::typed_actor<
    caf::replies_to<atoms::checkpt_atom>::with<std::string>,
    caf::replies_to<atoms::checkpt_atom, bool>::with<std::string>,
    caf::replies_to<atoms::poll_atom, std::uint64_t, std::uint32_t>::with<std::string>,
    caf::replies_to<atoms::status_atom>::with<collector_status>,
    caf::reacts_to<atoms::poll_atom, std::uint64_t>, caf::reacts_to<atoms::tick_atom>,
    caf::reacts_to<atoms::tick_atom, std::uint64_t>,
    caf::reacts_to<atoms::flush_atom, std::uint64_t>,
    caf::reacts_to<atoms::expire_atom, std::uint64_t>>;

/// An outside witness: one outside this network, reached with tlog-witness
/// over HTTP(S) at its URL (the node layer speaks HTTP; the simulator models
/// it). `add` is answered as the witness answered (its status, body, and
/// Retry-After in seconds for a 429 or 503), or with an error when no answer
/// came (no connection, TLS, a timeout). One request at a time, in order.
using outside_witness_actor =
    caf::typed_actor<caf::replies_to<atoms::add_atom, cosign_request>::with<cosign_answer>>;

/// The simulator's model of an outside witness: asked as an
/// `outside_witness_actor`; (add, N) is its own reminder that exchange N's
/// answer is due (or its timeout has come), which it then collects from the
/// simulated network.
using simulated_outside_witness_actor =
    outside_witness_actor::extend<caf::reacts_to<atoms::add_atom, std::uint64_t>>;

/// A policy witness outside the network: its name and where to ask it.
struct outside_witness_spec {
    std::string name;
    std::string url; // the tlog-witness submission prefix
};

/// The gateway: the one actor a node publishes on its CAF port, so peers never
/// hold handles to its inner actors (which restart and change). It finds the
/// node's current actors by name in the node's directory.
/// - `join`: a replica joins this node's ledger (leaders only, else errc::not_leader).
/// - `sign`: a request another node forwarded; the token is checked here,
///   against this node's token table, and the signer answers (leaders only).
/// - `append`: an entry its owner signed, another node forwarded: the token
///   is checked here (a registration needs an admin token) and the ledger,
///   which verifies the entry, answers (leaders only).
/// - `status`: the node's name, whether it leads, its epoch and durable size.
/// - `add`: a checkpoint to cosign, for the node's witness (errc::unavailable
///   on a node that is no witness, or while its witness restarts).
/// - `gossip`: a peer's gossip exchange, for the node's gossip actor.
/// - `fetch` (first, count): at most max_fetch_entries entries of this node's
///   store from `first`, each checked against its verified tree (a damaged one
///   fails with errc::storage_failure), as a replicated_batch without a
///   checkpoint: the replica that asks checks them against its own tree.
/// - `poll` (size, max wait in ms): the collector's `poll`, for a replica's
///   witnessed answers (leaders with witnesses only; the replica checks the
///   checkpoint against its own tree before it answers with it).
using gateway_actor = caf::typed_actor<
    caf::replies_to<atoms::join_atom, caf::actor>::with<std::uint64_t>,
    caf::replies_to<atoms::sign_atom, forwarded_sign>::with<append_receipt>,
    caf::replies_to<atoms::append_atom, forwarded_entry>::with<append_receipt>,
    caf::replies_to<atoms::add_atom, cosign_request>::with<cosign_answer>,
    caf::replies_to<atoms::gossip_atom, gossip_message>::with<gossip_message>,
    caf::replies_to<atoms::fetch_atom, std::uint64_t, std::uint64_t>::with<replicated_batch>,
    caf::replies_to<atoms::poll_atom, std::uint64_t, std::uint32_t>::with<std::string>,
    caf::replies_to<atoms::status_atom>::with<node_status>>;

/// The most entries one `fetch` answers: one entry tile.
constexpr std::uint64_t max_fetch_entries = 256;

/// The scrubber: walks the node's whole store in the background, one entry
/// tile (256 entries) per step and at most `entries_per_second`, checking every
/// entry and tile as stored on disk against the verified tree
/// (storage::ledger_store::scrub_entry_tile), and starts over at most once per
/// pass interval. What it finds the store remembers: every read of a damaged
/// range is answered 503 "damaged", never with its bytes. It heals a damaged
/// entry tile when it can: from its own entries when only the tile's hashes
/// are damaged, else (on a replica) from the leader's, fetched through the
/// uplink; either way only with entries whose hashes make its own verified
/// tree, written in one durable transaction. Failed heals are retried with a
/// capped, jittered backoff; a leader has no copy to fetch from and keeps
/// answering 503 for damaged entries. It reads and heals LMDB, so it blocks:
/// its own thread in a node, on the scheduler in simulation.
/// - `tick`: its step timer; `heal`: its heal timer; `status`: see scrub_status.
using scrubber_actor =
    caf::typed_actor<caf::replies_to<atoms::status_atom>::with<scrub_status>,
                     caf::reacts_to<atoms::tick_atom>, caf::reacts_to<atoms::heal_atom>>;

/// A supervisor: keeps its children running. A child that stops abnormally is
/// started again from its factory (which reopens its durable state): alone
/// (one-for-one), or with every child started after it, which may depend on
/// its handle (rest-for-one, as in Erlang/OTP); more than `max_restarts` restarts within `window`
/// escalate: the supervisor stops its other children and itself with the child's error, for its own
/// supervisor (at the root, the process) to deal with. `child` answers a child's current handle by
/// name, so dependents re-resolve after a restart.
using supervisor_actor =
    caf::typed_actor<caf::replies_to<atoms::child_atom, std::string>::with<caf::actor>>;

/// The signer: holds identity signing keys in locked memory, signs the ledger
/// entry for an identity's statement or registry change, and hands it to the
/// ledger itself. Entries therefore reach the ledger in the order they were
/// signed: a statement signed before a rotation never arrives after it.
/// Every request answers with the ledger's receipt once the entry is durable.
/// - `sign`: a statement with the identity's current key.
/// - `add`: registers a new identity with its first key (refused if the signer
///   holds a key for that name); the key is dropped again if the ledger refuses.
/// - `rotate`: signs the hand-over to a new key with the current key, and signs
///   with the new key from then on (back to the old one if the ledger refuses).
/// - `revoke` (identity, 32-byte public key): signs a revocation of one of the
///   identity's keys with its current key. Revoking the current key retires the
///   identity: the signer forgets the key and signs nothing more for it.
using signer_actor =
    caf::typed_actor<caf::replies_to<atoms::sign_atom, sign_request>::with<append_receipt>,
                     caf::replies_to<atoms::add_atom, new_identity_key>::with<append_receipt>,
                     caf::replies_to<atoms::rotate_atom, new_identity_key>::with<append_receipt>,
                     caf::replies_to<atoms::revoke_atom, std::string, bytes>::with<append_receipt>>;

/// A bridge: lets threads that are not actors (the HTTP server's) make requests
/// to actors without spawning an actor per request. Each job runs inside the
/// bridge and makes its requests with `bridge_request` (bridge.hpp): every one
/// has the bridge's finite timeout, kept in the bridge's own deadline list and
/// checked on a `tick`, because CAF 0.17 never cancels a request's timer: each
/// timer fires later even when the answer came, one wasted message per request.
/// A node keeps a few bridges and spreads jobs over them. Local only: jobs carry
/// code and never cross a node boundary.
using bridge_actor = caf::typed_actor<caf::reacts_to<bridge_job>, caf::reacts_to<atoms::tick_atom>>;

/// A job for a bridge: a function of the bridge actor.
struct bridge_job {
    std::function<void(bridge_actor::stateful_pointer<bridge_state>)> run;
};

} // namespace civic::actors
