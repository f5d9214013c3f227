// C2SP tlog-tiles v0.1.0: tile coordinates and paths, and proof generation from
// a store that keeps the tree as tiles (level L, index N, 256 hashes a tile).
#pragma once

#include "protocol/merkle.hpp"

#include <cstdint>
#include <map>
#include <string>
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

/// Reads perfect-subtree hashes of a tree of fixed size from tiles: each tile is
/// read once per call, and the hashes between tile levels are recomputed inside it.
class subtree_reader {
public:
    subtree_reader(const tile_reader& reader, std::uint64_t tree_size)
        : reader_(reader), tree_size_(tree_size) {}
    /// Hashes of `nodes` (each a perfect subtree within the tree), in order.
    result<std::vector<hash>> read(const std::vector<merkle::node_id>& nodes) const;

private:
    const tile_reader& reader_;
    std::uint64_t tree_size_;
};

/// RFC 6962 hash of the tree's first `size` leaves.
result<hash> root_at(const tile_reader& reader, std::uint64_t tree_size, std::uint64_t size);
/// Inclusion proof for leaf `index` in the tree of `size` leaves.
result<std::vector<hash>> inclusion_proof(const tile_reader& reader, std::uint64_t index,
                                          std::uint64_t size);
/// Consistency proof from size `old_size` to `new_size` (0 < old <= new).
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
