// The ledger's Merkle tree as the store lays it out: the compact range (root at
// any moment) plus the rightmost tile of every tile level, so that each batch of
// appends knows exactly which tiles to (re)write.
#pragma once

#include "protocol/tiles.hpp"

#include <vector>

namespace civic::storage {

/// A tile's new contents, to be written by the next commit.
struct tile_write {
    tiles::tile_id tile; // width = hashes.size()
    std::vector<hash> hashes;
};

class tree_state {
public:
    tree_state() = default;
    /// Rebuilds from what the store persisted: the compact range and the rightmost
    /// (possibly partial) tile of each level. Checks they agree on the size and
    /// that every tail makes the range (tail_matches).
    static result<tree_state> restore(merkle::compact_range range,
                                      std::vector<std::vector<hash>> tails);
    /// Whether `tail`, the rightmost tile of tile level `level` in a tree whose
    /// compact range is `range`, makes that range: its hashes, grouped by the
    /// binary digits of its width, are the range's subtrees of those heights.
    /// So a damaged tail cannot pass for part of the tree.
    static bool tail_matches(const merkle::compact_range& range, std::size_t level,
                             const std::vector<hash>& tail);

    std::uint64_t size() const { return range_.size(); }
    hash root() const { return range_.root(); }
    const merkle::compact_range& range() const { return range_; }
    /// The rightmost tile's hashes at each tile level (empty when that tile is not started).
    const std::vector<std::vector<hash>>& tails() const { return tails_; }

    void append(const hash& leaf_hash);
    /// Every tile changed since the last call, with its full current contents.
    std::vector<tile_write> take_changed_tiles();

private:
    merkle::compact_range range_;
    std::vector<std::vector<hash>> tails_; // tails_[L]: hashes of tile (L, count_L / 256)
    std::vector<tile_write> completed_;    // tiles that filled up since the last take
    std::vector<bool> tail_changed_;
};

} // namespace civic::storage
