#include "protocol/checkpoint.hpp"
#include "storage/ledger_store.hpp"
#include "storage/ledger_store_parts.hpp"

#include <algorithm>

namespace civic::storage {

using namespace store_detail;

void ledger_store::trust(const tree_state& verified) {
    auto a = std::make_shared<anchor>();
    a->size = verified.size();
    a->tails = verified.tails();
    std::lock_guard lock(anchor_mutex_);
    anchor_ = std::move(a);
}

std::shared_ptr<const ledger_store::anchor> ledger_store::current_anchor() const {
    std::lock_guard lock(anchor_mutex_);
    return anchor_;
}

std::uint64_t ledger_store::verified_size() const {
    auto a = current_anchor();
    return a ? a->size : 0;
}

void ledger_store::advance_anchor(const batch& b) {
    auto current = current_anchor();
    if (!current) return; // not trusted yet (tools that only write)
    auto next = std::make_shared<anchor>(*current);
    next->size = b.first_index + b.entries.size();
    bool complete = current->size == b.first_index;
    // The rightmost tile of each level after the batch: the one the batch wrote
    // (tree_state::take_changed_tiles), or, when it wrote none there, the one before.
    for (unsigned level = 0; complete && level * tiles::tile_height < 64 &&
                             (next->size >> (level * tiles::tile_height)) > 0;
         ++level) {
        std::uint64_t count = next->size >> (level * tiles::tile_height);
        std::uint64_t index = count / tiles::tile_width;
        std::size_t width = count % tiles::tile_width;
        if (next->tails.size() <= level) next->tails.resize(level + 1);
        auto& tail = next->tails[level];
        if (width == 0) {
            tail.clear();
            continue;
        }
        auto written = std::find_if(b.tiles.begin(), b.tiles.end(), [&](const tile_write& t) {
            return t.tile.level == level && t.tile.index == index;
        });
        if (written != b.tiles.end() && written->hashes.size() >= width)
            tail.assign(written->hashes.begin(), written->hashes.begin() + width);
        complete = tail.size() == width;
    }
    std::lock_guard lock(anchor_mutex_);
    // A batch that does not carry the tiles its tree needs leaves nothing to
    // check against: checked reads fail (never unchecked) until the next start.
    if (complete)
        anchor_ = std::move(next);
    else
        anchor_.reset();
}

result<hash> ledger_store::expected_root(const anchor& a, std::uint8_t level,
                                         std::uint64_t index) const {
    // Hash `index` of the tile above: the tree's rightmost tile there, or a
    // full one, checked the same way.
    const auto up = static_cast<std::uint8_t>(level + 1);
    std::uint64_t count_above = a.size >> (up * tiles::tile_height);
    std::uint64_t parent = index / tiles::tile_width;
    std::size_t slot = index % tiles::tile_width;
    if (parent == count_above / tiles::tile_width) {
        if (a.tails.size() <= up || a.tails[up].size() <= slot)
            return make_error("checked read: tile level " + std::to_string(up) +
                              " of the trusted tree has no hash " + std::to_string(index));
        return a.tails[up][slot];
    }
    CIVIC_TRY_ASSIGN(above, verified_full_tile(a, up, parent));
    return (*above)[slot];
}

result<bool> ledger_store::matches_tree(const anchor& a, std::uint8_t level, std::uint64_t index,
                                        const std::vector<hash>& hashes) const {
    if (hashes.size() == tiles::tile_width) {
        CIVIC_TRY_ASSIGN(expected, expected_root(a, level, index));
        return tile_root(hashes) == expected;
    }
    if (a.tails.size() <= level || a.tails[level].size() != hashes.size())
        return make_error(
            "checked read: the trusted tree has no " +
            tiles::tile_path({level, index, static_cast<std::uint16_t>(hashes.size())}));
    return std::equal(hashes.begin(), hashes.end(), a.tails[level].begin());
}

result<std::shared_ptr<const std::vector<hash>>>
ledger_store::verified_full_tile(const anchor& a, std::uint8_t level, std::uint64_t index) const {
    const auto key = verified_tile_cache::key(level, index);
    if (auto known = known_damage(damaged_range::tile(level, index))) return *known;
    if (auto cached = verified_cache_->find(key)) return cached;
    const tiles::tile_id id{level, index, tiles::tile_width};
    std::vector<std::vector<hash>> content;
    if (auto ok = read_tiles({id}, content); !ok) {
        if (ok.message().rfind("no tile ", 0) == 0)
            return note_damage(damaged_range::tile(level, index),
                               tiles::tile_path(id) + " (hashes from index " +
                                   std::to_string(index * tiles::tile_width) + ") is missing");
        return ok.err();
    }
    CIVIC_TRY_ASSIGN(matches, matches_tree(a, level, index, content[0]));
    if (!matches)
        return note_damage(damaged_range::tile(level, index),
                           tiles::tile_path(id) + " (hashes from index " +
                               std::to_string(index * tiles::tile_width) +
                               ") does not match the tree: its root differs from hash " +
                               std::to_string(index) + " of tile level " +
                               std::to_string(level + 1));
    auto hashes = std::make_shared<const std::vector<hash>>(std::move(content[0]));
    verified_cache_->add(key, hashes);
    return hashes;
}

result<std::vector<hash>> ledger_store::verified_tile(const anchor& a,
                                                      const tiles::tile_id& tile) const {
    unsigned shift = tiles::tile_height * tile.level;
    std::uint64_t count = shift >= 64 ? 0 : a.size >> shift;
    if (tile.width == 0 || tile.index > count / tiles::tile_width ||
        tile.index * tiles::tile_width + tile.width > count)
        return make_error("no tile " + tiles::tile_path(tile) + " in the tree of size " +
                          std::to_string(a.size));
    if (auto known = known_damage(damaged_range::tile(tile.level, tile.index))) return *known;
    if (tile.index == count / tiles::tile_width) {
        // The rightmost tile: the trusted tree's own hashes.
        if (a.tails.size() <= tile.level || a.tails[tile.level].size() < tile.width)
            return make_error("checked read: the trusted tree has no " + tiles::tile_path(tile));
        const auto& tail = a.tails[tile.level];
        return std::vector<hash>(tail.begin(), tail.begin() + tile.width);
    }
    CIVIC_TRY_ASSIGN(full, verified_full_tile(a, tile.level, tile.index));
    return std::vector<hash>(full->begin(), full->begin() + tile.width);
}

status ledger_store::verified_reader::read_tiles(const std::vector<tiles::tile_id>& ids,
                                                 std::vector<std::vector<hash>>& out) const {
    out.clear();
    auto a = store_.current_anchor();
    if (!a) return make_error("checked read: the store's tree is not verified");
    for (const auto& t : ids) {
        CIVIC_TRY_ASSIGN(hashes, store_.verified_tile(*a, t));
        out.push_back(std::move(hashes));
    }
    return {};
}

result<std::optional<bytes>> ledger_store::checked_entry(std::uint64_t index) const {
    auto a = current_anchor();
    if (!a) return make_error("checked read: the store's tree is not verified");
    if (index >= a->size) return std::optional<bytes>{};
    const auto range = damaged_range::entries_of(index / tiles::tile_width);
    if (auto known = known_damage(range)) return *known;
    CIVIC_TRY_ASSIGN(raw, entry(index));
    if (!raw) return note_damage(range, "entry at index " + std::to_string(index) + " is missing");
    tiles::tile_id tile{0, index / tiles::tile_width, 1};
    tile.width = static_cast<std::uint16_t>(index % tiles::tile_width + 1);
    CIVIC_TRY_ASSIGN(hashes, verified_tile(*a, tile));
    if (merkle::leaf_hash(*raw) != hashes.back())
        return note_damage(range, "entry at index " + std::to_string(index) +
                                      " does not match the tree: its leaf hash differs from " +
                                      tiles::tile_path({0, tile.index, tiles::tile_width}));
    return raw;
}

result<bytes> ledger_store::checked_entry_bundle(std::uint64_t tile_index,
                                                 std::uint16_t width) const {
    if (width == 0 || width > tiles::tile_width)
        return make_error("entry bundle width must be 1..256");
    auto a = current_anchor();
    if (!a) return make_error("checked read: the store's tree is not verified");
    const auto range = damaged_range::entries_of(tile_index);
    if (auto known = known_damage(range)) return *known;
    CIVIC_TRY_ASSIGN(hashes, verified_tile(*a, {0, tile_index, width}));
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    bytes out;
    for (std::uint64_t i = 0; i < width; ++i) {
        auto index = tile_index * tiles::tile_width + i;
        CIVIC_TRY_ASSIGN(raw, txn.get(entries_, u64_key(index)));
        if (!raw)
            return note_damage(range, "entry at index " + std::to_string(index) + " of " +
                                          tiles::entries_path(tile_index, width) + " is missing");
        if (merkle::leaf_hash(*raw) != hashes[i])
            return note_damage(range, "entry at index " + std::to_string(index) + " of " +
                                          tiles::entries_path(tile_index, width) +
                                          " does not match the tree: its leaf hash differs");
        put_u16_be(out, static_cast<std::uint16_t>(raw->size()));
        out.insert(out.end(), raw->begin(), raw->end());
    }
    return out;
}

std::string damaged_range::name() const {
    if (entries)
        return "entries/" + std::to_string(index * tiles::tile_width) + "-" +
               std::to_string((index + 1) * tiles::tile_width);
    return tiles::tile_path({level, index, tiles::tile_width});
}

error ledger_store::note_damage(const damaged_range& r, const std::string& what) const {
    std::function<void(const damaged_range&, const std::string&)> observer;
    {
        std::lock_guard lock(damage_mutex_);
        if (damaged_.size() < max_damaged_ranges && damaged_.emplace(r, what).second)
            observer = damage_observer_;
    }
    if (observer) observer(r, what);
    return damaged(what);
}

std::optional<error> ledger_store::known_damage(const damaged_range& r) const {
    std::lock_guard lock(damage_mutex_);
    if (damaged_.empty()) return std::nullopt;
    auto it = damaged_.find(r);
    if (it == damaged_.end()) return std::nullopt;
    return damaged(r.name() + " is damaged, not served until healed (" + it->second + ")");
}

std::vector<damaged_range> ledger_store::damaged_ranges() const {
    std::lock_guard lock(damage_mutex_);
    std::vector<damaged_range> out;
    for (const auto& [r, what] : damaged_)
        out.push_back(r);
    return out;
}

void ledger_store::on_damage(
    std::function<void(const damaged_range&, const std::string& what)> observer) {
    std::lock_guard lock(damage_mutex_);
    damage_observer_ = std::move(observer);
}

status ledger_store::scrub_tile(const anchor& a, std::uint8_t level, std::uint64_t index,
                                std::uint16_t width) const {
    const auto range = damaged_range::tile(level, index);
    if (auto known = known_damage(range)) return *known;
    const tiles::tile_id id{level, index, width};
    std::vector<std::vector<hash>> content;
    if (auto ok = read_tiles({id}, content); !ok) {
        if (ok.message().rfind("no tile ", 0) == 0)
            return note_damage(range, tiles::tile_path(id) + " is missing");
        return ok.err();
    }
    CIVIC_TRY_ASSIGN(matches, matches_tree(a, level, index, content[0]));
    if (!matches) return note_damage(range, tiles::tile_path(id) + " does not match the tree");
    return {};
}

status ledger_store::scrub_entry_tile(std::uint64_t tile_index) const {
    auto a = current_anchor();
    if (!a) return make_error("scrub: the store's tree is not verified");
    const std::uint64_t first = tile_index * tiles::tile_width;
    if (first >= a->size) return {};
    const auto width =
        static_cast<std::uint16_t>(std::min<std::uint64_t>(tiles::tile_width, a->size - first));
    // The level-0 tile, then the entries by their leaf hashes against the tree
    // (not against the stored tile, which may be the damaged one).
    status found = scrub_tile(*a, 0, tile_index, width);
    if (!found && !is_damage(found.err())) return found;
    const auto range = damaged_range::entries_of(tile_index);
    if (auto known = known_damage(range)) {
        if (found) found = *known;
    } else {
        std::vector<hash> leaves;
        leaves.reserve(width);
        std::optional<std::uint64_t> missing;
        {
            CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
            for (std::uint64_t i = first; i < first + width; ++i) {
                CIVIC_TRY_ASSIGN(raw, txn.get(entries_, u64_key(i)));
                if (!raw) {
                    missing = i;
                    break;
                }
                leaves.push_back(merkle::leaf_hash(*raw));
            }
        }
        error damage;
        if (missing) {
            damage =
                note_damage(range, "entry at index " + std::to_string(*missing) + " is missing");
        } else {
            CIVIC_TRY_ASSIGN(matches, matches_tree(*a, 0, tile_index, leaves));
            if (!matches) {
                // Name the first entry that differs from the tile, when the
                // tile itself is whole.
                std::string which = "an entry of " + range.name();
                if (found) {
                    std::vector<std::vector<hash>> stored;
                    CIVIC_TRY(read_tiles({{0, tile_index, width}}, stored));
                    for (std::uint16_t i = 0; i < width; ++i)
                        if (leaves[i] != stored[0][i]) {
                            which = "entry at index " + std::to_string(first + i);
                            break;
                        }
                }
                damage =
                    note_damage(range, which +
                                           " does not match the tree: its leaf hash "
                                           "differs from " +
                                           tiles::tile_path({0, tile_index, tiles::tile_width}));
            }
        }
        if (!damage.message.empty() && found) found = damage;
    }
    // Every tile of a higher level that starts at this entry tile.
    for (std::uint8_t level = 1; level * tiles::tile_height < 64; ++level) {
        const unsigned shift = tiles::tile_height * level;
        // Tile (L, k) starts at entry tile k * 256^L.
        if (tile_index % (std::uint64_t{1} << shift) != 0) break;
        const std::uint64_t index = tile_index >> shift;
        const std::uint64_t count = a->size >> shift;
        if (index * tiles::tile_width >= count) break;
        const auto w = static_cast<std::uint16_t>(
            std::min<std::uint64_t>(tiles::tile_width, count - index * tiles::tile_width));
        auto ok = scrub_tile(*a, level, index, w);
        if (!ok && !is_damage(ok.err())) return ok;
        if (!ok && found) found = ok;
    }
    return found;
}

result<bool> ledger_store::heal_may_write_tile(const transaction& txn, std::uint16_t width,
                                               std::uint64_t trusted_size) const {
    if (width == tiles::tile_width) return true;
    CIVIC_TRY_ASSIGN(raw_tree, txn.get(meta_, byte_view(tree_key)));
    if (!raw_tree) return false;
    CIVIC_TRY_ASSIGN(rec, decode_tree(*raw_tree));
    return rec.size == trusted_size;
}

status ledger_store::heal_entry_tile(std::uint64_t tile_index, const std::vector<bytes>& entries) {
    auto a = current_anchor();
    if (!a) return make_error("heal: the store's tree is not verified");
    const std::uint64_t first = tile_index * tiles::tile_width;
    if (first >= a->size) return make_error("heal: no entry tile " + std::to_string(tile_index));
    const auto width =
        static_cast<std::uint16_t>(std::min<std::uint64_t>(tiles::tile_width, a->size - first));
    if (entries.size() < width)
        return make_error("heal: " + std::to_string(entries.size()) + " entries for " +
                          std::to_string(width) + " in entry tile " + std::to_string(tile_index));
    std::vector<hash> leaves;
    leaves.reserve(width);
    for (std::uint16_t i = 0; i < width; ++i)
        leaves.push_back(merkle::leaf_hash(entries[i]));
    CIVIC_TRY_ASSIGN(matches, matches_tree(*a, 0, tile_index, leaves));
    if (!matches)
        return make_error("heal: the entries offered for " +
                          damaged_range::entries_of(tile_index).name() +
                          " do not make the verified tree");
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
    for (std::uint16_t i = 0; i < width; ++i)
        CIVIC_TRY(txn.put(entries_, u64_key(first + i), entries[i]));
    CIVIC_TRY_ASSIGN(write_tile, heal_may_write_tile(txn, width, a->size));
    if (write_tile) CIVIC_TRY(txn.put(tiles_, tile_key(0, tile_index), hashes_bytes(leaves)));
    CIVIC_TRY(txn.commit());
    std::lock_guard lock(damage_mutex_);
    damaged_.erase(damaged_range::entries_of(tile_index));
    damaged_.erase(damaged_range::tile(0, tile_index));
    return {};
}

status ledger_store::heal_hash_tile(std::uint8_t level, std::uint64_t index) {
    if (level == 0) return make_error("heal: level-0 tiles heal with their entries");
    auto a = current_anchor();
    if (!a) return make_error("heal: the store's tree is not verified");
    const unsigned shift = tiles::tile_height * level;
    const std::uint64_t count = shift >= 64 ? 0 : a->size >> shift;
    const tiles::tile_id id{level, index, tiles::tile_width};
    if (index * tiles::tile_width >= count)
        return make_error("heal: no " + tiles::tile_path(id) + " in the tree of size " +
                          std::to_string(a->size));
    const auto width = static_cast<std::uint16_t>(
        std::min<std::uint64_t>(tiles::tile_width, count - index * tiles::tile_width));
    std::vector<hash> hashes;
    if (width < tiles::tile_width) {
        // The rightmost tile: the trusted tree holds its hashes.
        if (a->tails.size() <= level || a->tails[level].size() < width)
            return make_error("heal: the trusted tree has no " + tiles::tile_path(id));
        hashes.assign(a->tails[level].begin(), a->tails[level].begin() + width);
    } else {
        std::vector<tiles::tile_id> below;
        for (std::uint64_t j = 0; j < width; ++j)
            below.push_back({static_cast<std::uint8_t>(level - 1), index * tiles::tile_width + j,
                             tiles::tile_width});
        std::vector<std::vector<hash>> content;
        if (auto ok = read_tiles(below, content); !ok)
            return make_error("heal: " + tiles::tile_path(id) +
                              " from the tiles below: " + ok.message());
        for (auto& t : content)
            hashes.push_back(tile_root(std::move(t)));
    }
    CIVIC_TRY_ASSIGN(matches, matches_tree(*a, level, index, hashes));
    if (!matches)
        return make_error("heal: the tiles below " + tiles::tile_path(id) +
                          " do not make the verified tree (one of them is damaged too)");
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
    CIVIC_TRY_ASSIGN(write_tile, heal_may_write_tile(txn, width, a->size));
    if (write_tile) {
        CIVIC_TRY(txn.put(tiles_, tile_key(level, index), hashes_bytes(hashes)));
        CIVIC_TRY(txn.commit());
    }
    std::lock_guard lock(damage_mutex_);
    damaged_.erase(damaged_range::tile(level, index));
    return {};
}

} // namespace civic::storage
