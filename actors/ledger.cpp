#include "actors/ledger.hpp"

#include "actors/errors.hpp"
#include "actors/registry.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"

#include <caf/event_based_actor.hpp>

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
caf::expected<std::optional<storage::identity_record>> admit(ledger_state& st, const entry& e,
                                                             std::uint64_t index) {
    auto found = lookup(st, e.identity);
    if (!found) return make_error(errc::storage_failure, found.message());
    return actors::admit(*found, e, index);
}

void fail_all(ledger_state& st, const caf::error& err) {
    for (auto& a : st.in_flight)
        a.promise.deliver(err);
    for (auto& a : st.pending)
        a.promise.deliver(err);
    st.in_flight.clear();
    st.pending.clear();
}

void start_batch(ledger_pointer self);

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
    for (auto& a : st.in_flight) {
        append_receipt receipt{a.index, st.latest_checkpoint, {}, std::move(a.entry)};
        if (auto ok = st.in_flight_proofs->proof(a.index, receipt.inclusion); !ok) {
            a.promise.deliver(
                make_error(errc::storage_failure, "inclusion proof: " + ok.message()));
            continue;
        }
        a.promise.deliver(std::move(receipt));
    }
    st.in_flight.clear();
    st.in_flight_proofs.reset();
    start_batch(self);
}

// Cuts the next batch from the pending entries (when no commit is in flight),
// signs its checkpoint and hands it to the committer.
void start_batch(ledger_pointer self) {
    auto& st = self->state;
    if (!st.in_flight.empty() || st.pending.empty()) return;
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
    self->request(st.committer, st.config.commit_timeout, atoms::commit_atom_v,
                  batch_ptr(std::move(b)))
        .then([self](atoms::commit_atom) { finish_batch(self); },
              [self](caf::error& err) {
                  // The tree in memory is now ahead of a store that failed: stop, and let a
                  // restart rebuild from what LMDB holds.
                  auto failure =
                      make_error(errc::storage_failure, "commit failed: " + message_of(err));
                  fail_all(self->state, failure);
                  self->quit(failure);
              });
    st.in_flight_proofs.emplace(before, leaves);
}

// Admits one entry: decodes it, checks its signature (unless this node's signer
// made it), checks it against the registry, and queues it for the next batch.
caf::result<append_receipt> accept(ledger_pointer self, bytes raw, bool verify_signature) {
    auto& st = self->state;
    if (st.pending.size() >= st.config.max_pending)
        return make_error(errc::overloaded, "the ledger queue is full; retry later");
    auto decoded = decode_entry(raw);
    if (!decoded) return make_error(errc::invalid_entry, decoded.message());
    if (verify_signature && !decoded->signature_valid())
        return make_error(errc::invalid_entry, "the entry's signature does not verify");
    std::uint64_t index = st.next_index();
    auto admitted = admit(st, *decoded, index);
    if (!admitted) return std::move(admitted.error());
    if (*admitted) st.registry[decoded->identity] = **admitted;
    auto promise = self->make_response_promise<append_receipt>();
    hash leaf = merkle::leaf_hash(raw);
    st.pending.push_back({index, std::move(raw), leaf, std::move(*admitted), promise});
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
    self->monitor(init.committer);
    self->set_down_handler([self](caf::down_msg& msg) {
        auto failure =
            make_error(errc::storage_failure, "committer stopped: " + caf::to_string(msg.reason));
        fail_all(self->state, failure);
        self->quit(failure);
    });

    return {
        [self](atoms::append_atom, bytes& raw) -> caf::result<append_receipt> {
            return accept(self, std::move(raw), true);
        },
        [self](atoms::append_atom, signed_locally& local) -> caf::result<append_receipt> {
            return accept(self, std::move(local.entry), false);
        },
        [self](atoms::checkpt_atom) -> caf::result<std::string> {
            if (self->state.latest_checkpoint.empty())
                return make_error(errc::unknown_identity, "the log has no checkpoint yet");
            return self->state.latest_checkpoint;
        },
        [self](atoms::flush_atom) {
            self->state.linger_timer_set = false;
            start_batch(self);
        },
        [self](atoms::status_atom) {
            auto& st = self->state;
            ledger_status s = st.counters;
            s.size = st.next_index();
            s.committed_size = st.committed_size;
            s.pending = st.pending.size();
            return s;
        },
    };
}

} // namespace civic::actors
