#include "protocol/tiles.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace civic;

TEST_CASE("RFC 6962 hashing of the classic 8-leaf test set", "[merkle]") {
    // The leaves of the transparency-dev / CT test tree; roots from RFC 6962 test data.
    const char* leaves_hex[] = {"",
                                "00",
                                "10",
                                "2021",
                                "3031",
                                "40414243",
                                "5051525354555657",
                                "606162636465666768696a6b6c6d6e6f"};
    const char* roots_hex[] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                               "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                               "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                               "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                               "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                               "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                               "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
    merkle::compact_range range;
    CHECK(range.root() == merkle::empty_root());
    for (int i = 0; i < 8; ++i) {
        range.append(merkle::leaf_hash(*hex_decode(leaves_hex[i])));
        CHECK(hex_encode(range.root()) == roots_hex[i]);
    }
}

TEST_CASE("compact range root equals the recursive definition at every size", "[merkle]") {
    auto leaves = test::make_leaves(700);
    merkle::compact_range range;
    for (std::size_t n = 0; n <= leaves.size(); ++n) {
        INFO("size " << n);
        CHECK(range.root() == test::reference_root(leaves, 0, n));
        CHECK(range.hashes().size() == static_cast<std::size_t>(__builtin_popcountll(n)));
        if (n < leaves.size()) range.append(leaves[n]);
    }
    auto restored = merkle::compact_range::from_hashes(range.size(), range.hashes());
    REQUIRE(restored.ok());
    CHECK(restored->root() == range.root());
    CHECK_FALSE(merkle::compact_range::from_hashes(range.size() + 1, range.hashes()).ok());
}

TEST_CASE("append reports every completed subtree with its hash", "[merkle]") {
    auto leaves = test::make_leaves(300);
    merkle::compact_range range;
    std::size_t reported = 0;
    for (const auto& leaf : leaves) {
        range.append(leaf, [&](std::uint8_t level, std::uint64_t index, const hash& h) {
            std::uint64_t lo = index << level, hi = (index + 1) << level;
            REQUIRE(hi <= range.size() + 1);
            CHECK(h == test::reference_root(leaves, lo, hi));
            ++reported;
        });
    }
    // Every node of the perfect subtrees of a 300-leaf tree is reported once: 2n - popcount(n).
    CHECK(reported == 2 * 300 - __builtin_popcountll(300));
}

TEST_CASE("decompose splits ranges into aligned perfect subtrees", "[merkle]") {
    auto nodes = merkle::decompose(0, 7);
    REQUIRE(nodes.size() == 3);
    CHECK((nodes[0] == merkle::node_id{2, 0}));
    CHECK((nodes[1] == merkle::node_id{1, 2}));
    CHECK((nodes[2] == merkle::node_id{0, 6}));
    nodes = merkle::decompose(8, 13);
    REQUIRE(nodes.size() == 2);
    CHECK((nodes[0] == merkle::node_id{2, 2}));
    CHECK((nodes[1] == merkle::node_id{0, 12}));
    CHECK(merkle::decompose(5, 5).empty());
}

TEST_CASE("proofs generated from tiles equal the RFC definitions and verify", "[merkle][tiles]") {
    // 600 leaves spans two tile levels; every index and size pair up to 600 is too many, so
    // check all pairs up to 130 and a deterministic sample beyond.
    auto leaves = test::make_leaves(600);
    tiles::memory_tiles store;
    for (const auto& leaf : leaves)
        store.append(leaf);

    auto check_inclusion = [&](std::uint64_t index, std::uint64_t size) {
        INFO("inclusion " << index << " in " << size);
        auto proof = tiles::inclusion_proof(store, index, size);
        REQUIRE(proof.ok());
        std::vector<hash> expected;
        test::reference_path(leaves, index, 0, size, expected);
        CHECK(*proof == expected);
        auto root = test::reference_root(leaves, 0, size);
        CHECK(merkle::verify_inclusion(index, size, leaves[index], *proof, root).ok());
    };
    auto check_consistency = [&](std::uint64_t old_size, std::uint64_t new_size) {
        INFO("consistency " << old_size << " -> " << new_size);
        auto proof = tiles::consistency_proof(store, old_size, new_size);
        REQUIRE(proof.ok());
        std::vector<hash> expected;
        test::reference_subproof(leaves, old_size, 0, new_size, true, expected);
        CHECK(*proof == expected);
        CHECK(merkle::verify_consistency(old_size, new_size, *proof,
                                         test::reference_root(leaves, 0, old_size),
                                         test::reference_root(leaves, 0, new_size))
                  .ok());
    };
    for (std::uint64_t size = 1; size <= 130; ++size) {
        for (std::uint64_t i = 0; i < size; ++i)
            check_inclusion(i, size);
        for (std::uint64_t old_size = 1; old_size <= size; ++old_size)
            check_consistency(old_size, size);
    }
    std::mt19937_64 rng(42);
    for (int n = 0; n < 400; ++n) {
        std::uint64_t size = 1 + rng() % 600;
        check_inclusion(rng() % size, size);
        check_consistency(1 + rng() % size, size);
    }
    for (std::uint64_t size = 1; size <= 600; ++size) {
        auto root = tiles::root_at(store, store.size(), size);
        REQUIRE(root.ok());
        CHECK(*root == test::reference_root(leaves, 0, size));
    }
}

TEST_CASE("proof generation refuses impossible requests", "[merkle][tiles]") {
    tiles::memory_tiles store;
    for (const auto& leaf : test::make_leaves(10))
        store.append(leaf);
    CHECK_FALSE(tiles::inclusion_proof(store, 10, 10).ok());
    CHECK_FALSE(tiles::inclusion_proof(store, 0, 11).ok()); // tiles for size 11 do not exist
    CHECK_FALSE(tiles::consistency_proof(store, 0, 5).ok());
    CHECK_FALSE(tiles::consistency_proof(store, 6, 5).ok());
    CHECK(tiles::consistency_proof(store, 5, 5)->empty());
    CHECK_FALSE(tiles::root_at(store, 10, 11).ok());
}

TEST_CASE("verification rejects malformed proofs without reading out of bounds", "[merkle]") {
    auto leaves = test::make_leaves(20);
    merkle::compact_range range;
    for (const auto& l : leaves)
        range.append(l);
    auto root = range.root();
    std::vector<hash> too_long(merkle::max_proof_hashes + 1);
    CHECK_FALSE(merkle::verify_inclusion(3, 20, leaves[3], too_long, root).ok());
    CHECK_FALSE(merkle::verify_consistency(3, 20, too_long, root, root).ok());
    CHECK_FALSE(merkle::verify_inclusion(UINT64_MAX, UINT64_MAX, leaves[3], {}, root).ok());
    CHECK_FALSE(merkle::verify_inclusion(0, 0, leaves[0], {}, root).ok());
    CHECK_FALSE(
        merkle::verify_inclusion(0, 1, byte_view(leaves[0].data(), 31), {}, leaves[0]).ok());
    CHECK(merkle::verify_inclusion(0, 1, leaves[0], {}, leaves[0]).ok());
}

namespace {
/// Checks every (or every `stride`-th) proof of the batch [begin, end) against RFC PATH.
void check_batch(const std::vector<hash>& leaves, std::uint64_t begin, std::uint64_t end,
                 std::uint64_t stride = 1) {
    merkle::compact_range before;
    for (std::uint64_t i = 0; i < begin; ++i)
        before.append(leaves[i]);
    std::vector<hash> batch(leaves.begin() + static_cast<std::ptrdiff_t>(begin),
                            leaves.begin() + static_cast<std::ptrdiff_t>(end));
    merkle::batch_inclusion proofs(before, batch);
    auto root = test::reference_root(leaves, 0, end);
    for (std::uint64_t i = begin; i < end; i += stride) {
        INFO("batch [" << begin << ", " << end << ") leaf " << i);
        std::vector<hash> expected;
        test::reference_path(leaves, i, 0, end, expected);
        bytes got;
        REQUIRE(proofs.proof(i, got).ok());
        bytes want;
        for (const auto& h : expected)
            want.insert(want.end(), h.begin(), h.end());
        REQUIRE(got == want);
        REQUIRE(merkle::verify_inclusion(i, end, leaves[i], expected, root).ok());
    }
}
} // namespace

TEST_CASE("batch inclusion proofs equal RFC PATH for every batch of every small tree", "[merkle]") {
    std::vector<hash> leaves;
    for (int i = 0; i < 600; ++i)
        leaves.push_back(merkle::leaf_hash(byte_view("leaf " + std::to_string(i))));
    for (std::uint64_t begin = 0; begin <= 40; ++begin)
        for (std::uint64_t end = begin + 1; end <= 41; ++end)
            check_batch(leaves, begin, end);
    // Larger, unaligned batches, sampled leaves.
    check_batch(leaves, 255, 513, 7);
    check_batch(leaves, 256, 600, 11);
    check_batch(leaves, 1, 600, 13);
    check_batch(leaves, 511, 512);

    merkle::compact_range before;
    before.append(leaves[0]);
    merkle::batch_inclusion one(before, {leaves[1], leaves[2]});
    bytes out;
    CHECK_FALSE(one.proof(0, out).ok());
    CHECK_FALSE(one.proof(3, out).ok());
    CHECK(out.empty());
}
