// What an audit keeps between runs (--state DIR), in one LMDB environment so
// that the progress record and the registry records and tiles it accounts
// for commit in one fsync'd transaction: after a crash they never disagree.
//
//   DIR/lock         held (flock) by the one audit using DIR
//   DIR/lmdb/        meta: the state record (below); tiles: every full hash
//                    tile of the audited tree, as recomputed (32 bytes an
//                    entry: the auditor's own copy, from which it proves a
//                    rollback); identities: the registry at the verified size;
//                    pending: registry records changed since then
//   DIR/checkpoint   the last verified checkpoint, for people and scripts
//   DIR/evidence/    split views found (see evidence.hpp)
#pragma once

#include "protocol/tiles.hpp"
#include "storage/lmdb.hpp"
#include "storage/records.hpp"

#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace civic::node::audit {

/// A recomputed tree: the checkpoint it is (or is being audited towards),
/// how many leaves are in, and its compact range and rightmost tiles there.
struct tree_snapshot {
    std::string checkpoint; // signed note
    std::uint64_t size = 0;
    std::vector<hash> range;
    std::vector<std::vector<hash>> tails; // tails[L]: the rightmost tile of level L
};

/// The state record.
struct audit_record {
    std::string origin;
    std::string vkey;
    bool tree_only = false; // made by --tree-only runs: it holds no registry
    /// The last checkpoint whose tree was recomputed whole and matched.
    std::optional<tree_snapshot> verified;
    /// An audit under way towards progress->checkpoint, from `verified`.
    std::optional<tree_snapshot> progress;
    std::uint64_t violations = 0; // found by all runs so far
};

class audit_state {
public:
    /// Opens (making it if needed) the state in `directory`, which must exist.
    /// Refuses one another audit is using. `identity_cache` bounds the
    /// registry records kept in memory.
    static result<std::unique_ptr<audit_state>> open(const std::string& directory,
                                                     std::size_t identity_cache);
    ~audit_state();
    audit_state(const audit_state&) = delete;
    audit_state& operator=(const audit_state&) = delete;

    const std::string& directory() const { return directory_; }
    /// Whether no run has committed to this state yet.
    bool fresh() const { return fresh_; }
    audit_record& record() { return record_; }

    // Changes below go into the open transaction: durable at the next commit.
    result<std::optional<storage::identity_record>> identity(const std::string& name);
    status put_identity(const storage::identity_record& r);
    status put_full_tile(const tiles::tile_id& tile, const std::vector<hash>& hashes);
    /// The tiles of the verified tree (its full tiles, and its rightmost ones).
    const tiles::tile_reader& verified_tiles() const { return *verified_reader_; }

    /// Commits the record and every change since the last commit, durably.
    status commit();
    /// The audit in progress verified: it becomes `verified`, its registry
    /// records join the registry, and all of it commits.
    status promote_progress();
    /// The audit in progress did not verify: its registry records are
    /// dropped, the state returns to `verified`, and that commits.
    status drop_progress();

private:
    audit_state() = default;
    status begin();
    status open_databases();
    status load_record();
    result<std::optional<storage::identity_record>> read_identity(const std::string& name);
    void remember(const std::string& name, std::optional<storage::identity_record> r);

    std::string directory_;
    int lock_fd_ = -1;
    std::shared_ptr<storage::environment> env_;
    MDB_dbi meta_ = 0, tiles_ = 0, identities_ = 0, pending_ = 0;
    std::optional<storage::transaction> txn_;
    bool fresh_ = true;
    audit_record record_;
    std::unique_ptr<tiles::tile_reader> verified_reader_;

    // Least recently used registry records (nullopt: the name is not registered).
    std::size_t cache_capacity_ = 0;
    using cache_entry = std::pair<std::string, std::optional<storage::identity_record>>;
    std::list<cache_entry> cache_order_; // most recent first
    std::unordered_map<std::string, std::list<cache_entry>::iterator> cache_;
    friend class verified_tile_reader;
};

} // namespace civic::node::audit
