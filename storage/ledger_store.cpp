#include "storage/ledger_store.hpp"

#include "protocol/checkpoint.hpp"

#include <algorithm>
#include <cstring>
#include <list>
#include <unordered_map>

namespace civic::storage {
namespace {

bytes tile_key(std::uint8_t level, std::uint64_t index) {
    bytes k{level};
    put_u64_be(k, index);
    return k;
}

const std::string tree_key = "tree";
const std::string latest_checkpoint_key = "checkpoint.latest";
const std::string probe_key = "probe"; // probe_write's record, removed after each probe

bytes bytes_of_size(std::size_t n) { return bytes(std::max<std::size_t>(n, 1), 0); }

bytes hashes_bytes(const std::vector<hash>& hashes) {
    bytes out;
    out.reserve(hashes.size() * 32);
    for (const auto& h : hashes)
        out.insert(out.end(), h.begin(), h.end());
    return out;
}

/// The root of a full tile's 256 hashes: the node 8 levels above them.
hash tile_root(std::vector<hash> hashes) {
    for (std::size_t n = hashes.size(); n > 1; n /= 2)
        for (std::size_t k = 0; k < n / 2; ++k)
            hashes[k] = merkle::node_hash(hashes[2 * k], hashes[2 * k + 1]);
    return hashes[0];
}

error damaged(const std::string& what) { return make_error(damage_marker + what); }

} // namespace

bool is_damage(const error& e) { return e.message.find(damage_marker) != std::string::npos; }

/// The trusted tree: its size, root and rightmost tile of every level (from
/// memory, never from disk). Immutable: a commit makes the next one.
struct ledger_store::anchor {
    std::uint64_t size = 0;
    std::vector<std::vector<hash>> tails; // as tree_state::tails()
};

/// Full tiles already checked, least recently used evicted first. 512 tiles of
/// 8 KiB: 4 MiB, the level-0 tiles of the newest 131072 entries and above.
struct ledger_store::verified_tile_cache {
    static constexpr std::size_t capacity = 512;
    std::mutex mutex;
    using entry = std::pair<std::uint64_t, std::shared_ptr<const std::vector<hash>>>;
    std::list<entry> lru; // most recent first
    std::unordered_map<std::uint64_t, std::list<entry>::iterator> by_key;
    static std::uint64_t key(std::uint8_t level, std::uint64_t index) {
        return (std::uint64_t{level} << 56) | index;
    }
    std::shared_ptr<const std::vector<hash>> find(std::uint64_t k) {
        std::lock_guard lock(mutex);
        auto it = by_key.find(k);
        if (it == by_key.end()) return nullptr;
        lru.splice(lru.begin(), lru, it->second);
        return it->second->second;
    }
    void add(std::uint64_t k, std::shared_ptr<const std::vector<hash>> hashes) {
        std::lock_guard lock(mutex);
        if (by_key.count(k)) return;
        lru.emplace_front(k, std::move(hashes));
        by_key[k] = lru.begin();
        if (lru.size() > capacity) {
            by_key.erase(lru.back().first);
            lru.pop_back();
        }
    }
};

result<std::unique_ptr<ledger_store>> ledger_store::open(const store_options& options) {
    environment_options env_options;
    env_options.directory = options.directory;
    env_options.map_size = options.map_size;
    CIVIC_TRY_ASSIGN(env, environment::open(env_options));
    std::unique_ptr<ledger_store> s(new ledger_store());
    s->env_ = std::move(env);
    s->verified_cache_ = std::make_shared<verified_tile_cache>();
    struct named {
        const char* name;
        MDB_dbi* dbi;
    };
    for (auto [name, dbi] : {named{"meta", &s->meta_}, named{"entries", &s->entries_},
                             named{"tiles", &s->tiles_}, named{"checkpoints", &s->checkpoints_},
                             named{"identities", &s->identities_}, named{"tokens", &s->tokens_}}) {
        CIVIC_TRY_ASSIGN(handle, s->env_->database(name));
        *dbi = handle;
    }
    return s;
}

std::uint64_t ledger_store::stored_size() const {
    auto txn = transaction::begin(*env_, true);
    if (!txn) return 0;
    auto v = txn->get(meta_, byte_view(tree_key));
    if (!v || !*v) return 0;
    auto rec = decode_tree(**v);
    return rec ? rec->size : 0;
}

result<tree_state> ledger_store::load_tree() const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(meta_, byte_view(tree_key)));
    if (!raw) return tree_state{};
    CIVIC_TRY_ASSIGN(rec, decode_tree(*raw));
    auto range = merkle::compact_range::from_hashes(rec.size, rec.range);
    if (!range) return with_context("stored tree", range.err());
    std::vector<std::vector<hash>> tails;
    for (unsigned level = 0;
         level * tiles::tile_height < 64 && (rec.size >> (level * tiles::tile_height)) > 0;
         ++level) {
        std::uint64_t count = rec.size >> (level * tiles::tile_height);
        std::uint16_t width = static_cast<std::uint16_t>(count % tiles::tile_width);
        tails.emplace_back();
        if (width == 0) continue;
        const tiles::tile_id id{static_cast<std::uint8_t>(level), count / tiles::tile_width, width};
        std::vector<std::vector<hash>> content;
        CIVIC_TRY(read_tiles({id}, content));
        tails.back().assign(content[0].begin(), content[0].begin() + width);
        if (tree_state::tail_matches(*range, level, tails.back())) continue;
        // The stored tile is damaged: its hashes again from one level down (the
        // entries for level 0), checked against the range the same way; the
        // scrub rewrites the tile itself.
        std::vector<hash> rebuilt;
        if (level == 0) {
            for (std::uint64_t i = count - width; i < count; ++i) {
                CIVIC_TRY_ASSIGN(entry, txn.get(entries_, u64_key(i)));
                if (!entry) break;
                rebuilt.push_back(merkle::leaf_hash(*entry));
            }
        } else {
            std::vector<tiles::tile_id> below;
            for (std::uint64_t j = 0; j < width; ++j)
                below.push_back({static_cast<std::uint8_t>(level - 1),
                                 id.index * tiles::tile_width + j, tiles::tile_width});
            if (read_tiles(below, content))
                for (auto& t : content)
                    rebuilt.push_back(tile_root(std::move(t)));
        }
        if (!tree_state::tail_matches(*range, level, rebuilt))
            return damaged("the stored tree's rightmost " + tiles::tile_path(id) +
                           ", and what lies below it, do not make the stored tree");
        tails.back() = std::move(rebuilt);
    }
    return tree_state::restore(std::move(*range), std::move(tails));
}

result<std::optional<std::string>> ledger_store::latest_checkpoint() const {
    return setting(latest_checkpoint_key);
}

status ledger_store::commit(const batch& b) {
    if (b.entries.empty()) return make_error("commit: empty batch");
    if (int code = test_fail_writes.load()) return lmdb_error("commit", code, env_->handle());
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
    // The stored size, read inside the write transaction (writers are serialised).
    std::uint64_t size = 0;
    CIVIC_TRY_ASSIGN(raw_tree, txn.get(meta_, byte_view(tree_key)));
    if (raw_tree) {
        CIVIC_TRY_ASSIGN(rec, decode_tree(*raw_tree));
        size = rec.size;
    }
    if (b.first_index != size)
        return make_error("commit: batch starts at " + std::to_string(b.first_index) +
                          " but the store holds " + std::to_string(size) + " entries");
    for (std::size_t i = 0; i < b.entries.size(); ++i)
        CIVIC_TRY(txn.put(entries_, u64_key(b.first_index + i), b.entries[i]));
    for (const auto& t : b.tiles)
        CIVIC_TRY(txn.put(tiles_, tile_key(t.tile.level, t.tile.index), hashes_bytes(t.hashes)));
    for (const auto& id : b.identities)
        CIVIC_TRY(txn.put(identities_, byte_view(id.name), encode(id)));
    std::uint64_t new_size = b.first_index + b.entries.size();
    CIVIC_TRY(txn.put(meta_, byte_view(tree_key), encode(tree_record{new_size, b.range})));
    CIVIC_TRY(txn.put(checkpoints_, u64_key(new_size), byte_view(b.checkpoint)));
    CIVIC_TRY(txn.put(meta_, byte_view(latest_checkpoint_key), byte_view(b.checkpoint)));
    CIVIC_TRY(txn.commit());
    advance_anchor(b);
    return {};
}

status ledger_store::probe_write(std::size_t bytes) {
    if (int code = test_fail_writes.load()) return lmdb_error("commit", code, env_->handle());
    {
        CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
        CIVIC_TRY(txn.put(meta_, byte_view(probe_key), bytes_of_size(bytes)));
        CIVIC_TRY(txn.commit());
    }
    // The room was there. A removal that fails leaves the record to the next
    // probe's overwrite: nothing reads it.
    if (auto txn = transaction::begin(*env_, false); txn && txn->erase(meta_, byte_view(probe_key)))
        (void)txn->commit();
    return {};
}

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

status ledger_store::read_tiles(const std::vector<tiles::tile_id>& ids,
                                std::vector<std::vector<hash>>& out) const {
    out.clear();
    out.reserve(ids.size());
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    for (const auto& t : ids) {
        CIVIC_TRY_ASSIGN(raw, txn.get(tiles_, tile_key(t.level, t.index)));
        // Stored tiles only grow: any stored prefix of at least `width` hashes answers.
        if (!raw || raw->size() < std::size_t{t.width} * 32 || raw->size() % 32 != 0)
            return make_error("no tile " + tiles::tile_path(t));
        std::vector<hash> hashes(t.width);
        for (std::size_t i = 0; i < t.width; ++i)
            std::copy_n(raw->data() + 32 * i, 32, hashes[i].begin());
        out.push_back(std::move(hashes));
    }
    return {};
}

result<std::optional<bytes>> ledger_store::entry(std::uint64_t index) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(entries_, u64_key(index)));
    if (!raw) return std::optional<bytes>{};
    return std::optional<bytes>(raw->to_bytes());
}

result<bytes> ledger_store::entry_bundle(std::uint64_t tile_index, std::uint16_t width) const {
    if (width == 0 || width > tiles::tile_width)
        return make_error("entry bundle width must be 1..256");
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    bytes out;
    for (std::uint64_t i = 0; i < width; ++i) {
        CIVIC_TRY_ASSIGN(raw, txn.get(entries_, u64_key(tile_index * tiles::tile_width + i)));
        if (!raw) return make_error("no entry bundle " + tiles::entries_path(tile_index, width));
        put_u16_be(out, static_cast<std::uint16_t>(raw->size()));
        out.insert(out.end(), raw->begin(), raw->end());
    }
    return out;
}

result<std::optional<std::string>> ledger_store::checkpoint_at(std::uint64_t size) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(checkpoints_, u64_key(size)));
    if (!raw) return std::optional<std::string>{};
    return std::optional<std::string>(std::string(raw->as_string()));
}

result<std::uint64_t> ledger_store::checkpoint_boundary(std::uint64_t after,
                                                        std::uint64_t at_most) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn.handle(), checkpoints_, &cursor); rc != 0)
        return lmdb_error("cursor_open", rc);
    auto start = u64_key(after + 1);
    MDB_val k{start.size(), start.data()}, v{};
    std::uint64_t best = 0;
    // Sizes are big-endian keys: cursor order is size order.
    for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) continue;
        std::uint64_t size = 0;
        for (std::size_t i = 0; i < 8; ++i)
            size = (size << 8) | static_cast<const std::uint8_t*>(k.mv_data)[i];
        if (best == 0 || size <= at_most) best = size;
        if (size >= at_most) break;
    }
    mdb_cursor_close(cursor);
    return best;
}

result<std::optional<identity_record>> ledger_store::identity(const std::string& name) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(identities_, byte_view(name)));
    if (!raw) return std::optional<identity_record>{};
    CIVIC_TRY_ASSIGN(rec, decode_identity(*raw));
    return std::optional<identity_record>(std::move(rec));
}

result<std::vector<std::string>> ledger_store::identity_names(const std::string& after,
                                                              std::size_t limit) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn.handle(), identities_, &cursor); rc != 0)
        return lmdb_error("cursor_open", rc);
    std::vector<std::string> names;
    MDB_val k{}, v{};
    // Names sort bytewise in LMDB: start at the first name >= `after`, skip `after` itself.
    k.mv_data = const_cast<char*>(after.data());
    k.mv_size = after.size();
    int rc = after.empty() ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
                           : mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && names.size() < limit; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        std::string name(static_cast<const char*>(k.mv_data), k.mv_size);
        if (name != after) names.push_back(std::move(name));
    }
    mdb_cursor_close(cursor);
    return names;
}

result<std::vector<std::pair<hash, token_record>>> ledger_store::tokens(std::size_t limit) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn.handle(), tokens_, &cursor); rc != 0)
        return lmdb_error("cursor_open", rc);
    std::vector<std::pair<hash, token_record>> out;
    MDB_val k{}, v{};
    for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0 && out.size() < limit;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        hash h{};
        if (k.mv_size != h.size()) continue;
        std::memcpy(h.data(), k.mv_data, h.size());
        auto rec = decode_token(byte_view(static_cast<const std::uint8_t*>(v.mv_data), v.mv_size));
        if (!rec) {
            mdb_cursor_close(cursor);
            return rec.err();
        }
        out.emplace_back(h, std::move(*rec));
    }
    mdb_cursor_close(cursor);
    return out;
}

status ledger_store::put_token(const hash& token_sha256, const token_record& record) {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
    CIVIC_TRY(txn.put(tokens_, token_sha256, encode(record)));
    return txn.commit();
}

result<bool> ledger_store::delete_token(const hash& token_sha256) {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
    CIVIC_TRY_ASSIGN(existing, txn.get(tokens_, token_sha256));
    if (!existing) return false;
    CIVIC_TRY(txn.erase(tokens_, token_sha256));
    CIVIC_TRY(txn.commit());
    return true;
}

result<std::optional<token_record>> ledger_store::token(const hash& token_sha256) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(tokens_, token_sha256));
    if (!raw) return std::optional<token_record>{};
    CIVIC_TRY_ASSIGN(rec, decode_token(*raw));
    return std::optional<token_record>(std::move(rec));
}

status ledger_store::put_setting(const std::string& key, const std::string& value) {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
    CIVIC_TRY(txn.put(meta_, byte_view(key), byte_view(value)));
    return txn.commit();
}

result<std::optional<std::string>> ledger_store::setting(const std::string& key) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(meta_, byte_view(key)));
    if (!raw) return std::optional<std::string>{};
    return std::optional<std::string>(std::string(raw->as_string()));
}

std::optional<split_view_evidence> contradiction(const ledger_store& store,
                                                 const std::string& signed_checkpoint) {
    auto theirs = parse_signed_checkpoint(signed_checkpoint);
    if (!theirs) return std::nullopt;
    auto latest = store.latest_checkpoint();
    if (!latest || !*latest) return std::nullopt;
    auto ours = parse_signed_checkpoint(**latest);
    if (!ours || ours->body.origin != theirs->body.origin) return std::nullopt;
    auto size = ours->body.size;
    auto n = theirs->body.size;
    if (n == 0 || n > size) return std::nullopt;
    split_view_evidence e{**latest, signed_checkpoint, std::nullopt, {}};
    if (n == size) {
        if (ours->body.root == theirs->body.root) return std::nullopt;
        return e;
    }
    auto root = tiles::root_at(store, size, n);
    if (!root || *root == theirs->body.root) return std::nullopt;
    auto proof = tiles::consistency_proof(store, n, size);
    if (!proof) return std::nullopt;
    e.root_at_smaller = *root;
    e.proof = std::move(*proof);
    return e;
}

status audit_tree(const ledger_store& store, const tree_state& tree) {
    const std::uint64_t size = tree.size();
    const std::uint64_t width = tiles::tile_width;
    // Entries against level-0 tiles, one tile (and one bundle) at a time.
    for (std::uint64_t n = 0; n * width < size; ++n) {
        auto w = static_cast<std::uint16_t>(std::min(width, size - n * width));
        tiles::tile_id tile{0, n, w};
        std::vector<std::vector<hash>> content;
        CIVIC_TRY(store.read_tiles({tile}, content));
        for (std::uint16_t i = 0; i < w; ++i) {
            CIVIC_TRY_ASSIGN(e, store.entry(n * width + i));
            if (!e)
                return make_error("audit: entry " + std::to_string(n * width + i) + " is missing");
            if (merkle::leaf_hash(*e) != content[0][i])
                return make_error("audit: entry " + std::to_string(n * width + i) +
                                  " does not match " + tiles::tile_path(tile));
        }
    }
    // Each full tile against its hash one tile level up.
    for (unsigned level = 0; level * tiles::tile_height < 64; ++level) {
        std::uint64_t full = (size >> (level * tiles::tile_height)) / width;
        if (full == 0) break;
        for (std::uint64_t parent = 0; parent * width < full; ++parent) {
            auto above = static_cast<std::uint16_t>(std::min(width, full - parent * width));
            std::vector<tiles::tile_id> ids{{static_cast<std::uint8_t>(level + 1), parent, above}};
            for (std::uint16_t j = 0; j < above; ++j)
                ids.push_back(
                    {static_cast<std::uint8_t>(level), parent * width + j, tiles::tile_width});
            std::vector<std::vector<hash>> content;
            CIVIC_TRY(store.read_tiles(ids, content));
            for (std::uint16_t j = 0; j < above; ++j) {
                auto& hashes = content[1 + j];
                for (std::size_t n = hashes.size(); n > 1; n /= 2)
                    for (std::size_t k = 0; k < n / 2; ++k)
                        hashes[k] = merkle::node_hash(hashes[2 * k], hashes[2 * k + 1]);
                if (hashes[0] != content[0][j])
                    return make_error("audit: " + tiles::tile_path(ids[1 + j]) +
                                      " does not match " + tiles::tile_path(ids[0]));
            }
        }
    }
    auto from_tiles = tiles::root_at(store, size, size);
    if (!from_tiles) return make_error("audit: " + from_tiles.message());
    if (*from_tiles != tree.root())
        return make_error("audit: the stored tiles do not match the stored tree");
    return {};
}

status verify_recovered_tree(const ledger_store& store, const tree_state& tree,
                             const note::verifier& log_key) {
    CIVIC_TRY_ASSIGN(latest, store.latest_checkpoint());
    if (!latest) {
        if (tree.size() != 0)
            return make_error("recovery: the store holds entries but no signed checkpoint");
        return {};
    }
    auto cp = parse_signed_checkpoint(*latest);
    if (!cp) return make_error("recovery: latest checkpoint: " + cp.message());
    if (auto opened = note::open(cp->signed_note, {&log_key}); !opened)
        return make_error("recovery: latest checkpoint is not signed by this log's key: " +
                          opened.message());
    if (cp->body.size != tree.size())
        return make_error("recovery: the store holds " + std::to_string(tree.size()) +
                          " entries but the latest signed checkpoint is for " +
                          std::to_string(cp->body.size));
    if (cp->body.root != tree.root())
        return make_error(
            "recovery: the stored tree's root differs from the latest signed checkpoint's");
    // The tiles must describe the same tree (proofs are computed from them).
    auto from_tiles = tiles::root_at(store, tree.size(), tree.size());
    if (!from_tiles) return make_error("recovery: stored tiles: " + from_tiles.message());
    if (*from_tiles != tree.root())
        return make_error("recovery: the stored tiles do not match the stored tree");
    return {};
}

std::uint64_t stored_epoch(const ledger_store& store) {
    auto text = store.setting(epoch_setting);
    if (!text || !*text) return 0;
    auto n = parse_decimal(**text);
    return n ? *n : 0;
}

status store_epoch(ledger_store& store, std::uint64_t epoch) {
    return store.put_setting(epoch_setting, std::to_string(epoch));
}

} // namespace civic::storage
