// What a log serves, read and bounded: hash tiles and entry bundles of the
// tree of one checkpoint, and a tile_reader over them for proofs.
#pragma once

#include "node/cli/audit/source.hpp"
#include "protocol/tiles.hpp"

#include <string>
#include <utility>
#include <vector>

namespace civic::node::audit {

/// A full hash tile: 256 hashes.
constexpr std::size_t max_hash_tile_bytes = tiles::tile_width * 32;
/// tlog-tiles entries carry a 2-byte length: no entry of any log is larger.
constexpr std::size_t max_tlog_entry_size = 65535;
/// A checkpoint body: a signed note of the largest size we parse.
std::size_t max_checkpoint_bytes();

/// A hash tile as the log serves it.
struct served_hashes {
    std::string path;         // what was read: the full tile when the partial one is gone
    std::vector<hash> hashes; // the tile's first `width` hashes; empty when malformed
    std::string malformed;    // why the body is not such a tile, if it is not
};

/// Reads `tile`, whose width is the one the tree of the audited size has. A
/// log may delete a partial tile once the full one exists: then the full
/// tile's prefix stands in. Errors: the log is unreachable, or has neither.
result<served_hashes> fetch_hash_tile(log_source& source, const tiles::tile_id& tile);

/// An entry bundle as the log serves it.
struct served_bundle {
    std::string path;
    std::string body;
    std::string malformed; // why the body is not `width` length-prefixed entries, if it is not
    std::size_t count() const { return spans_.size(); }
    /// Entry `i` of the bundle (i < count()).
    byte_view entry(std::size_t i) const {
        return byte_view(body).subview(spans_[i].first, spans_[i].second);
    }
    std::vector<std::pair<std::size_t, std::size_t>> spans_; // offset, length of each entry
};

/// Reads entry bundle `index` of `width` entries (the full bundle's prefix
/// when the partial one is gone); `max_entry` bounds each entry.
result<served_bundle> fetch_entry_bundle(log_source& source, std::uint64_t index,
                                         std::uint16_t width, std::size_t max_entry);

/// The served hash tiles of the tree of `tree_size` leaves, for proofs and
/// roots computed from what the log serves. A malformed tile is an error.
class served_tile_reader final : public tiles::tile_reader {
public:
    explicit served_tile_reader(log_source& source) : source_(source) {}
    status read_tiles(const std::vector<tiles::tile_id>& wanted,
                      std::vector<std::vector<hash>>& out) const override;

private:
    log_source& source_;
};

} // namespace civic::node::audit
