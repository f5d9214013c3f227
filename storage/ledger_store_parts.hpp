// Internal to the ledger store's two sources: ledger_store.cpp (opening,
// commits, raw reads, the registry, tokens, settings) and
// ledger_store_verified.cpp (the trusted tree, checked reads, damage, scrub
// and heal).
#pragma once

#include "protocol/merkle.hpp"
#include "storage/ledger_store.hpp"

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace civic::storage {
namespace store_detail {

inline bytes tile_key(std::uint8_t level, std::uint64_t index) {
    bytes k{level};
    put_u64_be(k, index);
    return k;
}

inline const std::string tree_key = "tree";

inline bytes hashes_bytes(const std::vector<hash>& hashes) {
    bytes out;
    out.reserve(hashes.size() * 32);
    for (const auto& h : hashes)
        out.insert(out.end(), h.begin(), h.end());
    return out;
}

/// The root of a full tile's 256 hashes: the node 8 levels above them.
inline hash tile_root(std::vector<hash> hashes) {
    for (std::size_t n = hashes.size(); n > 1; n /= 2)
        for (std::size_t k = 0; k < n / 2; ++k)
            hashes[k] = merkle::node_hash(hashes[2 * k], hashes[2 * k + 1]);
    return hashes[0];
}

inline error damaged(const std::string& what) { return make_error(damage_marker + what); }

} // namespace store_detail

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

} // namespace civic::storage
