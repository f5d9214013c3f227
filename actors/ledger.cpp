#include "actors/ledger.hpp"

#include "actors/errors.hpp"
#include "actors/registry.hpp"
#include "protocol/assert.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <functional>

namespace civic::actors {
namespace {

/// The identity's record as of everything accepted so far, loading it on first use.
result<std::optional<storage::identity_record>> lookup(ledger_state& st, const std::string& name) {
    if (auto it = st.registry.find(name); it != st.registry.end()) return std::optional(it->second);
    CIVIC_TRY_ASSIGN(stored, st.store->identity(name));
    if (stored) st.registry.emplace(name, *stored);
    return stored;
}

/// Checks an entry against the registry as it will be at `index`.
caf::expected<std::optional<storage::identity_record>>
admit_for_identity(ledger_state& st, const entry& e, std::uint64_t index) {
    auto found = lookup(st, e.identity);
    if (!found) return make_error(errc::storage_failure, found.message());
    return actors::admit(*found, e, index);
}

void fail_all(ledger_state& st, const caf::error& err) {
    for (auto& b : st.unreplicated)
        for (auto& a : b.appends)
            a.promise.deliver(err);
    st.unreplicated.clear();
    for (auto& a : st.in_flight)
        a.promise.deliver(err);
    for (auto& a : st.pending)
        a.promise.deliver(err);
    st.in_flight.clear();
    st.pending.clear();
}

void start_batch(ledger_pointer self);
void replicate(ledger_pointer self);

/// Entries held durably by enough replicas (and here) to answer their appends.
std::uint64_t replicated_size(const ledger_state& st) {
    if (st.config.replica_acks == 0) return st.committed_size;
    std::vector<std::uint64_t> acked;
    for (const auto& r : st.replicas)
        if (r.known) acked.push_back(std::min(r.acked, st.committed_size));
    if (acked.size() < st.config.replica_acks) return 0;
    std::nth_element(acked.begin(),
                     acked.begin() + static_cast<std::ptrdiff_t>(st.config.replica_acks - 1),
                     acked.end(), std::greater<>());
    return acked[st.config.replica_acks - 1];
}

/// Answers the appends of every batch that is now durable on enough replicas.
void deliver_replicated(ledger_pointer self) {
    auto& st = self->state;
    auto held = replicated_size(st);
    bool delivered = false;
    std::uint64_t witnessed_wanted = 0;
    while (!st.unreplicated.empty() && st.unreplicated.front().end <= held) {
        auto& b = st.unreplicated.front();
        for (auto& a : b.appends) {
            if (a.witnessed) witnessed_wanted = b.end;
            CIVIC_ASSERT_LE(b.first_index, a.index);
            CIVIC_ASSERT_LT(a.index, b.end);
            append_receipt receipt{a.index, b.checkpoint, {}, std::move(a.entry)};
            // Made from memory for this very batch: only a bug can fail it.
            auto ok = b.proofs->proof(a.index, receipt.inclusion);
            CIVIC_ASSERT(ok);
            a.promise.deliver(std::move(receipt));
        }
        st.published_checkpoint = b.checkpoint;
        st.unreplicated.pop_front();
        delivered = true;
    }
    if (witnessed_wanted > 0 && st.config.on_witnessed_wanted)
        st.config.on_witnessed_wanted(witnessed_wanted);
    if (delivered) start_batch(self); // cutting may have waited for room
}

ledger_state::replica_link* link_of(ledger_state& st, const caf::actor_addr& who) {
    for (auto& r : st.replicas)
        if (r.handle.address() == who) return &r;
    return nullptr;
}

void schedule_replica_retry(ledger_pointer self) {
    if (self->state.replica_timer_set) return;
    self->state.replica_timer_set = true;
    self->delayed_send(self, self->state.config.replica_retry, atoms::tick_atom_v);
}

/// Learns how much a replica holds (after it joins, or after a gap).
void ask_replica_size(ledger_pointer self, ledger_state::replica_link& link) {
    link.busy = true;
    auto who = link.handle.address();
    self->request(link.handle, self->state.config.replica_timeout, atoms::status_atom_v)
        .then(
            [self, who](const ledger_status& s) {
                if (auto* l = link_of(self->state, who)) {
                    l->busy = false;
                    l->known = true;
                    l->acked = s.committed_size;
                    deliver_replicated(self);
                    replicate(self);
                }
            },
            [self, who](caf::error&) {
                if (auto* l = link_of(self->state, who)) {
                    l->busy = false;
                    l->retry_at = self->clock().now() + self->state.config.replica_retry;
                    schedule_replica_retry(self);
                }
            });
}

/// A replica now holds `to` entries instead of `from`: one lag sample (local
/// commit to the replica's acknowledgement) per recent batch that this covers.
void record_replica_lag(ledger_pointer self, std::uint64_t from, std::uint64_t to) {
    auto& st = self->state;
    auto now = self->clock().now();
    for (const auto& c : st.recent_commits) {
        if (c.end <= from || c.end > to) continue;
        auto lag = std::chrono::duration_cast<std::chrono::microseconds>(now - c.committed_at);
        if (st.replica_lags.size() < ledger_state::max_lag_samples)
            st.replica_lags.push_back(static_cast<std::uint64_t>(lag.count()));
        else
            st.replica_lags[st.next_lag_sample] = static_cast<std::uint64_t>(lag.count());
        st.next_lag_sample = (st.next_lag_sample + 1) % ledger_state::max_lag_samples;
    }
}

/// The q-quantile (0..1) of the recent lag samples, in microseconds.
std::uint64_t lag_quantile(const ledger_state& st, double q) {
    if (st.replica_lags.empty()) return 0;
    auto sorted = st.replica_lags;
    auto k = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1));
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k), sorted.end());
    return sorted[k];
}

/// The next batch for a replica that holds `from` entries: a committed batch
/// still in memory when it starts there, else entries read back from the store
/// up to a stored checkpoint.
caf::expected<replicated_batch> offer_from(ledger_state& st, std::uint64_t from) {
    replicated_batch offer;
    offer.first_index = from;
    offer.epoch = st.config.epoch;
    // From memory: every consecutive batch from there on, in one offer (up to the
    // catch-up bound), so that a replica round trip covers all that waits, not one
    // batch: batches are small when commits are quick.
    auto it = std::find_if(
        st.unreplicated.begin(), st.unreplicated.end(),
        [from](const ledger_state::committed_batch& b) { return b.first_index == from; });
    if (it != st.unreplicated.end()) {
        for (; it != st.unreplicated.end(); ++it) {
            if (!offer.entries.empty() &&
                offer.entries.size() + it->batch->entries.size() > st.config.max_catch_up_entries)
                break;
            offer.entries.insert(offer.entries.end(), it->batch->entries.begin(),
                                 it->batch->entries.end());
            offer.checkpoint = it->checkpoint;
        }
        return offer;
    }
    // Up to what is committed as far as this actor knows: the store may already hold
    // the batch whose commit reply is still in the mailbox.
    auto end = st.store->checkpoint_boundary(
        from, std::min(from + st.config.max_catch_up_entries, st.committed_size));
    if (!end || *end == 0 || *end > st.committed_size)
        return make_error(errc::storage_failure,
                          "no checkpoint to replicate up to from " + std::to_string(from));
    for (auto i = from; i < *end; ++i) {
        auto raw = st.store->entry(i);
        if (!raw || !*raw) return make_error(errc::storage_failure, "entry " + std::to_string(i));
        offer.entries.push_back(std::move(**raw));
    }
    auto cp = st.store->checkpoint_at(*end);
    if (!cp || !*cp) return make_error(errc::storage_failure, "checkpoint " + std::to_string(*end));
    offer.checkpoint = std::move(**cp);
    return offer;
}

/// Sends every idle replica that lags the next batch it needs.
void replicate(ledger_pointer self) {
    auto& st = self->state;
    auto now = self->clock().now();
    for (auto& link : st.replicas) {
        if (link.busy || now < link.retry_at) continue;
        if (!link.known) {
            ask_replica_size(self, link);
            continue;
        }
        if (link.acked >= st.committed_size) continue;
        auto offer = offer_from(st, link.acked);
        if (!offer) {
            link.retry_at = now + st.config.replica_retry;
            schedule_replica_retry(self);
            continue;
        }
        link.busy = true;
        auto who = link.handle.address();
        self->request(link.handle, st.config.replica_timeout, atoms::replicate_atom_v,
                      std::move(*offer))
            .then(
                [self, who](std::uint64_t size) {
                    if (auto* l = link_of(self->state, who)) {
                        l->busy = false;
                        record_replica_lag(self, l->acked, size);
                        l->acked = std::max(l->acked, size);
                        deliver_replicated(self);
                        replicate(self);
                    }
                },
                [self, who](caf::error& err) {
                    auto* l = link_of(self->state, who);
                    if (!l) return;
                    l->busy = false;
                    if (code_of(err) == static_cast<std::uint8_t>(errc::gap)) {
                        l->known = false; // it holds something else than we thought: ask
                        replicate(self);
                        return;
                    }
                    l->retry_at = self->clock().now() + self->state.config.replica_retry;
                    schedule_replica_retry(self);
                });
    }
}

void finish_batch(ledger_pointer self) {
    auto& st = self->state;
    st.counters.last_commit_us =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       self->clock().now() - st.commit_started)
                                       .count());
    st.committed_size += st.in_flight.size();
    st.latest_checkpoint = std::move(st.in_flight_checkpoint);
    ++st.counters.batches;
    st.counters.last_batch_size = st.in_flight.size();
    if (st.config.on_commit) {
        batch_report report;
        report.entries = st.in_flight.size();
        for (const auto& a : st.in_flight)
            report.bytes += a.entry.size();
        report.commit_time = std::chrono::microseconds(st.counters.last_commit_us);
        report.tree_size = st.committed_size;
        report.pending = st.pending.size();
        st.config.on_commit(report);
    }
    ledger_state::committed_batch done;
    done.first_index = st.committed_size - st.in_flight.size();
    done.end = st.committed_size;
    // Batches commit in order: the one that went to the committer ends the tree.
    CIVIC_ASSERT(st.in_flight_batch);
    CIVIC_ASSERT_EQ(done.first_index, st.in_flight_batch->first_index);
    done.appends = std::move(st.in_flight);
    done.checkpoint = st.latest_checkpoint;
    done.proofs = std::move(st.in_flight_proofs);
    done.batch = std::move(st.in_flight_batch);
    st.unreplicated.push_back(std::move(done));
    if (!st.replicas.empty()) {
        st.recent_commits.push_back({st.committed_size, self->clock().now()});
        if (st.recent_commits.size() > ledger_state::max_recent_commits)
            st.recent_commits.pop_front();
    }
    st.in_flight.clear();
    st.in_flight_proofs.reset();
    replicate(self);
    deliver_replicated(self);
    start_batch(self);
}

/// About what a batch writes: its entries, tiles, range and checkpoint.
std::uint64_t batch_bytes(const storage::batch& b) {
    std::uint64_t n = b.checkpoint.size() + 32 * b.range.size();
    for (const auto& e : b.entries)
        n += e.size();
    for (const auto& t : b.tiles)
        n += 32 * t.hashes.size();
    return n;
}

/// After a batch found no room in the store: refuses it and everything queued
/// behind it (none was acknowledged, so nothing is lost: the clients were told
/// to retry), and puts the tree and the registry back to what the store holds,
/// which is exactly what was committed (one commit at a time). Batches durable
/// here and waiting for replicas stay. False when the store cannot be read.
bool roll_back(ledger_pointer self) {
    auto& st = self->state;
    auto refusal = st.read_only.refusal("ledger");
    for (auto& a : st.in_flight)
        a.promise.deliver(refusal);
    for (auto& a : st.pending)
        a.promise.deliver(refusal);
    st.in_flight.clear();
    st.pending.clear();
    st.in_flight_proofs.reset();
    st.in_flight_batch.reset();
    st.in_flight_checkpoint.clear();
    st.registry.clear(); // it held the effects of refused entries; reloaded from the store
    auto tree = st.store->load_tree();
    if (!tree || tree->size() != st.committed_size) return false;
    st.tree = std::move(*tree);
    return true;
}

/// Tries the store again after the read-only backoff (on the actor's clock).
void schedule_probe(ledger_pointer self) {
    self->delayed_send(self, self->state.read_only.next_probe_delay(), atoms::probe_atom_v);
}

/// The probe timer: a write the size of the failed batch; once it goes
/// through, appends are taken again.
void probe(ledger_pointer self) {
    auto& st = self->state;
    if (!st.read_only.active()) return;
    auto bytes = st.read_only.probe_bytes();
    self->request(st.committer, st.config.commit_timeout, atoms::probe_atom_v, bytes)
        .then(
            [self](atoms::probe_atom) {
                self->state.read_only.leave();
                start_batch(self);
            },
            [self, bytes](caf::error& err) {
                if (self->state.read_only.failed(err, bytes)) return schedule_probe(self);
                auto failure =
                    make_error(errc::storage_failure, "store probe failed: " + message_of(err));
                fail_all(self->state, failure);
                self->quit(failure);
            });
}

// Cuts the next batch from the pending entries (when no commit is in flight),
// signs its checkpoint and hands it to the committer.
void start_batch(ledger_pointer self) {
    auto& st = self->state;
    if (!st.in_flight.empty() || st.pending.empty()) return;
    if (st.read_only.active()) return; // (nothing is pending then: accept refuses)
    if (st.unreplicated.size() >= st.config.max_unreplicated_batches) return; // replicas lag
    // Fencing: without enough replicas no batch could be acknowledged, and a
    // leader cut off from its replicas (perhaps deposed meanwhile) must not sign
    // checkpoints of a history nobody else holds.
    if (st.replicas.size() < st.config.replica_acks) return;
    auto b = std::make_shared<storage::batch>();
    b->first_index = st.tree.size();
    std::size_t bytes_in_batch = 0;
    std::map<std::string, storage::identity_record> changed;
    merkle::compact_range before = st.tree.range(); // a copy: the tree moves on
    std::vector<hash> leaves;
    while (!st.pending.empty() && st.in_flight.size() < st.config.max_batch_entries) {
        auto& next = st.pending.front();
        if (!st.in_flight.empty() && bytes_in_batch + next.entry.size() > st.config.max_batch_bytes)
            break;
        bytes_in_batch += next.entry.size();
        st.tree.append(next.leaf);
        leaves.push_back(next.leaf);
        b->entries.push_back(next.entry); // a copy: the receipt carries the entry too
        if (next.registry) changed[next.registry->name] = *next.registry;
        st.in_flight.push_back(std::move(next));
        st.pending.pop_front();
    }
    b->tiles = st.tree.take_changed_tiles();
    b->range = st.tree.range().hashes();
    for (auto& [name, rec] : changed)
        b->identities.push_back(std::move(rec));
    checkpoint cp{st.config.origin, st.tree.size(), st.tree.root(), {}};
    b->checkpoint = note::serialize(note::note{cp.text(), {st.log_key->sign(cp.text())}});
    st.in_flight_checkpoint = b->checkpoint;
    // The receipts' proofs are made here, from memory, after the batch has gone to
    // the committer: this work overlaps the fsync instead of following it.
    st.commit_started = self->clock().now();
    st.in_flight_batch = b;
    self->request(st.committer, st.config.commit_timeout, atoms::commit_atom_v,
                  batch_ptr(std::move(b)))
        .then([self](atoms::commit_atom) { finish_batch(self); },
              [self](caf::error& err) {
                  auto& s = self->state;
                  // No room: nothing of the batch is in the store (LMDB aborts the whole
                  // transaction), so the tree goes back to the store's and the ledger
                  // waits for room, read-only, instead of restarting into the same wall.
                  if (s.read_only.failed(err, batch_bytes(*s.in_flight_batch))) {
                      if (roll_back(self)) return schedule_probe(self);
                      err = make_error(errc::storage_failure, "cannot read the tree back");
                  }
                  // The tree in memory is now ahead of a store that failed: stop, and let a
                  // restart rebuild from what LMDB holds.
                  auto failure =
                      make_error(errc::storage_failure, "commit failed: " + message_of(err));
                  fail_all(s, failure);
                  self->quit(failure);
              });
    st.in_flight_proofs.emplace(before, leaves);
}

/// An entry from elsewhere stamped too far from the ledger's time, or nothing.
caf::error check_timestamp(ledger_pointer self, const entry& e) {
    const auto& config = self->state.config;
    if (config.max_timestamp_skew.count() <= 0) return {};
    auto now = config.unix_offset + std::chrono::duration_cast<std::chrono::milliseconds>(
                                        self->clock().now().time_since_epoch());
    auto here = static_cast<std::uint64_t>(std::max<std::int64_t>(now.count(), 0));
    auto off = e.timestamp_ms > here ? e.timestamp_ms - here : here - e.timestamp_ms;
    if (off > static_cast<std::uint64_t>(config.max_timestamp_skew.count()))
        return make_error(errc::invalid_entry,
                          "the entry's timestamp is " + std::to_string(off / 1000) +
                              " s from the ledger's clock (at most " +
                              std::to_string(config.max_timestamp_skew.count() / 1000) +
                              " s): check the signing machine's clock");
    return {};
}

// Admits one entry: decodes it, checks its signature (unless this node's signer
// made it), checks it against the registry, and queues it for the next batch.
caf::result<append_receipt> accept(ledger_pointer self, bytes raw, bool verify_signature,
                                   bool witnessed) {
    auto& st = self->state;
    if (st.read_only.active()) return st.read_only.refusal("ledger"); // at once: no commit
    if (st.pending.size() >= st.config.max_pending)
        return make_error(errc::overloaded, "the ledger queue is full; retry later");
    auto decoded = decode_entry(raw);
    if (!decoded) return make_error(errc::invalid_entry, decoded.message());
    if (verify_signature && !decoded->signature_valid())
        return make_error(errc::invalid_entry, "the entry's signature does not verify");
    if (verify_signature)
        if (auto skewed = check_timestamp(self, *decoded)) return skewed;
    std::uint64_t index = st.next_index();
    auto admitted = admit_for_identity(st, *decoded, index);
    if (!admitted) return std::move(admitted.error());
    if (*admitted) st.registry[decoded->identity] = **admitted;
    auto promise = self->make_response_promise<append_receipt>();
    hash leaf = merkle::leaf_hash(raw);
    st.pending.push_back({index, std::move(raw), leaf, std::move(*admitted), promise, witnessed});
    bool batch_full = st.pending.size() >= st.config.max_batch_entries;
    if (st.config.batch_linger.count() > 0 && st.in_flight.empty() && !batch_full) {
        if (!st.linger_timer_set) {
            st.linger_timer_set = true;
            self->delayed_send(self, st.config.batch_linger, atoms::flush_atom_v);
        }
    } else {
        start_batch(self);
    }
    return promise;
}

} // namespace

ledger_actor::behavior_type ledger(ledger_pointer self, ledger_config config,
                                   std::shared_ptr<storage::ledger_store> store,
                                   std::shared_ptr<const note::ed25519_signer> log_key,
                                   committer_actor committer) {
    auto& init = self->state;
    init.config = std::move(config);
    init.store = std::move(store);
    init.log_key = std::move(log_key);
    init.committer = std::move(committer);
    init.read_only.configure(init.config.read_only);

    auto tree = init.store->load_tree();
    auto verifier = note::make_verifier(init.log_key->verifier_key());
    status recovered =
        tree ? (verifier ? storage::verify_recovered_tree(*init.store, *tree, **verifier)
                         : status(verifier.err()))
             : status(tree.err());
    if (!recovered) {
        self->quit(make_error(errc::storage_failure, recovered.message()));
        return ledger_actor::behavior_type::make_empty_behavior();
    }
    init.tree = std::move(*tree);
    init.committed_size = init.tree.size();
    if (auto latest = init.store->latest_checkpoint(); latest && *latest)
        init.latest_checkpoint = **latest;
    // What the store holds was the last leader's to publish (a promotion in
    // between makes the node step down before a ledger starts on it).
    init.published_checkpoint = init.latest_checkpoint;
    self->monitor(init.committer);
    self->set_down_handler([self](caf::down_msg& msg) {
        auto& st = self->state;
        if (msg.source != st.committer.address()) { // a replica went away
            st.replicas.erase(std::remove_if(st.replicas.begin(), st.replicas.end(),
                                             [&](const ledger_state::replica_link& r) {
                                                 return r.handle.address() == msg.source;
                                             }),
                              st.replicas.end());
            st.config.log->warn("ledger", "a replica left",
                                {{"replica_node", caf::to_string(msg.source.node())},
                                 {"reason", message_of(msg.reason)},
                                 {"replicas", st.replicas.size()}});
            return;
        }
        auto failure =
            make_error(errc::storage_failure, "committer stopped: " + caf::to_string(msg.reason));
        fail_all(st, failure);
        self->quit(failure);
    });

    return {
        [self](atoms::append_atom, bytes& raw) -> caf::result<append_receipt> {
            return accept(self, std::move(raw), true, false);
        },
        [self](atoms::append_atom, bytes& raw, bool witnessed) -> caf::result<append_receipt> {
            return accept(self, std::move(raw), true, witnessed);
        },
        [self](atoms::append_atom, signed_locally& local) -> caf::result<append_receipt> {
            return accept(self, std::move(local.entry), false, local.witnessed);
        },
        [self](atoms::checkpt_atom) -> caf::result<std::string> {
            if (self->state.published_checkpoint.empty())
                return make_error(errc::no_checkpoint, "the log has no checkpoint yet");
            return self->state.published_checkpoint;
        },
        [self](atoms::flush_atom) {
            self->state.linger_timer_set = false;
            start_batch(self);
        },
        [self](atoms::join_atom, caf::actor& joining) -> caf::result<std::uint64_t> {
            auto& st = self->state;
            if (!joining) return make_error(errc::invalid_entry, "no replica");
            auto replica = caf::actor_cast<replica_actor>(joining);
            if (!link_of(st, replica.address())) {
                if (st.replicas.size() >= st.config.max_replicas)
                    return make_error(errc::overloaded, "too many replicas");
                self->monitor(replica);
                st.replicas.push_back({replica, 0, false, false, {}});
                st.config.log->info("ledger", "a replica joined",
                                    {{"replica_node", caf::to_string(replica.node())},
                                     {"replicas", st.replicas.size()},
                                     {"committed_size", st.committed_size}});
            }
            replicate(self);
            start_batch(self); // entries may have waited for replicas
            return st.committed_size;
        },
        [self](atoms::tick_atom) {
            self->state.replica_timer_set = false;
            replicate(self);
        },
        [self](atoms::probe_atom) { probe(self); },
        [self](atoms::status_atom) {
            auto& st = self->state;
            ledger_status s = st.counters;
            s.replicated_size = replicated_size(st);
            s.size = st.next_index();
            s.committed_size = st.committed_size;
            s.pending = st.pending.size();
            s.replicas = st.replicas.size();
            s.replica_lag_p50_us = lag_quantile(st, 0.50);
            s.replica_lag_p95_us = lag_quantile(st, 0.95);
            s.read_only_reason = st.read_only.reason();
            return s;
        },
    };
}

} // namespace civic::actors
