#include "actors/replica.hpp"

#include "actors/errors.hpp"
#include "actors/registry.hpp"
#include "protocol/assert.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"

namespace civic::actors {
namespace {

/// A checked batch, ready to commit, and the tree it makes.
struct prepared {
    std::shared_ptr<storage::batch> batch;
    storage::tree_state tree;
    std::uint64_t bytes = 0; // about what the commit writes
};

caf::error refuse(const std::string& why) { return make_error(errc::inconsistent, why); }

/// Checks an offer (starting exactly at the replica's size) against the signed
/// checkpoint and the registry's rules, on a copy of the tree: nothing changes
/// unless every check passes. Entries are not signature-checked one by one: the
/// log's signature on the checkpoint vouches for the tree they make, and the
/// replica's job is to hold that tree, not to second-guess the leader's admission.
/// The offer's checkpoint, if it is this log's and the log signed it.
caf::expected<signed_checkpoint> log_signed(const replica_state& st, const std::string& text) {
    auto cp = parse_signed_checkpoint(text);
    if (!cp) return refuse("checkpoint: " + cp.message());
    if (cp->body.origin != st.config.origin)
        return refuse("checkpoint of '" + cp->body.origin + "', not '" + st.config.origin + "'");
    std::vector<const note::verifier*> keys{st.log_key.get()};
    if (auto opened = note::open(cp->signed_note, keys); !opened)
        return refuse("checkpoint not signed by the log: " + opened.message());
    return std::move(*cp);
}

caf::expected<prepared> prepare(replica_state& st, const replicated_batch& offer) {
    auto cp = log_signed(st, offer.checkpoint);
    if (!cp) return std::move(cp.error());
    if (cp->body.size != offer.first_index + offer.entries.size())
        return refuse("checkpoint size " + std::to_string(cp->body.size) + " is not the end of " +
                      "the batch (" + std::to_string(offer.first_index + offer.entries.size()) +
                      ")");

    prepared out{std::make_shared<storage::batch>(), st.tree};
    std::map<std::string, storage::identity_record> changed;
    for (std::size_t i = 0; i < offer.entries.size(); ++i) {
        const auto& raw = offer.entries[i];
        auto index = offer.first_index + i;
        auto e = decode_entry(raw);
        if (!e) return refuse("entry " + std::to_string(index) + ": " + e.message());
        std::optional<storage::identity_record> current;
        if (auto it = changed.find(e->identity); it != changed.end()) {
            current = it->second;
        } else {
            auto stored = st.store->identity(e->identity);
            if (!stored) return make_error(errc::storage_failure, stored.message());
            current = *stored;
        }
        auto after = admit(current, *e, index);
        if (!after)
            return refuse("entry " + std::to_string(index) + ": " + message_of(after.error()));
        if (*after) changed[e->identity] = **after;
        out.tree.append(merkle::leaf_hash(raw));
    }
    if (out.tree.root() != cp->body.root)
        return refuse("the entries make another tree than the checkpoint signs (size " +
                      std::to_string(cp->body.size) + ")");
    auto& b = *out.batch;
    b.first_index = offer.first_index;
    b.entries = offer.entries;
    b.tiles = out.tree.take_changed_tiles();
    b.range = out.tree.range().hashes();
    b.checkpoint = offer.checkpoint;
    for (auto& [name, rec] : changed)
        b.identities.push_back(std::move(rec));
    out.bytes = b.checkpoint.size() + 32 * b.range.size();
    for (const auto& e : b.entries)
        out.bytes += e.size();
    for (const auto& t : b.tiles)
        out.bytes += 32 * t.hashes.size();
    return out;
}

void fail_all(replica_state& st, const caf::error& err) {
    for (auto& o : st.queue)
        o.promise.deliver(err);
    st.queue.clear();
}

void process(replica_pointer self);

/// Tries the store again after the read-only backoff (on the actor's clock).
void schedule_probe(replica_pointer self) {
    self->delayed_send(self, self->state.read_only.next_probe_delay(), atoms::probe_atom_v);
}

/// The probe timer: a write about the size of the refused batch; once it goes
/// through, offers are taken again (the leader resends what it lacks).
void probe(replica_pointer self) {
    auto& st = self->state;
    if (!st.read_only.active()) return;
    auto bytes = st.read_only.probe_bytes();
    self->request(st.committer, st.config.commit_timeout, atoms::probe_atom_v, bytes)
        .then([self](atoms::probe_atom) { self->state.read_only.leave(); },
              [self, bytes](caf::error& err) {
                  if (self->state.read_only.failed(err, bytes)) return schedule_probe(self);
                  auto failure =
                      make_error(errc::storage_failure, "store probe failed: " + message_of(err));
                  fail_all(self->state, failure);
                  self->quit(failure);
              });
}

/// Answers or commits the offers at the front of the queue, one commit at a time.
void process(replica_pointer self) {
    auto& st = self->state;
    while (!st.committing && !st.queue.empty()) {
        auto& front = st.queue.front();
        auto& offer = front.batch;
        auto size = st.tree.size();
        auto end = offer.first_index + offer.entries.size();
        if (end <= size) { // held already: a resend
            front.promise.deliver(size);
            st.queue.pop_front();
            continue;
        }
        if (offer.first_index > size) {
            front.promise.deliver(
                make_error(errc::gap, "the replica holds " + std::to_string(size) +
                                          " entries; send from there (offered from " +
                                          std::to_string(offer.first_index) + ")"));
            st.queue.pop_front();
            continue;
        }
        if (offer.first_index < size) { // overlaps what we hold: keep the new tail only
            offer.entries.erase(offer.entries.begin(),
                                offer.entries.begin() +
                                    static_cast<std::ptrdiff_t>(size - offer.first_index));
            offer.first_index = size;
        }
        auto ready = prepare(st, offer);
        if (!ready) {
            front.promise.deliver(std::move(ready.error()));
            st.queue.pop_front();
            continue;
        }
        st.committing = true;
        auto started = self->clock().now();
        self->request(st.committer, st.config.commit_timeout, atoms::commit_atom_v,
                      batch_ptr(ready->batch))
            .then(
                [self, tree = std::move(ready->tree), started](atoms::commit_atom) mutable {
                    auto& s = self->state;
                    s.committing = false;
                    auto added = tree.size() - s.tree.size();
                    s.tree = std::move(tree);
                    ++s.counters.batches;
                    s.counters.last_batch_size = added;
                    s.counters.last_commit_us = static_cast<std::uint64_t>(
                        std::chrono::duration_cast<std::chrono::microseconds>(self->clock().now() -
                                                                              started)
                            .count());
                    if (s.config.on_durable) s.config.on_durable(s.tree.size());
                    s.queue.front().promise.deliver(s.tree.size());
                    s.queue.pop_front();
                    process(self);
                },
                [self, bytes = ready->bytes](caf::error& err) {
                    auto& s = self->state;
                    if (s.read_only.failed(err, bytes)) {
                        // No room: LMDB wrote nothing of the batch and the tree here is
                        // still the store's. Refuse the offers (the leader resends), stay
                        // read-only and probe the store until it takes writes again.
                        s.committing = false;
                        fail_all(s, s.read_only.refusal("replica"));
                        return schedule_probe(self);
                    }
                    // The store may be ahead of or behind this state now: stop, and let a
                    // restart rebuild from what LMDB holds.
                    auto failure =
                        make_error(errc::storage_failure, "commit failed: " + message_of(err));
                    fail_all(s, failure);
                    self->quit(failure);
                });
        return;
    }
}

} // namespace

replica_actor::behavior_type replica(replica_pointer self, replica_config config,
                                     std::shared_ptr<storage::ledger_store> store,
                                     note::vkey log_key, committer_actor committer) {
    auto& init = self->state;
    init.config = std::move(config);
    init.store = std::move(store);
    init.committer = std::move(committer);
    init.read_only.configure(init.config.read_only);
    auto verifier = note::make_verifier(log_key);
    auto tree = init.store->load_tree();
    status recovered = !verifier ? status(verifier.err())
                       : !tree   ? status(tree.err())
                                 : storage::verify_recovered_tree(*init.store, *tree, **verifier);
    if (!recovered) {
        self->quit(make_error(errc::storage_failure, recovered.message()));
        return replica_actor::behavior_type::make_empty_behavior();
    }
    init.log_key = std::move(*verifier);
    init.tree = std::move(*tree);
    init.epoch = storage::stored_epoch(*init.store);
    self->monitor(init.committer);
    self->set_down_handler([self](caf::down_msg& msg) {
        auto failure =
            make_error(errc::storage_failure, "committer stopped: " + caf::to_string(msg.reason));
        fail_all(self->state, failure);
        self->quit(failure);
    });
    return {
        [self](atoms::replicate_atom, replicated_batch& offer) -> caf::result<std::uint64_t> {
            auto& st = self->state;
            auto why = sender_refusal(st.config.peers.get(), self->current_sender(), self->node(),
                                      &st.config.leaders, "offer a replica batches");
            if (!why.empty()) {
                st.config.peers->refused("replica: refused: " + why);
                return make_error(errc::forbidden, why);
            }
            if (st.read_only.active()) return st.read_only.refusal("replica"); // at once
            if (offer.epoch < st.epoch) {
                // Once per deposed epoch: its leader retries every batch.
                if (std::exchange(st.last_fenced_epoch, offer.epoch) != offer.epoch)
                    st.config.log->warn("replica", "fenced off a deposed leader's batch",
                                        {{"batch_epoch", offer.epoch},
                                         {"epoch", st.epoch},
                                         {"first_index", offer.first_index}});
                return make_error(errc::not_leader,
                                  "a batch from epoch " + std::to_string(offer.epoch) +
                                      "; this replica follows epoch " + std::to_string(st.epoch));
            }
            if (offer.epoch > st.epoch) {
                // A new leader: remembered before anything of it is accepted, so
                // that after a restart the old one is still refused; only from a
                // batch the log signed (a peer's certificate alone must not be
                // enough to fence off the real leader). Rare (once per
                // promotion): a small synchronous write.
                if (auto cp = log_signed(st, offer.checkpoint); !cp) return std::move(cp.error());
                if (auto ok = storage::store_epoch(*st.store, offer.epoch); !ok)
                    return make_error(storage::shortage_of(ok.err()) ==
                                              storage::space_shortage::none
                                          ? errc::storage_failure
                                          : errc::no_space,
                                      ok.message());
                st.config.log->info("replica", "follows a new leader's epoch",
                                    {{"epoch", offer.epoch}, {"was", st.epoch}});
                st.epoch = offer.epoch;
            }
            CIVIC_ASSERT_EQ(offer.epoch, st.epoch); // older refused, newer adopted above
            if (offer.entries.empty()) return make_error(errc::inconsistent, "an empty batch");
            if (offer.entries.size() > st.config.max_batch_entries)
                return make_error(errc::overloaded,
                                  "batches hold at most " +
                                      std::to_string(st.config.max_batch_entries) + " entries");
            for (const auto& raw : offer.entries)
                if (raw.size() > max_entry_size)
                    return make_error(errc::inconsistent, "an entry longer than any valid entry");
            if (st.queue.size() >= st.config.max_queued_batches)
                return make_error(errc::overloaded, "the replica's queue is full; retry later");
            auto promise = self->make_response_promise<std::uint64_t>();
            st.queue.push_back({std::move(offer), promise});
            process(self);
            return promise;
        },
        [self](atoms::status_atom) {
            auto s = self->state.counters;
            s.size = s.committed_size = self->state.tree.size();
            s.pending = self->state.queue.size();
            s.read_only_reason = self->state.read_only.reason();
            return s;
        },
        [self](atoms::probe_atom) { probe(self); },
    };
}

} // namespace civic::actors
