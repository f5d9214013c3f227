#include "storage/tree_state.hpp"

namespace civic::storage {

using tiles::tile_height;
using tiles::tile_width;

bool tree_state::tail_matches(const merkle::compact_range& range, std::size_t level,
                              const std::vector<hash>& tail) {
    const auto size = range.size();
    const unsigned base = static_cast<unsigned>(level * tile_height);
    if (base >= 64 || tail.size() != ((size >> base) % tile_width)) return false;
    std::size_t offset = 0;
    for (int k = static_cast<int>(tile_height) - 1; k >= 0; --k) {
        const std::size_t width = std::size_t{1} << k;
        if ((tail.size() & width) == 0) continue;
        std::vector<hash> nodes(tail.begin() + static_cast<std::ptrdiff_t>(offset),
                                tail.begin() + static_cast<std::ptrdiff_t>(offset + width));
        for (std::size_t n = width; n > 1; n /= 2)
            for (std::size_t i = 0; i < n / 2; ++i)
                nodes[i] = merkle::node_hash(nodes[2 * i], nodes[2 * i + 1]);
        offset += width;
        // The range holds one hash per set bit of the size, highest first.
        const unsigned height = base + static_cast<unsigned>(k);
        const auto at = static_cast<std::size_t>(
            __builtin_popcountll(height + 1 >= 64 ? 0 : size >> (height + 1)));
        if (at >= range.hashes().size() || range.hashes()[at] != nodes[0]) return false;
    }
    return true;
}

result<tree_state> tree_state::restore(merkle::compact_range range,
                                       std::vector<std::vector<hash>> tails) {
    tree_state s;
    for (std::size_t level = 0; level < tails.size(); ++level) {
        std::uint64_t count = level * tile_height >= 64 ? 0 : range.size() >> (level * tile_height);
        if (tails[level].size() != count % tile_width)
            return make_error("tree state: tile level " + std::to_string(level) + " has " +
                              std::to_string(tails[level].size()) + " hashes, expected " +
                              std::to_string(count % tile_width));
        if (!tail_matches(range, level, tails[level]))
            return make_error("tree state: the rightmost tile of level " + std::to_string(level) +
                              " does not make the stored tree");
    }
    s.range_ = std::move(range);
    s.tails_ = std::move(tails);
    s.tail_changed_.assign(s.tails_.size(), false);
    return s;
}

void tree_state::append(const hash& leaf) {
    range_.append(leaf, [this](std::uint8_t level, std::uint64_t index, const hash& h) {
        if (level % tile_height != 0) return;
        std::size_t tile_level = level / tile_height;
        if (tails_.size() <= tile_level) {
            tails_.resize(tile_level + 1);
            tail_changed_.resize(tile_level + 1, false);
        }
        auto& tail = tails_[tile_level];
        tail.push_back(h);
        tail_changed_[tile_level] = true;
        if (tail.size() == tile_width) {
            // A full tile never changes again: hand it to the next commit and start the next.
            completed_.push_back(
                {tiles::tile_id{static_cast<std::uint8_t>(tile_level), index / tile_width,
                                static_cast<std::uint16_t>(tile_width)},
                 std::move(tail)});
            tail.clear();
            tail_changed_[tile_level] = false;
        }
    });
}

std::vector<tile_write> tree_state::take_changed_tiles() {
    std::vector<tile_write> out = std::move(completed_);
    completed_.clear();
    for (std::size_t level = 0; level < tails_.size(); ++level) {
        if (!tail_changed_[level]) continue;
        tail_changed_[level] = false;
        std::uint64_t count = range_.size() >> (level * tile_height);
        out.push_back({tiles::tile_id{static_cast<std::uint8_t>(level), count / tile_width,
                                      static_cast<std::uint16_t>(tails_[level].size())},
                       tails_[level]});
    }
    return out;
}

} // namespace civic::storage
