#include "protocol/tiles.hpp"

#include "protocol/assert.hpp"

#include <algorithm>
#include <cstdio>

namespace civic::tiles {

using merkle::node_id;

std::string index_path(std::uint64_t index) {
    // Collect 3-digit groups least significant first.
    std::vector<unsigned> groups;
    do {
        groups.push_back(static_cast<unsigned>(index % 1000));
        index /= 1000;
    } while (index > 0);
    std::string out;
    char buf[8];
    for (std::size_t i = groups.size(); i-- > 0;) {
        std::snprintf(buf, sizeof buf, i == 0 ? "%03u" : "x%03u/", groups[i]);
        out += buf;
    }
    return out;
}

namespace {
std::string width_suffix(std::uint16_t width) {
    return width == tile_width ? std::string() : ".p/" + std::to_string(width);
}
} // namespace

std::string tile_path(const tile_id& tile) {
    return "tile/" + std::to_string(tile.level) + "/" + index_path(tile.index) +
           width_suffix(tile.width);
}

std::string split_entry_bundle(std::string_view body, std::size_t expected, std::size_t max_entry,
                               std::vector<std::pair<std::size_t, std::size_t>>& spans) {
    std::size_t at = 0;
    while (at < body.size()) {
        if (spans.size() == expected) return "more than " + std::to_string(expected) + " entries";
        if (body.size() - at < 2) return "a length prefix cut short at byte " + std::to_string(at);
        auto length = get_u16_be(reinterpret_cast<const std::uint8_t*>(body.data() + at));
        at += 2;
        if (length > max_entry)
            return "entry " + std::to_string(spans.size()) + " is " + std::to_string(length) +
                   " bytes, more than the " + std::to_string(max_entry) + " an entry may be";
        if (body.size() - at < length)
            return "entry " + std::to_string(spans.size()) + " is cut short";
        spans.emplace_back(at, length);
        at += length;
    }
    if (spans.size() != expected)
        return std::to_string(spans.size()) + " entries, expected " + std::to_string(expected);
    return {};
}

std::string entries_path(std::uint64_t index, std::uint16_t width) {
    return "tile/entries/" + index_path(index) + width_suffix(width);
}

result<tile_request> parse_tile_path(std::string_view path) {
    constexpr std::string_view prefix = "tile/";
    if (path.substr(0, prefix.size()) != prefix)
        return make_error("tile path must start with tile/");
    path.remove_prefix(prefix.size());
    tile_request req;
    auto slash = path.find('/');
    if (slash == std::string_view::npos) return make_error("tile path has no index");
    auto level_text = path.substr(0, slash);
    if (level_text == "entries") {
        req.entries = true;
    } else {
        auto level = parse_decimal(level_text, max_tile_level);
        if (!level) return make_error("tile level: " + level.message());
        req.tile.level = static_cast<std::uint8_t>(*level);
    }
    path.remove_prefix(slash + 1);

    // Optional ".p/<W>" suffix.
    req.tile.width = tile_width;
    auto partial = path.find(".p/");
    if (partial != std::string_view::npos) {
        auto width = parse_decimal(path.substr(partial + 3), tile_width - 1);
        if (!width || *width == 0) return make_error("tile width must be 1..255");
        req.tile.width = static_cast<std::uint16_t>(*width);
        path = path.substr(0, partial);
    }

    // "x001/x234/067": every element 3 digits, all but the last with 'x'.
    std::uint64_t index = 0;
    bool first = true;
    while (true) {
        slash = path.find('/');
        bool last = slash == std::string_view::npos;
        auto element = last ? path : path.substr(0, slash);
        if (!last) {
            if (element.size() != 4 || element[0] != 'x')
                return make_error("tile index element must be x followed by 3 digits");
            element.remove_prefix(1);
        }
        if (element.size() != 3) return make_error("tile index element must be 3 digits");
        unsigned group = 0;
        for (char c : element) {
            if (c < '0' || c > '9') return make_error("tile index element must be 3 digits");
            group = group * 10 + static_cast<unsigned>(c - '0');
        }
        if (first && group == 0 && !last)
            return make_error("tile index has a leading zero element");
        if (index > (UINT64_MAX - group) / 1000) return make_error("tile index out of range");
        index = index * 1000 + group;
        first = false;
        if (last) break;
        path.remove_prefix(slash + 1);
    }
    req.tile.index = index;
    return req;
}

std::uint16_t partial_width(std::uint8_t level, std::uint64_t tree_size) {
    unsigned shift = tile_height * level;
    if (shift >= 64) return 0;
    return static_cast<std::uint16_t>((tree_size >> shift) % tile_width);
}

bool tile_exists(const tile_id& tile, std::uint64_t tree_size) {
    unsigned shift = tile_height * tile.level;
    if (shift >= 64 || tile.width == 0 || tile.width > tile_width) return false;
    std::uint64_t hashes_at_level = tree_size >> shift;
    std::uint64_t full_tiles = hashes_at_level / tile_width;
    if (tile.index < full_tiles) return tile.full();
    return tile.index == full_tiles && !tile.full() && tile.width == hashes_at_level % tile_width;
}

tile_id tile_for(std::uint8_t tile_level, std::uint64_t hash_index, std::uint64_t tree_size) {
    std::uint64_t hashes_at_level = tree_size >> (tile_height * tile_level);
    std::uint64_t index = hash_index / tile_width;
    std::uint64_t width = std::min<std::uint64_t>(tile_width, hashes_at_level - index * tile_width);
    return tile_id{tile_level, index, static_cast<std::uint16_t>(width)};
}

namespace {

// Where a perfect subtree lives: the tile holding its hashes at the tile's level
// (with the width that tile has at `tree_size`), the offset of its first hash in
// the tile, and its height inside the tile.
struct placement {
    tile_id tile;
    std::uint64_t offset;
    unsigned height;
};

result<placement> place(const node_id& node, std::uint64_t tree_size) {
    if (node.level >= 64 || (node.index + 1) > (tree_size >> node.level))
        return make_error("subtree " + std::to_string(node.level) + "/" +
                          std::to_string(node.index) + " is not within tree size " +
                          std::to_string(tree_size));
    auto tile_level = static_cast<std::uint8_t>(node.level / tile_height);
    unsigned height = node.level % tile_height;
    std::uint64_t first = node.index << height; // index at the tile's level
    return placement{tile_for(tile_level, first, tree_size), first % tile_width, height};
}

status check_contents(const std::vector<tile_id>& tiles,
                      const std::vector<std::vector<hash>>& contents) {
    if (contents.size() != tiles.size())
        return make_error("tile reader returned the wrong number of tiles");
    for (std::size_t i = 0; i < tiles.size(); ++i)
        if (contents[i].size() < tiles[i].width)
            return make_error("tile " + tile_path(tiles[i]) + " is shorter than its width");
    return {};
}

} // namespace

result<std::vector<hash>> tile_subtrees::read(const std::vector<node_id>& nodes,
                                              std::uint64_t tree_size) {
    // Which tile (and which run of hashes in it) each node needs; each tile read once.
    std::vector<tile_id> tiles;
    std::vector<std::pair<std::size_t, placement>> places;
    places.reserve(nodes.size());
    for (const auto& node : nodes) {
        CIVIC_TRY_ASSIGN(p, place(node, tree_size));
        auto it = std::find(tiles.begin(), tiles.end(), p.tile);
        std::size_t slot = static_cast<std::size_t>(it - tiles.begin());
        if (it == tiles.end()) tiles.push_back(p.tile);
        places.emplace_back(slot, p);
    }

    std::vector<std::vector<hash>> contents;
    CIVIC_TRY(reader_.read_tiles(tiles, contents));
    CIVIC_TRY(check_contents(tiles, contents));

    std::vector<hash> out;
    out.reserve(nodes.size());
    hash scratch[tile_width / 2];
    for (const auto& [slot, p] : places) {
        const hash* run = contents[slot].data() + p.offset;
        std::uint64_t count = std::uint64_t{1} << p.height;
        if (count == 1) {
            out.push_back(run[0]);
            continue;
        }
        // Hash the run of 2^h hashes up to its root, pairwise, level by level.
        std::uint64_t n = count / 2;
        for (std::uint64_t i = 0; i < n; ++i)
            scratch[i] = merkle::node_hash(run[2 * i], run[2 * i + 1]);
        for (; n > 1; n /= 2)
            for (std::uint64_t i = 0; i < n / 2; ++i)
                scratch[i] = merkle::node_hash(scratch[2 * i], scratch[2 * i + 1]);
        out.push_back(scratch[0]);
    }
    return out;
}

namespace {

using range = std::pair<std::uint64_t, std::uint64_t>;

void inclusion_path(std::uint64_t m, std::uint64_t lo, std::uint64_t hi, std::vector<range>& out) {
    // RFC 9162 2.1.3.1 PATH(m, D[lo:hi]), iteratively from the root, then reversed.
    std::vector<range> top_down;
    while (hi - lo > 1) {
        std::uint64_t k = merkle::split_point(hi - lo);
        if (m - lo < k) {
            top_down.push_back({lo + k, hi});
            hi = lo + k;
        } else {
            top_down.push_back({lo, lo + k});
            lo += k;
        }
    }
    out.assign(top_down.rbegin(), top_down.rend());
}

result<std::vector<hash>> hashes_of_ranges(subtree_source& source, std::uint64_t tree_size,
                                           const std::vector<range>& ranges) {
    std::vector<node_id> nodes;
    std::vector<std::size_t> counts;
    for (const auto& [b, e] : ranges) {
        auto parts = merkle::decompose(b, e);
        counts.push_back(parts.size());
        nodes.insert(nodes.end(), parts.begin(), parts.end());
    }
    CIVIC_TRY_ASSIGN(subtrees, source.read(nodes, tree_size));
    // A source answers each node asked, or fails: anything else is its bug.
    CIVIC_ASSERT_EQ(subtrees.size(), nodes.size());
    std::vector<hash> out;
    out.reserve(ranges.size());
    std::size_t at = 0;
    for (std::size_t count : counts) {
        out.push_back(merkle::fold_right(subtrees.data() + at, count));
        at += count;
    }
    return out;
}

} // namespace

std::vector<range> inclusion_ranges(std::uint64_t index, std::uint64_t size) {
    std::vector<range> out;
    if (index < size) inclusion_path(index, 0, size, out);
    CIVIC_ASSERT_LE(out.size(), std::size_t{64}); // one sibling per level
    return out;
}

std::vector<range> consistency_ranges(std::uint64_t old_size, std::uint64_t new_size) {
    // RFC 9162 2.1.4.1 SUBPROOF(m, D[0:n], true), iteratively, then reversed.
    std::vector<range> top_down;
    std::uint64_t lo = 0, hi = new_size, m = old_size;
    bool complete = true;
    while (true) {
        if (m == hi - lo) {
            if (!complete) top_down.push_back({lo, hi});
            break;
        }
        std::uint64_t k = merkle::split_point(hi - lo);
        if (m <= k) {
            top_down.push_back({lo + k, hi});
            hi = lo + k;
        } else {
            top_down.push_back({lo, lo + k});
            lo += k;
            m -= k;
            complete = false;
        }
    }
    CIVIC_ASSERT_LE(top_down.size(), std::size_t{128}); // RFC 9162: at most 2 per level
    return std::vector<range>(top_down.rbegin(), top_down.rend());
}

result<hash> root_at(subtree_source& source, std::uint64_t tree_size, std::uint64_t size) {
    if (size > tree_size)
        return make_error("size " + std::to_string(size) + " is beyond tree size " +
                          std::to_string(tree_size));
    if (size == 0) return merkle::empty_root();
    CIVIC_TRY_ASSIGN(hashes, hashes_of_ranges(source, tree_size, {{0, size}}));
    return hashes[0];
}

result<std::vector<hash>> inclusion_proof(subtree_source& source, std::uint64_t index,
                                          std::uint64_t size) {
    if (index >= size)
        return make_error("inclusion proof: index " + std::to_string(index) +
                          " is not below size " + std::to_string(size));
    return hashes_of_ranges(source, size, inclusion_ranges(index, size));
}

result<std::vector<hash>> consistency_proof(subtree_source& source, std::uint64_t old_size,
                                            std::uint64_t new_size) {
    if (old_size == 0 || old_size > new_size)
        return make_error("consistency proof: need 0 < old size <= new size");
    if (old_size == new_size) return std::vector<hash>{};
    return hashes_of_ranges(source, new_size, consistency_ranges(old_size, new_size));
}

result<hash> root_at(const tile_reader& reader, std::uint64_t tree_size, std::uint64_t size) {
    tile_subtrees source(reader);
    return root_at(source, tree_size, size);
}

result<std::vector<hash>> inclusion_proof(const tile_reader& reader, std::uint64_t index,
                                          std::uint64_t size) {
    tile_subtrees source(reader);
    return inclusion_proof(source, index, size);
}

result<std::vector<hash>> consistency_proof(const tile_reader& reader, std::uint64_t old_size,
                                            std::uint64_t new_size) {
    tile_subtrees source(reader);
    return consistency_proof(source, old_size, new_size);
}

tile_cache::tile_cache(const tile_reader& reader, std::size_t capacity)
    : reader_(reader), capacity_(std::max<std::size_t>(capacity, 1)) {}

result<std::vector<hash>> tile_cache::read(const std::vector<node_id>& nodes,
                                           std::uint64_t tree_size) {
    // First pass: place every node and read the tiles that are not cached, in one call.
    std::vector<placement> places;
    places.reserve(nodes.size());
    std::vector<tile_id> missing;
    for (const auto& node : nodes) {
        CIVIC_TRY_ASSIGN(p, place(node, tree_size));
        if (tiles_.count(key{p.tile.level, p.tile.index, p.tile.width}) == 0) {
            if (std::find(missing.begin(), missing.end(), p.tile) == missing.end())
                missing.push_back(p.tile);
        } else {
            ++hits_;
        }
        places.push_back(p);
    }
    if (!missing.empty()) {
        std::vector<std::vector<hash>> contents;
        CIVIC_TRY(reader_.read_tiles(missing, contents));
        CIVIC_TRY(check_contents(missing, contents));
        for (std::size_t i = 0; i < missing.size(); ++i) {
            const tile_id& t = missing[i];
            expanded e{key{t.level, t.index, t.width}, {}};
            e.heights.reserve(tile_height + 1);
            e.heights.emplace_back(contents[i].begin(), contents[i].begin() + t.width);
            for (unsigned h = 1; h <= tile_height && e.heights.back().size() >= 2; ++h) {
                const auto& below = e.heights.back();
                std::vector<hash> level(below.size() / 2);
                for (std::size_t j = 0; j < level.size(); ++j)
                    level[j] = merkle::node_hash(below[2 * j], below[2 * j + 1]);
                e.heights.push_back(std::move(level));
            }
            lru_.push_front(std::move(e));
            tiles_[lru_.front().id] = lru_.begin();
            ++misses_;
        }
    }
    // Second pass: answer from the expanded tiles, marking each as recently used.
    std::vector<hash> out;
    out.reserve(nodes.size());
    for (const auto& p : places) {
        auto it = tiles_.find(key{p.tile.level, p.tile.index, p.tile.width});
        lru_.splice(lru_.begin(), lru_, it->second);
        const auto& heights = it->second->heights;
        out.push_back(heights[p.height][p.offset >> p.height]);
    }
    // Evict only now: every tile this call needed stayed resident while it was used.
    while (lru_.size() > capacity_) {
        tiles_.erase(lru_.back().id);
        lru_.pop_back();
    }
    return out;
}

void memory_tiles::append(const hash& leaf) {
    range_.append(leaf, [this](std::uint8_t level, std::uint64_t index, const hash& h) {
        if (level % tile_height != 0) return;
        std::size_t tile_level = level / tile_height;
        if (levels_.size() <= tile_level) levels_.resize(tile_level + 1);
        // Completed subtrees arrive in index order at every level.
        if (levels_[tile_level].size() == index) levels_[tile_level].push_back(h);
    });
}

status memory_tiles::read_tiles(const std::vector<tile_id>& tiles,
                                std::vector<std::vector<hash>>& out) const {
    out.clear();
    out.reserve(tiles.size());
    for (const auto& t : tiles) {
        if (t.level >= levels_.size()) return make_error("no tile " + tile_path(t));
        const auto& level = levels_[t.level];
        std::uint64_t begin = t.index * tile_width;
        if (begin + t.width > level.size()) return make_error("no tile " + tile_path(t));
        out.emplace_back(level.begin() + static_cast<std::ptrdiff_t>(begin),
                         level.begin() + static_cast<std::ptrdiff_t>(begin + t.width));
    }
    return {};
}

} // namespace civic::tiles
