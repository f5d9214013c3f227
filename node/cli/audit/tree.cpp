#include "node/cli/audit/tree.hpp"

#include "protocol/merkle.hpp"

#include <algorithm>

namespace civic::node::audit {

using tiles::tile_id;
using tiles::tile_width;

namespace {

/// The level >= 1 tiles that bundle `index` completes when it is full: the
/// level-1 tile once 256 level-0 tiles are in, and so on up.
std::vector<tile_id> tiles_completed_by(std::uint64_t index, std::uint64_t width) {
    std::vector<tile_id> out;
    if (width != tile_width) return out;
    std::uint64_t count = index + 1; // full tiles at the level below, this one included
    for (std::uint8_t level = 1;
         level <= tiles::max_tile_level / tiles::tile_height && count % tile_width == 0; ++level) {
        count /= tile_width;
        out.push_back(tile_id{level, count - 1, static_cast<std::uint16_t>(tile_width)});
    }
    return out;
}

/// The partial tiles at levels >= 1 of the tree of `size` leaves.
std::vector<tile_id> partial_upper_tiles(std::uint64_t size) {
    std::vector<tile_id> out;
    for (std::uint8_t level = 1; level * tiles::tile_height < 64; ++level) {
        auto width = tiles::partial_width(level, size);
        if ((size >> (level * tiles::tile_height)) == 0) break;
        if (width == 0) continue;
        out.push_back(tile_id{level, (size >> (level * tiles::tile_height)) / tile_width, width});
    }
    return out;
}

/// The root of the perfect tree whose 256 leaves are `hashes`.
hash perfect_root(std::vector<hash> hashes) {
    for (auto n = hashes.size(); n > 1; n /= 2)
        for (std::size_t i = 0; i < n / 2; ++i)
            hashes[i] = merkle::node_hash(hashes[2 * i], hashes[2 * i + 1]);
    return hashes.at(0);
}

/// Where two hash lists differ: how often, and the first place.
struct difference {
    std::size_t count = 0;
    std::size_t first = 0;
};
difference compare(const std::vector<hash>& a, const std::vector<hash>& b) {
    difference d;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        if (a[i] != b[i] && d.count++ == 0) d.first = i;
    return d;
}

/// "1 entry does" / "3 entries do": `one` and `many` are the two forms.
std::string counted(std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

} // namespace

struct tree_audit::reads {
    std::uint64_t index = 0; // the bundle's
    std::uint64_t begin = 0, end = 0, first = 0;
    served_bundle bundle;
    served_hashes level0;
    std::vector<hash> entry_hashes; // every entry's leaf hash, when the bundle parsed
    std::vector<tile_id> upper_ids; // level >= 1 tiles to check once the leaves are in
    std::vector<served_hashes> upper;
};

/// The two sides of a bundle: its entries' leaf hashes and the served
/// level-0 tile's, from the first index audited now; and which of them the
/// tree above confirms.
struct tree_audit::sides {
    bool bundle_ok = false, tile_ok = false;
    std::vector<hash> entries, served;
    bool entries_right = false, served_right = false;
    std::string confirmer; // what confirms: a level-1 tile, or the checkpoint's root
};

struct tree_audit::verdict {
    std::vector<hash> leaves; // what goes into the tree: [first, end)
    std::vector<bool> trusted;
    std::vector<std::pair<std::string, std::string>> complaints; // path, message
    bool stuck = false;
};

result<tree_audit> tree_audit::resume(const tree_snapshot* start, std::uint64_t target_size,
                                      const hash& target_root, std::size_t max_entry) {
    tree_audit t;
    t.target_size_ = target_size;
    t.target_root_ = target_root;
    t.max_entry_ = max_entry;
    if (start) {
        auto range = merkle::compact_range::from_hashes(start->size, start->range);
        if (!range) return make_error("the state's tree: " + range.message());
        auto restored = storage::tree_state::restore(std::move(*range), start->tails);
        if (!restored) return make_error("the state's tree: " + restored.message());
        t.tree_ = std::move(*restored);
    }
    CIVIC_ASSERT_LE(t.tree_.size(), target_size);
    return t;
}

tree_snapshot tree_audit::snapshot(const std::string& checkpoint) const {
    return tree_snapshot{checkpoint, tree_.size(), tree_.range().hashes(), tree_.tails()};
}

result<tree_audit::reads> tree_audit::read_bundle(log_source& source) const {
    reads r;
    r.first = tree_.size();
    r.index = r.first / tile_width;
    r.begin = r.index * tile_width;
    r.end = std::min(r.begin + tile_width, target_size_);
    const auto width = static_cast<std::uint16_t>(r.end - r.begin);
    CIVIC_TRY_ASSIGN(bundle, fetch_entry_bundle(source, r.index, width, max_entry_));
    CIVIC_TRY_ASSIGN(level0, fetch_hash_tile(source, tile_id{0, r.index, width}));
    r.bundle = std::move(bundle);
    r.level0 = std::move(level0);
    r.upper_ids = tiles_completed_by(r.index, width);
    if (r.end == target_size_) {
        auto partial = partial_upper_tiles(target_size_);
        r.upper_ids.insert(r.upper_ids.end(), partial.begin(), partial.end());
    }
    for (const auto& id : r.upper_ids) {
        CIVIC_TRY_ASSIGN(served, fetch_hash_tile(source, id));
        r.upper.push_back(std::move(served));
    }
    if (r.bundle.malformed.empty())
        for (std::size_t i = 0; i < r.bundle.count(); ++i)
            r.entry_hashes.push_back(merkle::leaf_hash(r.bundle.entry(i)));
    return r;
}

void tree_audit::check_prefix(const reads& r, violations& found) const {
    // Entries below `first` were audited by an earlier run: the state holds their leaves.
    if (r.first == r.begin) return;
    const auto& known = tree_.tails().at(0);
    auto report = [&](const std::string& path, const std::vector<hash>& served, const char* what) {
        if (served.empty()) return;
        std::vector<hash> prefix(served.begin(),
                                 served.begin() + static_cast<std::ptrdiff_t>(known.size()));
        auto d = compare(prefix, known);
        if (d.count > 0)
            found.at_tile(path, std::to_string(d.count) + " of its " + what + " below index " +
                                    std::to_string(r.first) +
                                    " are not the ones audited before (first: index " +
                                    std::to_string(r.begin + d.first) + ")");
    };
    report(r.bundle.path, r.entry_hashes, "entries");
    report(r.level0.path, r.level0.hashes, "leaf hashes");
}

result<tree_audit::verdict> tree_audit::judge(log_source& source, const reads& r) const {
    const auto skip = static_cast<std::ptrdiff_t>(r.first - r.begin);
    sides s;
    s.bundle_ok = r.bundle.malformed.empty();
    s.tile_ok = r.level0.malformed.empty();
    if (s.bundle_ok) s.entries.assign(r.entry_hashes.begin() + skip, r.entry_hashes.end());
    if (s.tile_ok) s.served.assign(r.level0.hashes.begin() + skip, r.level0.hashes.end());
    if (s.bundle_ok && s.tile_ok && s.entries == s.served) {
        verdict v;
        v.leaves = std::move(s.entries);
        v.trusted.assign(v.leaves.size(), true);
        return v;
    }
    // They disagree: ask the tree above which side it holds. A full bundle's
    // subtree hash is in the level-1 tile; the last partial one's leaves
    // make the checkpoint's root with the tree before them.
    const bool full = r.end - r.begin == tile_width;
    std::optional<hash> parent;
    s.confirmer = "the checkpoint's root";
    if (full) {
        CIVIC_TRY_ASSIGN(above, fetch_hash_tile(source, tiles::tile_for(1, r.index, target_size_)));
        s.confirmer = above.path + " (its hash " + std::to_string(r.index % tile_width) + ")";
        if (above.malformed.empty()) parent = above.hashes[r.index % tile_width];
    }
    auto confirmed = [&](const std::vector<hash>& leaves) {
        if (full) {
            if (!parent) return false;
            std::vector<hash> all = tree_.tails().empty() ? std::vector<hash>() : tree_.tails()[0];
            all.insert(all.end(), leaves.begin(), leaves.end());
            return perfect_root(std::move(all)) == *parent;
        }
        auto range = tree_.range();
        for (const auto& h : leaves)
            range.append(h);
        return range.root() == target_root_;
    };
    s.entries_right = s.bundle_ok && confirmed(s.entries);
    s.served_right = s.tile_ok && confirmed(s.served);
    return blame(r, std::move(s));
}

tree_audit::verdict tree_audit::blame(const reads& r, sides s) const {
    verdict v;
    auto d = compare(s.entries, s.served);
    auto first_index = " (first: index " + std::to_string(r.first + d.first) + ")";
    if (s.served_right && !s.entries_right) {
        auto what = s.bundle_ok ? counted(d.count, "entry does not hash to its leaf hash",
                                          "entries do not hash to their leaf hashes") +
                                      " in " + r.level0.path + first_index
                                : "malformed: " + r.bundle.malformed;
        v.complaints.emplace_back(r.bundle.path,
                                  what + ", and " + s.confirmer + " confirms " + r.level0.path);
        for (std::size_t i = 0; i < s.served.size(); ++i)
            v.trusted.push_back(s.bundle_ok && s.entries[i] == s.served[i]);
        v.leaves = std::move(s.served);
        return v;
    }
    if (s.entries_right) {
        auto what = s.tile_ok ? counted(d.count, "hash is not the leaf hash",
                                        "hashes are not the leaf hashes") +
                                    " of the entries in " + r.bundle.path + first_index
                              : "malformed: " + r.level0.malformed;
        v.complaints.emplace_back(r.level0.path,
                                  what + ", and " + s.confirmer + " confirms the entries");
        v.leaves = std::move(s.entries);
        v.trusted.assign(v.leaves.size(), true);
        return v;
    }
    // Neither side makes the tree above: say so; the root check decides the rest.
    if (!s.bundle_ok) v.complaints.emplace_back(r.bundle.path, "malformed: " + r.bundle.malformed);
    if (!s.tile_ok) v.complaints.emplace_back(r.level0.path, "malformed: " + r.level0.malformed);
    if (s.bundle_ok && s.tile_ok)
        v.complaints.emplace_back(r.bundle.path, "its entries and " + r.level0.path + " disagree" +
                                                     first_index + ", and neither makes " +
                                                     s.confirmer);
    v.stuck = !s.bundle_ok && !s.tile_ok;
    v.trusted.assign(s.bundle_ok ? s.entries.size() : s.served.size(), s.bundle_ok);
    v.leaves = s.bundle_ok ? std::move(s.entries) : std::move(s.served);
    return v;
}

void tree_audit::check_upper_tiles(const reads& r, const std::vector<storage::tile_write>& changed,
                                   violations& found) const {
    for (std::size_t i = 0; i < r.upper_ids.size(); ++i) {
        const auto& id = r.upper_ids[i];
        const auto& served = r.upper[i];
        if (!served.malformed.empty()) {
            found.at_tile(served.path, "malformed: " + served.malformed);
            continue;
        }
        const std::vector<hash>* recomputed = nullptr;
        if (id.full()) {
            for (const auto& c : changed)
                if (c.tile.level == id.level && c.tile.index == id.index && c.tile.full())
                    recomputed = &c.hashes;
        } else {
            recomputed = &tree_.tails().at(id.level);
        }
        CIVIC_ASSERT(recomputed != nullptr); // the tiles the bundle completes, as predicted
        auto d = compare(served.hashes, *recomputed);
        if (d.count > 0)
            found.at_tile(served.path,
                          counted(d.count, "hash is not the hash", "hashes are not the hashes") +
                              " of the tiles below, as recomputed from the entries (first: hash " +
                              std::to_string(d.first) + ")");
    }
}

result<bundle_done> tree_audit::advance(log_source& source, audit_state& state, violations& found) {
    CIVIC_ASSERT(!done() && !stuck_);
    CIVIC_TRY_ASSIGN(r, read_bundle(source));
    CIVIC_TRY_ASSIGN(v, judge(source, r));
    // Every read is done: from here on the audit moves forward.
    check_prefix(r, found);
    for (const auto& [path, message] : v.complaints)
        found.at_tile(path, message);
    bundle_done out{std::move(r.bundle), r.begin, r.first, {}};
    if (v.stuck) {
        stuck_ = true;
        return out;
    }
    for (const auto& leaf : v.leaves)
        tree_.append(leaf);
    auto changed = tree_.take_changed_tiles();
    for (const auto& c : changed)
        if (c.tile.full()) CIVIC_TRY(state.put_full_tile(c.tile, c.hashes));
    check_upper_tiles(r, changed, found);
    out.trusted = std::move(v.trusted);
    return out;
}

} // namespace civic::node::audit
