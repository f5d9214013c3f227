// RFC 6962 / RFC 9162 section 2.1 Merkle trees: hashing, an append-only compact
// range, and inclusion / consistency proof verification.
#pragma once

#include "protocol/assert.hpp"
#include "protocol/sha256.hpp"

#include <cstdint>
#include <vector>

namespace civic::merkle {

/// Longest proof we accept: a tree of 2^63 leaves needs 63 hashes (RFC 9162
/// bounds tree sizes by 2^64 - 1), plus one for the prepended root in
/// consistency verification.
constexpr std::size_t max_proof_hashes = 64;

/// SHA-256(0x00 || entry).
hash leaf_hash(byte_view entry);
/// SHA-256(0x01 || left || right).
hash node_hash(const hash& left, const hash& right);
/// The root of the empty tree, SHA-256("").
hash empty_root();

/// A perfect subtree: level L, index N covers leaves [N * 2^L, (N + 1) * 2^L).
struct node_id {
    std::uint8_t level = 0;
    std::uint64_t index = 0;
    friend bool operator==(const node_id& a, const node_id& b) {
        return a.level == b.level && a.index == b.index;
    }
};

/// The perfect subtrees that make up [0, size): one per set bit of size, largest
/// (leftmost) first. O(log n) state, O(1) amortised hashing per append.
class compact_range {
public:
    compact_range() = default;
    /// Rebuilds a range from persisted state; fails unless there is exactly one
    /// hash per set bit of `size`.
    static result<compact_range> from_hashes(std::uint64_t size, std::vector<hash> hashes);

    std::uint64_t size() const { return size_; }
    const std::vector<hash>& hashes() const { return hashes_; }

    /// Appends a leaf hash. `completed(level, index, hash)` is called for every
    /// perfect subtree this append completes, the leaf itself (level 0) first:
    /// that is how a store learns the hashes of its tiles.
    template <class Visitor>
    void append(const hash& leaf, Visitor&& completed) {
        hash h = leaf;
        std::uint64_t s = size_;
        completed(std::uint8_t{0}, s, h);
        std::uint8_t level = 0;
        while (s & 1) {
            h = node_hash(hashes_.back(), h);
            hashes_.pop_back();
            s >>= 1;
            ++level;
            completed(level, s, h);
        }
        hashes_.push_back(h);
        ++size_;
        // One node per set bit of the size: what from_hashes checks of input.
        CIVIC_ASSERT_EQ(hashes_.size(), static_cast<std::size_t>(__builtin_popcountll(size_)));
    }
    void append(const hash& leaf) {
        append(leaf, [](std::uint8_t, std::uint64_t, const hash&) {});
    }

    /// The RFC 6962 Merkle tree hash of [0, size) (empty_root() when empty).
    hash root() const;

private:
    std::uint64_t size_ = 0;
    std::vector<hash> hashes_;
};

/// Inclusion proofs for every leaf of a batch [begin, end) in the tree of size
/// `end`, made from the compact range of [0, begin) and the batch's own leaf
/// hashes: about one node hash per leaf for the whole batch and no tile reads,
/// so a sequencer can hand out proofs for its newest batch from memory.
class batch_inclusion {
public:
    batch_inclusion(const compact_range& before, const std::vector<hash>& leaves);
    std::uint64_t begin() const { return begin_; }
    std::uint64_t end() const { return end_; }
    /// Appends the RFC 9162 inclusion proof of leaf `index` (begin <= index < end)
    /// in the tree of size end to `out`, as concatenated 32-byte hashes.
    status proof(std::uint64_t index, bytes& out) const;

private:
    const hash& perfect(std::size_t level, std::uint64_t index) const;
    std::uint64_t begin_ = 0;
    std::uint64_t end_ = 0;
    std::vector<std::vector<hash>> levels_; // levels_[l][k]: perfect node (l, (begin >> l) + k)
    std::vector<hash> before_;              // before_[l]: the compact range's node at level l
    std::vector<hash> last_;                // last_[l]: node (l, (end - 1) >> l), perfect or not
};

/// Splits [begin, end) into the perfect subtrees whose right-to-left fold is its
/// RFC 6962 hash, largest first. `begin` must be a multiple of the largest
/// power of two below end - begin (true of every range a proof asks for).
std::vector<node_id> decompose(std::uint64_t begin, std::uint64_t end);
/// Folds subtree hashes from the right: H(h0, H(h1, ... H(hn-2, hn-1))).
hash fold_right(const hash* hashes, std::size_t count);

/// Checks that `proof` proves `leaf_hash` is at `index` in the tree of `size`
/// leaves whose root is `root` (RFC 9162 2.1.3.2).
status verify_inclusion(std::uint64_t index, std::uint64_t size, byte_view leaf_hash,
                        const std::vector<hash>& proof, byte_view root);
/// The root that an inclusion proof implies, or an error if its shape is wrong.
result<hash> root_from_inclusion(std::uint64_t index, std::uint64_t size, const hash& leaf_hash,
                                 const std::vector<hash>& proof);

/// Checks that `proof` proves the tree of size1 with root1 is a prefix of the
/// tree of size2 with root2 (RFC 9162 2.1.4.2). A proof from the empty tree is
/// rejected as meaningless.
status verify_consistency(std::uint64_t size1, std::uint64_t size2, const std::vector<hash>& proof,
                          byte_view root1, byte_view root2);

/// ceil(log2) style helpers used by proofs and tiles.
inline int bit_length(std::uint64_t x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }
/// The largest power of two strictly smaller than n (n >= 2).
inline std::uint64_t split_point(std::uint64_t n) {
    return std::uint64_t{1} << (bit_length(n - 1) - 1);
}

} // namespace civic::merkle
