// libFuzzer target: merkle::verify_inclusion / verify_consistency on arbitrary
// input (must never crash), plus a soundness oracle against a fixed real tree.
//
// Input: 8-byte big-endian index, 8-byte big-endian size, then 32-byte chunks:
// proof hashes..., leaf (or old root), root (or new root). For consistency the
// index is the old size.
#include "protocol/merkle.hpp"
#include "protocol/tiles.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace {

namespace merkle = civic::merkle;
namespace tiles = civic::tiles;
using civic::hash;

// A real tree of `tree_leaves` leaves, leaf i = leaf_hash(be64(i)), and the root
// of every prefix of it.
constexpr std::uint64_t tree_leaves = 1100;

struct reference_tree {
    tiles::memory_tiles tree;
    std::vector<hash> leaves;
    std::vector<hash> roots; // roots[s] = root of the first s leaves
    reference_tree() {
        merkle::compact_range range;
        roots.push_back(range.root());
        for (std::uint64_t i = 0; i < tree_leaves; ++i) {
            civic::bytes b;
            civic::put_u64_be(b, i);
            leaves.push_back(merkle::leaf_hash(b));
            tree.append(leaves.back());
            range.append(leaves.back());
            roots.push_back(range.root());
        }
        if (tree.root() != roots.back()) CIVIC_FUZZ_FAIL("memory_tiles and compact_range disagree");
    }
};

const reference_tree& reference() {
    static const reference_tree t;
    return t;
}

bool same(civic::byte_view a, const hash& b) { return civic::equal(a, b); }

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 16) return 0;
    const std::uint64_t index = civic::get_u64_be(data);
    const std::uint64_t tree_size = civic::get_u64_be(data + 8);
    const std::uint8_t* rest = data + 16;
    const std::size_t chunks = (size - 16) / 32;

    std::vector<hash> proof;
    civic::byte_view leaf, root;
    if (chunks >= 2) {
        for (std::size_t i = 0; i + 2 < chunks; ++i) {
            hash h;
            std::copy(rest + 32 * i, rest + 32 * (i + 1), h.begin());
            proof.push_back(h);
        }
        leaf = civic::byte_view(rest + 32 * (chunks - 2), 32);
        root = civic::byte_view(rest + 32 * (chunks - 1), 32);
    } else {
        // Too short for two hashes: pass whatever is there (wrong lengths must be rejected).
        leaf = civic::byte_view(rest, size - 16);
    }

    const bool incl_ok =
        static_cast<bool>(merkle::verify_inclusion(index, tree_size, leaf, proof, root));
    const bool cons_ok =
        static_cast<bool>(merkle::verify_consistency(index, tree_size, proof, leaf, root));
    if (leaf.size() == 32) {
        hash leaf_copy;
        std::copy(leaf.begin(), leaf.end(), leaf_copy.begin());
        auto implied = merkle::root_from_inclusion(index, tree_size, leaf_copy, proof);
        if (implied && root.size() == 32 && incl_ok != same(root, *implied))
            CIVIC_FUZZ_FAIL("verify_inclusion disagrees with root_from_inclusion");
        if (!implied && incl_ok)
            CIVIC_FUZZ_FAIL("verify_inclusion accepted a proof of the wrong shape");
    }
    if (auto range = merkle::compact_range::from_hashes(tree_size, proof)) (void)range->root();

    // Oracle: against the reference tree, only the real proof may verify.
    const auto& ref = reference();
    if (index < tree_size && tree_size <= tree_leaves) {
        auto real = tiles::inclusion_proof(ref.tree, index, tree_size);
        if (!real) CIVIC_FUZZ_FAIL("inclusion_proof failed on the reference tree");
        auto r = tiles::root_at(ref.tree, tree_leaves, tree_size);
        if (!r || *r != ref.roots[tree_size])
            CIVIC_FUZZ_FAIL("root_at disagrees with compact_range");
        if (!merkle::verify_inclusion(index, tree_size, ref.leaves[index], *real,
                                      ref.roots[tree_size]))
            CIVIC_FUZZ_FAIL("real inclusion proof does not verify");
        if (merkle::verify_inclusion(index, tree_size, ref.leaves[index], proof,
                                     ref.roots[tree_size]) &&
            proof != *real)
            CIVIC_FUZZ_FAIL("a forged inclusion proof verifies");
        if (incl_ok && same(root, ref.roots[tree_size]) &&
            (!same(leaf, ref.leaves[index]) || proof != *real))
            CIVIC_FUZZ_FAIL("inclusion verified for the wrong leaf or proof");
    }
    if (index > 0 && index <= tree_size && tree_size <= tree_leaves) {
        auto real = tiles::consistency_proof(ref.tree, index, tree_size);
        if (!real) CIVIC_FUZZ_FAIL("consistency_proof failed on the reference tree");
        const hash& old_root = ref.roots[index];
        const hash& new_root = ref.roots[tree_size];
        if (!merkle::verify_consistency(index, tree_size, *real, old_root, new_root))
            CIVIC_FUZZ_FAIL("real consistency proof does not verify");
        if (merkle::verify_consistency(index, tree_size, proof, old_root, new_root) &&
            proof != *real)
            CIVIC_FUZZ_FAIL("a forged consistency proof verifies");
        // Not checked: that the real old root only extends to the real new root. A
        // consistency proof binds the new root to the old one, not to our leaves:
        // any tree of the same shape that extends the old one verifies (a proof
        // for 100 -> 300 also verifies as 100 -> 332, say). The reverse holds,
        // since every proof hash goes into the new root.
        if (cons_ok && same(root, new_root) && !same(leaf, old_root))
            CIVIC_FUZZ_FAIL("consistency verified from a wrong old root to the real new root");
    }
    return 0;
}
