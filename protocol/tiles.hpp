// C2SP tlog-tiles v0.1.0: tile coordinates and paths, and proof generation from
// a store that keeps the tree as tiles (level L, index N, 256 hashes a tile).
#pragma once

#include "protocol/merkle.hpp"

#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace civic::tiles {

constexpr unsigned tile_height = 8;
constexpr std::uint64_t tile_width = 256;
constexpr unsigned max_tile_level = 63;
/// Hashes of a tile at `level` are tree hashes at tree level `level * 8`.
constexpr unsigned tree_level(unsigned tile_level) { return tile_level * tile_height; }

/// A tile: level (0..63), index, and width (1..256; 256 is a full tile).
struct tile_id {
    std::uint8_t level = 0;
    std::uint64_t index = 0;
    std::uint16_t width = tile_width;
    bool full() const { return width == tile_width; }
    friend bool operator==(const tile_id& a, const tile_id& b) {
        return a.level == b.level && a.index == b.index && a.width == b.width;
    }
};

/// "x001/x234/067": an index as zero-padded 3-digit path elements.
std::string index_path(std::uint64_t index);
/// "tile/<L>/<N>[.p/<W>]".
std::string tile_path(const tile_id& tile);
/// "tile/entries/<N>[.p/<W>]".
std::string entries_path(std::uint64_t index, std::uint16_t width);

/// Splits a tlog-tiles entry bundle (each entry a big-endian uint16 length,
/// then that many bytes) into exactly `expected` entries of at most
/// `max_entry` bytes each: their (offset, length) in `spans`. Returns why the
/// body is not such a bundle, or an empty string.
std::string split_entry_bundle(std::string_view body, std::size_t expected, std::size_t max_entry,
                               std::vector<std::pair<std::size_t, std::size_t>>& spans);

/// A parsed request path below "tile/": either a hash tile or an entry bundle.
struct tile_request {
    bool entries = false;
    tile_id tile; // level is 0 for entry bundles
};
/// Parses "tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]" strictly: no
/// leading zeros, 3-digit elements, all but the last prefixed with 'x', W in
/// 1..255, L in 0..63.
result<tile_request> parse_tile_path(std::string_view path);

/// Width of the rightmost tile at `level` for a tree of `tree_size` leaves:
/// floor(size / 256^level) mod 256 (0 when there is no partial tile).
std::uint16_t partial_width(std::uint8_t level, std::uint64_t tree_size);
/// Whether tile (level, index, width) exists in a tree of `tree_size` leaves:
/// full tiles below the partial one, and the partial tile of exactly that width.
bool tile_exists(const tile_id& tile, std::uint64_t tree_size);
/// The tile (with the width it has at `tree_size`) holding tree node
/// (tree level tile_level*8, index `hash_index`).
tile_id tile_for(std::uint8_t tile_level, std::uint64_t hash_index, std::uint64_t tree_size);

/// Where proofs get their hashes: reads tiles. An implementation returns, for
/// each requested tile, at least `width` hashes (a wider prefix of the same tile
/// is fine: tiles only grow), or an error.
class tile_reader {
public:
    virtual ~tile_reader() = default;
    virtual status read_tiles(const std::vector<tile_id>& tiles,
                              std::vector<std::vector<hash>>& out) const = 0;
};

/// Answers "what is the hash of perfect subtree (level, index)" for a tree of a
/// given size. Proof generation is written against this.
class subtree_source {
public:
    virtual ~subtree_source() = default;
    /// Hashes of `nodes` (each a perfect subtree within the tree of `tree_size`
    /// leaves), in order.
    virtual result<std::vector<hash>> read(const std::vector<merkle::node_id>& nodes,
                                           std::uint64_t tree_size) = 0;
};

/// Stateless: reads each needed tile once per call and re-hashes inside it (a
/// subtree of height h inside a tile costs 2^h - 1 node hashes).
class tile_subtrees final : public subtree_source {
public:
    explicit tile_subtrees(const tile_reader& reader) : reader_(reader) {}
    result<std::vector<hash>> read(const std::vector<merkle::node_id>& nodes,
                                   std::uint64_t tree_size) override;

private:
    const tile_reader& reader_;
};

/// Keeps up to `capacity` tiles expanded into all their interior nodes (511 for a
/// full tile, 16 KiB), least recently used evicted first. A miss reads the tile
/// and hashes it once (255 node hashes for a full tile); a hit costs no hashing.
/// Proofs near the growing edge of a log touch the same few tiles over and over,
/// so a ledger answering many of them pays almost only lookups. Not thread-safe.
class tile_cache final : public subtree_source {
public:
    tile_cache(const tile_reader& reader, std::size_t capacity);
    result<std::vector<hash>> read(const std::vector<merkle::node_id>& nodes,
                                   std::uint64_t tree_size) override;
    std::size_t size() const { return tiles_.size(); }
    /// Subtree reads answered from a tile already expanded.
    std::uint64_t hits() const { return hits_; }
    /// Tiles read and expanded.
    std::uint64_t misses() const { return misses_; }

private:
    struct key {
        std::uint8_t level;
        std::uint64_t index;
        std::uint16_t width;
        bool operator<(const key& o) const {
            return std::tie(level, index, width) < std::tie(o.level, o.index, o.width);
        }
    };
    struct expanded {
        key id;
        std::vector<std::vector<hash>> heights; // heights[h][j]: subtree of height h, j-th
    };
    const tile_reader& reader_;
    std::size_t capacity_;
    std::list<expanded> lru_; // most recently used first
    std::map<key, std::list<expanded>::iterator> tiles_;
    std::uint64_t hits_ = 0, misses_ = 0;
};

/// RFC 6962 hash of the tree's first `size` leaves.
result<hash> root_at(subtree_source& source, std::uint64_t tree_size, std::uint64_t size);
result<hash> root_at(const tile_reader& reader, std::uint64_t tree_size, std::uint64_t size);
/// Inclusion proof for leaf `index` in the tree of `size` leaves.
result<std::vector<hash>> inclusion_proof(subtree_source& source, std::uint64_t index,
                                          std::uint64_t size);
result<std::vector<hash>> inclusion_proof(const tile_reader& reader, std::uint64_t index,
                                          std::uint64_t size);
/// Consistency proof from size `old_size` to `new_size` (0 < old <= new).
result<std::vector<hash>> consistency_proof(subtree_source& source, std::uint64_t old_size,
                                            std::uint64_t new_size);
result<std::vector<hash>> consistency_proof(const tile_reader& reader, std::uint64_t old_size,
                                            std::uint64_t new_size);

/// The ranges whose hashes make up the proofs, in proof order (exposed for tests).
std::vector<std::pair<std::uint64_t, std::uint64_t>> inclusion_ranges(std::uint64_t index,
                                                                      std::uint64_t size);
std::vector<std::pair<std::uint64_t, std::uint64_t>> consistency_ranges(std::uint64_t old_size,
                                                                        std::uint64_t new_size);

/// An in-memory tiled log (tests, benchmarks, the demo, and the simulator): keeps
/// the leaf hashes and every tile-level hash, and reads tiles like a store would.
class memory_tiles final : public tile_reader {
public:
    void append(const hash& leaf_hash);
    std::uint64_t size() const { return range_.size(); }
    hash root() const { return range_.root(); }
    status read_tiles(const std::vector<tile_id>& tiles,
                      std::vector<std::vector<hash>>& out) const override;

private:
    merkle::compact_range range_;
    std::vector<std::vector<hash>> levels_; // levels_[L] = hashes at tree level 8L
};

} // namespace civic::tiles
