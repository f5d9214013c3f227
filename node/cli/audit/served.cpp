#include "node/cli/audit/served.hpp"

#include "protocol/note.hpp"

#include <cstring>

namespace civic::node::audit {
namespace {

/// Reads `partial_path`, else `full_path` when the partial resource is gone.
result<std::pair<std::string, std::string>> fetch_partial_or_full(log_source& source,
                                                                  const std::string& partial_path,
                                                                  const std::string& full_path,
                                                                  std::size_t max_bytes) {
    CIVIC_TRY_ASSIGN(body, source.fetch(partial_path, max_bytes));
    if (body) return std::make_pair(partial_path, std::move(*body));
    if (full_path != partial_path) {
        CIVIC_TRY_ASSIGN(full, source.fetch(full_path, max_bytes));
        if (full) return std::make_pair(full_path, std::move(*full));
    }
    return make_error(source.locate(partial_path) +
                      ": the log does not serve it, and the checkpoint needs it");
}

/// Splits a tlog-tiles bundle into `expected` entries: each a big-endian
/// uint16 length and that many bytes, nothing after the last.
} // namespace

std::size_t max_checkpoint_bytes() { return note::max_note_size; }

result<served_hashes> fetch_hash_tile(log_source& source, const tiles::tile_id& tile) {
    auto full = tile;
    full.width = static_cast<std::uint16_t>(tiles::tile_width);
    CIVIC_TRY_ASSIGN(read, fetch_partial_or_full(source, tiles::tile_path(tile),
                                                 tiles::tile_path(full), max_hash_tile_bytes));
    served_hashes out;
    out.path = std::move(read.first);
    const auto& body = read.second;
    const bool is_full = out.path != tiles::tile_path(tile) || tile.full();
    const std::size_t expected = (is_full ? tiles::tile_width : tile.width) * std::size_t{32};
    if (body.size() != expected) {
        out.malformed = std::to_string(body.size()) + " bytes, expected " +
                        std::to_string(expected) + " (" + std::to_string(expected / 32) +
                        " hashes)";
        return out;
    }
    out.hashes.resize(tile.width);
    for (std::size_t i = 0; i < tile.width; ++i)
        std::memcpy(out.hashes[i].data(), body.data() + 32 * i, 32);
    return out;
}

result<served_bundle> fetch_entry_bundle(log_source& source, std::uint64_t index,
                                         std::uint16_t width, std::size_t max_entry) {
    const auto limit = tiles::tile_width * (2 + max_entry);
    CIVIC_TRY_ASSIGN(read,
                     fetch_partial_or_full(source, tiles::entries_path(index, width),
                                           tiles::entries_path(index, tiles::tile_width), limit));
    served_bundle out;
    out.path = std::move(read.first);
    out.body = std::move(read.second);
    const bool is_full = out.path == tiles::entries_path(index, tiles::tile_width);
    out.malformed = tiles::split_entry_bundle(out.body, is_full ? tiles::tile_width : width,
                                              max_entry, out.spans_);
    if (!out.malformed.empty())
        out.spans_.clear();
    else
        out.spans_.resize(width); // a full bundle standing in for a partial one: its prefix
    return out;
}

status served_tile_reader::read_tiles(const std::vector<tiles::tile_id>& wanted,
                                      std::vector<std::vector<hash>>& out) const {
    out.clear();
    for (const auto& tile : wanted) {
        CIVIC_TRY_ASSIGN(served, fetch_hash_tile(source_, tile));
        if (!served.malformed.empty())
            return make_error(source_.locate(served.path) + ": " + served.malformed);
        out.push_back(std::move(served.hashes));
    }
    return {};
}

} // namespace civic::node::audit
