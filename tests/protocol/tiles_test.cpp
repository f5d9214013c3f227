#include "protocol/tiles.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace civic;
using tiles::tile_id;

TEST_CASE("tile paths follow tlog-tiles", "[tiles]") {
    CHECK(tiles::index_path(1234067) == "x001/x234/067");
    CHECK(tiles::index_path(0) == "000");
    CHECK(tiles::index_path(999) == "999");
    CHECK(tiles::index_path(1000) == "x001/000");
    CHECK(tiles::tile_path({0, 1234067, 256}) == "tile/0/x001/x234/067");
    CHECK(tiles::tile_path({2, 5, 17}) == "tile/2/005.p/17");
    CHECK(tiles::entries_path(1, 112) == "tile/entries/001.p/112");
    CHECK(tiles::entries_path(1000, 256) == "tile/entries/x001/000");
}

TEST_CASE("tile path parsing is strict and round-trips", "[tiles]") {
    for (std::uint64_t index : {std::uint64_t{0}, std::uint64_t{7}, std::uint64_t{1000},
                                std::uint64_t{1234067}, std::uint64_t{18446744073709551615u}}) {
        for (std::uint16_t width : {std::uint16_t{1}, std::uint16_t{255}, std::uint16_t{256}}) {
            tile_id t{3, index, width};
            auto parsed = tiles::parse_tile_path(tiles::tile_path(t));
            REQUIRE(parsed.ok());
            CHECK_FALSE(parsed->entries);
            CHECK(parsed->tile == t);
            auto e = tiles::parse_tile_path(tiles::entries_path(index, width));
            REQUIRE(e.ok());
            CHECK(e->entries);
            CHECK(e->tile.index == index);
            CHECK(e->tile.width == width);
        }
    }
    for (const char* bad : {"tile/0",
                            "tile/0/",
                            "tile/00/000",
                            "tile/64/000",
                            "tile/-1/000",
                            "tile/0/1",
                            "tile/0/0001",
                            "tile/0/x000/001",
                            "tile/0/001/002",
                            "tile/0/x1/002",
                            "tile/0/000.p/0",
                            "tile/0/000.p/256",
                            "tile/0/000.p/01",
                            "tile/0/000.p/",
                            "tile/0/000.p/5/",
                            "tile/0/000/",
                            "tile/entries/",
                            "tile/entries/00a",
                            "tiles/0/000",
                            "tile/0/x018/x446/x744/x073/x709/x551/616",
                            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
                            "tile/0/../000"}) {
        INFO(bad);
        CHECK_FALSE(tiles::parse_tile_path(bad).ok());
    }
}

TEST_CASE("partial tiles: the spec's example tree of 70,000 leaves", "[tiles]") {
    // 273 full level-0 tiles, a partial of width 112; a full level-1 tile and a
    // partial of width 17; a partial level-2 tile of width 1.
    CHECK(tiles::partial_width(0, 70000) == 112);
    CHECK(tiles::partial_width(1, 70000) == 17);
    CHECK(tiles::partial_width(2, 70000) == 1);
    CHECK(tiles::partial_width(3, 70000) == 0);
    CHECK(tiles::tile_exists({0, 272, 256}, 70000));
    CHECK(tiles::tile_exists({0, 273, 112}, 70000));
    CHECK_FALSE(tiles::tile_exists({0, 273, 256}, 70000));
    CHECK_FALSE(tiles::tile_exists({0, 273, 111}, 70000));
    CHECK_FALSE(tiles::tile_exists({0, 274, 1}, 70000));
    CHECK(tiles::tile_exists({1, 0, 256}, 70000));
    CHECK(tiles::tile_exists({1, 1, 17}, 70000));
    CHECK(tiles::tile_exists({2, 0, 1}, 70000));
    CHECK_FALSE(tiles::tile_exists({2, 0, 256}, 70000));
    // A tree of 256 leaves: a full level-0 tile and a level-1 partial of width 1.
    CHECK(tiles::tile_exists({0, 0, 256}, 256));
    CHECK(tiles::tile_exists({1, 0, 1}, 256));
    CHECK_FALSE(tiles::tile_exists({0, 1, 1}, 256));
}

TEST_CASE("tile contents are the spec's Merkle tree hashes", "[tiles]") {
    // Tile (l, n) hash i is MTH(D[(n*256 + i) * 256^l : (n*256 + i + 1) * 256^l]).
    const std::size_t size = 256 * 256 + 300;
    auto leaves = test::make_leaves(size);
    tiles::memory_tiles store;
    for (const auto& l : leaves)
        store.append(l);
    std::vector<std::vector<hash>> out;
    REQUIRE(store.read_tiles({{0, 257, 44}, {1, 0, 256}, {1, 1, 1}, {2, 0, 1}}, out).ok());
    REQUIRE(out.size() == 4);
    CHECK(out[0][43] == leaves[257 * 256 + 43]);
    for (std::size_t i : {std::size_t{0}, std::size_t{100}, std::size_t{255}})
        CHECK(out[1][i] == test::reference_root(leaves, i * 256, (i + 1) * 256));
    CHECK(out[2][0] == test::reference_root(leaves, 256 * 256, 256 * 256 + 256));
    CHECK(out[3][0] == test::reference_root(leaves, 0, 256 * 256));
    CHECK_FALSE(store.read_tiles({{0, 257, 45}}, out).ok());
    CHECK_FALSE(store.read_tiles({{3, 0, 1}}, out).ok());

    // Proofs in this tree cross three tile levels.
    auto proof = tiles::inclusion_proof(store, 65000, size);
    REQUIRE(proof.ok());
    std::vector<hash> expected;
    test::reference_path(leaves, 65000, 0, size, expected);
    CHECK(*proof == expected);
    auto cons = tiles::consistency_proof(store, 300, size);
    REQUIRE(cons.ok());
    expected.clear();
    test::reference_subproof(leaves, 300, 0, size, true, expected);
    CHECK(*cons == expected);
}

namespace {
// A reader that returns wider tiles than asked (allowed) or short ones (an error).
struct odd_reader final : tiles::tile_reader {
    const tiles::memory_tiles& inner;
    bool shorten;
    odd_reader(const tiles::memory_tiles& t, bool s) : inner(t), shorten(s) {}
    status read_tiles(const std::vector<tile_id>& ids,
                      std::vector<std::vector<hash>>& out) const override {
        CIVIC_TRY(inner.read_tiles(ids, out));
        for (auto& t : out)
            if (shorten) t.pop_back();
        return {};
    }
};
} // namespace

TEST_CASE("subtree reader reports short tiles from a broken store", "[tiles]") {
    auto leaves = test::make_leaves(40);
    tiles::memory_tiles store;
    for (const auto& l : leaves)
        store.append(l);
    odd_reader good(store, false), bad(store, true);
    CHECK(tiles::inclusion_proof(good, 7, 40).ok());
    auto failed = tiles::inclusion_proof(bad, 7, 40);
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.message().find("shorter than its width") != std::string::npos);
}

TEST_CASE("tile cache gives the same proofs as the definition while the tree grows", "[tiles]") {
    // Partial tiles change as the tree grows: the cache must never serve a stale one.
    auto leaves = test::make_leaves(1300);
    tiles::memory_tiles store;
    tiles::tile_cache cache(store, 64);
    std::size_t checked = 0;
    for (std::size_t n = 0; n < leaves.size(); ++n) {
        store.append(leaves[n]);
        std::uint64_t size = n + 1;
        if (size % 7 != 0 && size != leaves.size()) continue;
        for (std::uint64_t index : {std::uint64_t{0}, size / 2, size - 1}) {
            auto proof = tiles::inclusion_proof(cache, index, size);
            REQUIRE(proof.ok());
            std::vector<hash> expected;
            test::reference_path(leaves, index, 0, size, expected);
            CHECK(*proof == expected);
        }
        auto cons = tiles::consistency_proof(cache, size / 3 + 1, size);
        REQUIRE(cons.ok());
        std::vector<hash> expected;
        test::reference_subproof(leaves, size / 3 + 1, 0, size, true, expected);
        CHECK(*cons == expected);
        CHECK(*tiles::root_at(cache, size, size) == store.root());
        ++checked;
    }
    CHECK(checked > 150);
    CHECK(cache.size() <= 64);
    CHECK(cache.hits() > cache.misses());
}

TEST_CASE("tile cache stays within its capacity and reads a tile once while it is resident",
          "[tiles]") {
    auto leaves = test::make_leaves(256 * 10);
    tiles::memory_tiles store;
    for (const auto& l : leaves)
        store.append(l);
    const std::uint64_t size = store.size();

    tiles::tile_cache cache(store, 2);
    REQUIRE(tiles::inclusion_proof(cache, 5, size).ok());
    auto misses_after_first = cache.misses();
    // The same proof again: every tile it needs is resident.
    REQUIRE(tiles::inclusion_proof(cache, 5, size).ok());
    CHECK(cache.misses() == misses_after_first);
    // Proofs all over the tree with room for two tiles: evictions, never more than two kept,
    // and still the right answers.
    for (std::uint64_t i = 0; i < size; i += 97) {
        auto proof = tiles::inclusion_proof(cache, i, size);
        REQUIRE(proof.ok());
        CHECK(merkle::verify_inclusion(i, size, leaves[i], *proof, store.root()).ok());
        CHECK(cache.size() <= 2);
    }
    CHECK(cache.misses() > misses_after_first);
}
