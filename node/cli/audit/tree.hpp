// The tree recomputed from the entry bundles, one bundle at a time, and
// every served hash tile held against it.
//
// When a bundle's entries and the served level-0 tile disagree, the tree
// above them decides which one is wrong: the served level-1 tile's hash of
// that level-0 tile (or, for the last partial bundle, the checkpoint's
// root). The side it confirms goes into the tree, so one damaged resource is
// one violation naming it, and the tiles above are still checked.
#pragma once

#include "node/cli/audit/report.hpp"
#include "node/cli/audit/served.hpp"
#include "node/cli/audit/state.hpp"
#include "storage/tree_state.hpp"

#include <optional>
#include <vector>

namespace civic::node::audit {

/// One bundle done: its entries, and which of them are the log's (hash to
/// the leaf the tree holds), from index `first` on.
struct bundle_done {
    served_bundle bundle;
    std::uint64_t begin = 0;   // index of the bundle's entry 0
    std::uint64_t first = 0;   // first index this run audits
    std::vector<bool> trusted; // for indexes first.., whether the entry is the log's
};

class tree_audit {
public:
    /// Continues `start` (nothing: the empty tree) towards the tree of
    /// `target_size` leaves whose root is `target_root`.
    static result<tree_audit> resume(const tree_snapshot* start, std::uint64_t target_size,
                                     const hash& target_root, std::size_t max_entry);

    std::uint64_t size() const { return tree_.size(); }
    std::uint64_t target_size() const { return target_size_; }
    bool done() const { return tree_.size() == target_size_; }
    /// The tree cannot go on: a bundle and its level-0 tile are both unreadable.
    bool stuck() const { return stuck_; }

    /// Reads the next bundle and the tiles it completes, checks them, and
    /// appends its leaves; full tiles go into `state`. A read that fails
    /// changes nothing (the error is the log's unreachability).
    result<bundle_done> advance(log_source& source, audit_state& state, violations& found);
    /// Whether the tree's root is the target's (once done()).
    bool root_matches() const { return tree_.root() == target_root_; }
    hash root() const { return tree_.root(); }
    tree_snapshot snapshot(const std::string& checkpoint) const;

private:
    struct reads;
    struct verdict;
    struct sides;
    result<reads> read_bundle(log_source& source) const;
    result<verdict> judge(log_source& source, const reads& r) const;
    verdict blame(const reads& r, sides s) const;
    void check_prefix(const reads& r, violations& found) const;
    void check_upper_tiles(const reads& r, const std::vector<storage::tile_write>& changed,
                           violations& found) const;

    storage::tree_state tree_;
    std::uint64_t target_size_ = 0;
    hash target_root_{};
    std::size_t max_entry_ = 0;
    bool stuck_ = false;
};

} // namespace civic::node::audit
