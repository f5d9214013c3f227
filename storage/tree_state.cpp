#include "storage/tree_state.hpp"

namespace civic::storage {

using tiles::tile_height;
using tiles::tile_width;

result<tree_state> tree_state::restore(merkle::compact_range range,
                                       std::vector<std::vector<hash>> tails) {
    tree_state s;
    for (std::size_t level = 0; level < tails.size(); ++level) {
        std::uint64_t count = level * tile_height >= 64 ? 0 : range.size() >> (level * tile_height);
        if (tails[level].size() != count % tile_width)
            return make_error("tree state: tile level " + std::to_string(level) + " has " +
                              std::to_string(tails[level].size()) + " hashes, expected " +
                              std::to_string(count % tile_width));
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
