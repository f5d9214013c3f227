// The ledger's durable state in one LMDB environment per data directory:
// entries by index, tile-shaped tree hashes, every signed checkpoint, the tree
// state, the identity index and token hashes. A batch is one write transaction,
// fsync'd before commit() returns. Reads may come from any thread.
#pragma once

#include "protocol/note.hpp"
#include "protocol/split_view.hpp"
#include "protocol/tiles.hpp"
#include "storage/lmdb.hpp"
#include "storage/records.hpp"
#include "storage/tree_state.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace civic::storage {

/// Settings every node keeps in its store.
constexpr const char* origin_setting = "origin"; // the log's origin
/// The leadership epoch this node knows of: 0 for the first leader, one more
/// with each promotion. Leaders stamp it on what they replicate; replicas refuse
/// batches from an older epoch.
constexpr const char* epoch_setting = "epoch";
/// "leader" or "replica" once `promote`, or a leader stepping down, has changed
/// the node's role from what its topology says.
constexpr const char* role_setting = "role";

struct store_options {
    std::string directory;
    std::size_t map_size = std::size_t{64} << 30;
};

/// Everything one batch changes, written in one durable transaction.
struct batch {
    std::uint64_t first_index = 0;           // must equal the stored tree size
    std::vector<bytes> entries;              // leaves first_index, first_index + 1, ...
    std::vector<tile_write> tiles;           // from tree_state::take_changed_tiles()
    std::vector<hash> range;                 // compact range after the batch
    std::string checkpoint;                  // signed note for the tree after the batch
    std::vector<identity_record> identities; // registry records the batch changed
};

/// Errors of checked reads that mean the store's bytes are wrong, or missing
/// below the verified size (not that a read failed), contain this.
constexpr const char* damage_marker = "store damage: ";
bool is_damage(const error& e);

/// A tile-sized range of the store found damaged: the entries of entry tile
/// `index` (indexes 256 * index to 256 * index + 255), or the hashes of tile
/// (`level`, `index`). A store remembers at most max_damaged_ranges of them.
struct damaged_range {
    bool entries = true; // the entries, else the tile's hashes
    std::uint8_t level = 0;
    std::uint64_t index = 0;
    static damaged_range entries_of(std::uint64_t tile_index) { return {true, 0, tile_index}; }
    static damaged_range tile(std::uint8_t level, std::uint64_t index) {
        return {false, level, index};
    }
    /// "entries/0-256" or "tile/1/000": what logs and /api/status call it.
    std::string name() const;
    bool operator<(const damaged_range& o) const {
        return std::tie(entries, level, index) < std::tie(o.entries, o.level, o.index);
    }
    bool operator==(const damaged_range& o) const {
        return entries == o.entries && level == o.level && index == o.index;
    }
};
/// A bound on what a disk can make a node remember; damage past it is still
/// found (and answered 503) by every checked read, only not remembered.
constexpr std::size_t max_damaged_ranges = 1024;

class ledger_store final : public tiles::tile_reader {
public:
    /// Opens (creating) the store in an existing directory.
    static result<std::unique_ptr<ledger_store>> open(const store_options& options);

    /// The tree as of the last commit: compact range and rightmost tiles.
    result<tree_state> load_tree() const;
    /// The newest signed checkpoint, if any batch was ever committed.
    result<std::optional<std::string>> latest_checkpoint() const;

    /// Writes a batch durably. Fails (writing nothing) if first_index is not the
    /// stored size, or the batch is empty.
    status commit(const batch& b);
    /// Writes a record of `bytes` bytes, then removes it, each in its own durable
    /// transaction: whether the store takes writes again after it found no room
    /// (see shortage_of). The room it took stays in the file for the next batch.
    status probe_write(std::size_t bytes);

    /// Fault injection, for tests only (no flag or option sets it): while
    /// nonzero, commit() and probe_write() fail with this LMDB or errno code as
    /// lmdb_error renders it, writing nothing.
    std::atomic<int> test_fail_writes{0};

    // Reads.
    status read_tiles(const std::vector<tiles::tile_id>& tiles,
                      std::vector<std::vector<hash>>& out) const override;
    result<std::optional<bytes>> entry(std::uint64_t index) const;
    /// The tlog-tiles entry bundle N of width W: uint16 big-endian length-prefixed entries.
    result<bytes> entry_bundle(std::uint64_t tile_index, std::uint16_t width) const;
    result<std::optional<std::string>> checkpoint_at(std::uint64_t size) const;
    /// The size of the largest stored checkpoint in (after, at_most], or of the
    /// smallest one above `after` when none is that small (0: none above `after`).
    /// A batch boundary to replicate up to.
    result<std::uint64_t> checkpoint_boundary(std::uint64_t after, std::uint64_t at_most) const;
    result<std::optional<identity_record>> identity(const std::string& name) const;
    /// Up to `limit` identity names after `after` (empty: from the first), in byte order.
    result<std::vector<std::string>> identity_names(const std::string& after,
                                                    std::size_t limit) const;
    std::uint64_t stored_size() const;
    /// Up to `limit` indexes of `name`'s entries (every kind), in log order,
    /// above `after` (nothing: from its first). From the per-identity index
    /// that every commit writes with its entries.
    result<std::vector<std::uint64_t>> identity_entries(const std::string& name,
                                                        std::optional<std::uint64_t> after,
                                                        std::size_t limit) const;
    /// Brings the per-identity index up to the stored size (a store written
    /// before the index existed), `per_transaction` entries per durable
    /// transaction; returns how many entries it indexed.
    result<std::uint64_t> index_identity_entries(std::size_t per_transaction = 50000);

    // Tokens (admin operations, their own small transactions).
    status put_token(const hash& token_sha256, const token_record& record);
    /// Whether there was such a token (false: nothing deleted).
    result<bool> delete_token(const hash& token_sha256);
    result<std::optional<token_record>> token(const hash& token_sha256) const;
    /// Every token record (at most `limit`), to carry them to a promoted node.
    result<std::vector<std::pair<hash, token_record>>> tokens(std::size_t limit = 100000) const;

    // Small settings (origin, epoch, ...; see the *_setting names below).
    status put_setting(const std::string& key, const std::string& value);
    result<std::optional<std::string>> setting(const std::string& key) const;

    environment& env() { return *env_; }

    // Checked reads. Every entry, bundle and tile they return was hashed and
    // checked against a tree held in memory: the one given to trust() (checked
    // against the signed checkpoint at start), advanced by every commit from the
    // writer's own tree (never re-read from disk). A full tile is checked once
    // against its hash in the tile above, up to the rightmost tiles, which are
    // the tree's own; then kept (checked, immutable) in a bounded cache. So an
    // entry costs one leaf hash when its tile is cached, and about 255 node
    // hashes per tile level below the top when not. Thread-safe.

    /// Trusts `verified` as the store's tree (after verify_recovered_tree).
    void trust(const tree_state& verified);
    /// The size of the trusted tree (0 before trust()).
    std::uint64_t verified_size() const;
    /// Entry `index` of the trusted tree, checked; nothing at or beyond its size.
    result<std::optional<bytes>> checked_entry(std::uint64_t index) const;
    /// The entry bundle N of width W, every entry checked.
    result<bytes> checked_entry_bundle(std::uint64_t tile_index, std::uint16_t width) const;
    /// Tiles for proofs, every hash checked (tiles within the trusted tree only).
    const tiles::tile_reader& verified_tiles() const { return verified_reader_; }

    // Damage. A checked read or a scrub that finds damage remembers its range;
    // from then on every checked read of that range fails at once, without
    // reading it, until the range is healed.

    /// Checks entry tile N as it is on disk (never from the cache): its entries
    /// and its level-0 tile against the trusted tree, and every tile of a higher
    /// level that starts at it (tile (L, N / 256^L) when 256^L divides N).
    /// About three hashes per entry. The first damage found, every damaged
    /// range remembered; ok for a tile beyond the trusted tree.
    status scrub_entry_tile(std::uint64_t tile_index) const;
    /// Rewrites entry tile N from `entries` (at least the tile's width in the
    /// trusted tree; from this store or a peer): only when their leaf hashes
    /// make the trusted tree's hashes, in one durable transaction with the
    /// level-0 tile; then forgets the range's damage (entries and level-0 tile).
    status heal_entry_tile(std::uint64_t tile_index, const std::vector<bytes>& entries);
    /// Rewrites hash tile (level >= 1, index) from this store's tiles one level
    /// down (each hash the root of one full tile below), or from the trusted
    /// tree's own hashes for its rightmost tile: only when they make the
    /// trusted tree, so a damaged tile below refuses the heal. Then forgets
    /// the tile's damage.
    status heal_hash_tile(std::uint8_t level, std::uint64_t index);
    /// The ranges remembered as damaged, in order.
    std::vector<damaged_range> damaged_ranges() const;
    /// Called once for each range newly remembered as damaged, with what was
    /// found, on the thread that found it (outside the store's locks).
    void on_damage(std::function<void(const damaged_range&, const std::string& what)> observer);

private:
    ledger_store() : verified_reader_(*this) {}
    struct anchor;
    struct verified_tile_cache;
    /// Reads tiles for proofs through the checks.
    class verified_reader final : public tiles::tile_reader {
    public:
        explicit verified_reader(const ledger_store& store) : store_(store) {}
        status read_tiles(const std::vector<tiles::tile_id>& tiles,
                          std::vector<std::vector<hash>>& out) const override;

    private:
        const ledger_store& store_;
    };
    std::shared_ptr<const anchor> current_anchor() const;
    /// Whether a heal may write a tile `width` hashes wide: a full tile never
    /// changes again; the tree's rightmost one grows with each commit, which
    /// rewrites it whole, so only while the stored tree (read in `txn`, the
    /// heal's write transaction: writers are serialised) is still the one of
    /// size `trusted_size` that the tile was checked against.
    result<bool> heal_may_write_tile(const transaction& txn, std::uint16_t width,
                                     std::uint64_t trusted_size) const;
    /// The checked hashes of full tile (level, index) in the tree of `a`.
    result<std::shared_ptr<const std::vector<hash>>>
    verified_full_tile(const anchor& a, std::uint8_t level, std::uint64_t index) const;
    /// The checked hashes of any tile within the tree of `a`.
    result<std::vector<hash>> verified_tile(const anchor& a, const tiles::tile_id& tile) const;
    /// Moves the trusted tree to the one a committed batch made.
    void advance_anchor(const batch& b);
    /// The hash full tile (level, index) must have as its root: in the tile
    /// above, checked, or the tree's own.
    result<hash> expected_root(const anchor& a, std::uint8_t level, std::uint64_t index) const;
    /// Whether `hashes` are tile (level, index) of width hashes.size() in the tree
    /// of `a` (a full tile by its root, the rightmost one hash by hash).
    result<bool> matches_tree(const anchor& a, std::uint8_t level, std::uint64_t index,
                              const std::vector<hash>& hashes) const;
    /// Checks tile (level, index) of `width` as stored on disk.
    status scrub_tile(const anchor& a, std::uint8_t level, std::uint64_t index,
                      std::uint16_t width) const;
    /// Remembers `r` as damaged (the observer hears of a new one) and returns
    /// the damage error for `what`.
    error note_damage(const damaged_range& r, const std::string& what) const;
    /// The error for a read of a range remembered as damaged, if it is.
    std::optional<error> known_damage(const damaged_range& r) const;

    std::shared_ptr<environment> env_;
    MDB_dbi meta_ = 0, entries_ = 0, tiles_ = 0, checkpoints_ = 0, identities_ = 0, tokens_ = 0,
            identity_entries_ = 0;
    mutable std::mutex anchor_mutex_;
    std::shared_ptr<const anchor> anchor_; // null until trust()
    std::shared_ptr<verified_tile_cache> verified_cache_;
    verified_reader verified_reader_;
    mutable std::mutex damage_mutex_;
    mutable std::map<damaged_range, std::string> damaged_; // what was found, by range
    std::function<void(const damaged_range&, const std::string&)> damage_observer_;
};

/// Checks every stored hash: each entry against its level-0 tile, each full tile
/// against its hash in the tile above, and the tiles' root against the tree's.
/// About one leaf hash and one node hash per entry; the startup check
/// (verify_recovered_tree) reads only the path to the root.
status audit_tree(const ledger_store& store, const tree_state& tree);

/// After a restart: checks that the stored tree is exactly the one the latest
/// signed checkpoint commits to (size and root, recomputed from the stored tiles
/// too), and that the log signed it. A node refuses to start when this fails.
status verify_recovered_tree(const ledger_store& store, const tree_state& tree,
                             const note::verifier& log_key);

/// Whether a checkpoint the log signed contradicts the tree this store holds:
/// another root at a size the store holds. Returns the evidence (this store's
/// latest signed checkpoint, the other one, and for a smaller size the root and
/// consistency proof that show it), or nothing when it agrees or is beyond the
/// store's size (the store cannot tell yet). The signature is not checked here.
std::optional<split_view_evidence> contradiction(const ledger_store& store,
                                                 const std::string& signed_checkpoint);

/// The epoch in the store (0 when none is set or it is unreadable).
std::uint64_t stored_epoch(const ledger_store& store);
status store_epoch(ledger_store& store, std::uint64_t epoch);

} // namespace civic::storage
