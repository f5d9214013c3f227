// A real LMDB ledger store in a temporary directory, for the actor tests: the
// piece the ledger, replica and collector fixtures share (a virtual system, the
// store and its committer), and batches committed straight to a store, for the
// tests of actors that only read one (gateway, gossip).
#pragma once

#include "actors/committer.hpp"
#include "protocol/checkpoint.hpp"
#include "storage/ledger_store.hpp"
#include "support.hpp"
#include "virtual_system.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

namespace civic::test {

/// Opens (creating it) the ledger store in `directory`, an existing directory.
inline std::shared_ptr<storage::ledger_store> open_ledger_store(const std::string& directory) {
    auto opened = storage::ledger_store::open({directory});
    REQUIRE(opened.ok());
    return std::shared_ptr<storage::ledger_store>(std::move(*opened));
}

/// A virtual system with a ledger store in its own temporary directory and the
/// store's committer. A fixture spawns its actors on them between
/// `open_store()` and `close_store(its actors...)`; closing and opening again
/// is a restart from what the store holds.
struct store_system : virtual_system {
    temp_dir dir;
    std::shared_ptr<storage::ledger_store> store;
    actors::committer_actor committer;

    explicit store_system(const std::string& tag) : dir(tag) {}

    /// Boots the system, opens the store and spawns its committer.
    void open_store() {
        boot();
        store = open_ledger_store(dir.path.string());
        committer = sys->spawn(actors::committer, store);
    }
    /// Stops `users` (the actors on the store, handles of any kind) and then the
    /// committer, drops the system and closes the store. Nothing when not open.
    template <class... Handles>
    void close_store(Handles&... users) {
        if (!sys) return;
        (caf::anon_send_exit(users, caf::exit_reason::user_shutdown), ...);
        caf::anon_send_exit(committer, caf::exit_reason::user_shutdown);
        sched->run();
        ((users = nullptr), ...);
        committer = nullptr;
        shut_down();
        store.reset();
    }
};

/// The log-signed checkpoint of a tree.
inline std::string signed_checkpoint(const note::ed25519_signer& log, std::uint64_t size,
                                     const hash& root) {
    checkpoint cp{log.name(), size, root, {}};
    return note::serialize(note::note{cp.text(), {log.sign(cp.text())}});
}

/// Commits `entries` as one batch straight to `store` (no actor), extending
/// `tree` (the store's trusted tree, given to it with trust()), with the
/// checkpoint `log` signs for the tree they end.
inline void commit_batch(storage::ledger_store& store, storage::tree_state& tree,
                         const std::vector<bytes>& entries, const note::ed25519_signer& log) {
    storage::batch b;
    b.first_index = tree.size();
    for (const auto& e : entries) {
        b.entries.push_back(e);
        tree.append(merkle::leaf_hash(e));
    }
    b.tiles = tree.take_changed_tiles();
    b.range = tree.range().hashes();
    b.checkpoint = signed_checkpoint(log, tree.size(), tree.root());
    REQUIRE(store.commit(b).ok());
}

} // namespace civic::test
