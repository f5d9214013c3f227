#include "protocol/merkle.hpp"

#include <algorithm>

namespace civic::merkle {

hash leaf_hash(byte_view entry) { return sha256_prefixed(0x00, entry); }

hash node_hash(const hash& left, const hash& right) { return sha256_prefixed(0x01, left, right); }

hash empty_root() {
    static const hash root = sha256(byte_view());
    return root;
}

result<compact_range> compact_range::from_hashes(std::uint64_t size, std::vector<hash> hashes) {
    if (static_cast<std::size_t>(__builtin_popcountll(size)) != hashes.size())
        return make_error("compact range: " + std::to_string(hashes.size()) +
                          " hashes do not match size " + std::to_string(size));
    compact_range r;
    r.size_ = size;
    r.hashes_ = std::move(hashes);
    return r;
}

hash compact_range::root() const {
    if (hashes_.empty()) return empty_root();
    return fold_right(hashes_.data(), hashes_.size());
}

batch_inclusion::batch_inclusion(const compact_range& before, const std::vector<hash>& leaves)
    : begin_(before.size()), end_(before.size() + leaves.size()) {
    if (leaves.empty()) return;
    int height = bit_length(end_ - 1) + 1; // levels 0 .. root
    before_.resize(static_cast<std::size_t>(bit_length(begin_)));
    // The compact range holds one node per set bit of begin, highest level first.
    std::size_t next = 0;
    for (int l = bit_length(begin_) - 1; l >= 0; --l)
        if ((begin_ >> l) & 1) before_[static_cast<std::size_t>(l)] = before.hashes()[next++];

    levels_.resize(static_cast<std::size_t>(height));
    levels_[0] = leaves;
    last_.resize(static_cast<std::size_t>(height));
    last_[0] = leaves.back();
    for (std::size_t l = 1; l < levels_.size(); ++l) {
        std::uint64_t lo = begin_ >> l;
        std::uint64_t perfect_end = end_ >> l; // nodes below this index are complete
        auto& row = levels_[l];
        if (perfect_end > lo) row.reserve(perfect_end - lo);
        for (std::uint64_t j = lo; j < perfect_end; ++j)
            row.push_back(node_hash(perfect(l - 1, 2 * j), perfect(l - 1, 2 * j + 1)));
        // The last node of a level: its right child is the previous level's last node,
        // or it has only its left child (then it is that child).
        std::uint64_t last = (end_ - 1) >> l;
        std::uint64_t last_below = (end_ - 1) >> (l - 1);
        last_[l] = last_below == 2 * last ? last_[l - 1]
                                          : node_hash(perfect(l - 1, 2 * last), last_[l - 1]);
    }
}

const hash& batch_inclusion::perfect(std::size_t level, std::uint64_t index) const {
    std::uint64_t lo = begin_ >> level;
    // Only the node just left of the batch at each level is ever asked for from
    // before it, and that is the compact range's node at that level.
    return index >= lo ? levels_[level][index - lo] : before_[level];
}

status batch_inclusion::proof(std::uint64_t index, bytes& out) const {
    if (index < begin_ || index >= end_)
        return make_error("leaf " + std::to_string(index) + " is not in the batch [" +
                          std::to_string(begin_) + ", " + std::to_string(end_) + ")");
    const auto had = out.size();
    for (std::size_t l = 0; l + 1 < levels_.size(); ++l) {
        std::uint64_t sibling = (index >> l) ^ 1;
        std::uint64_t last = (end_ - 1) >> l;
        if (sibling > last) continue; // no sibling: the node moves up unchanged
        const hash& h = sibling == last ? last_[l] : perfect(l, sibling);
        out.insert(out.end(), h.begin(), h.end());
    }
    // A path has at most one hash per level of a 2^64 tree.
    CIVIC_ASSERT_LE(out.size() - had, std::size_t{64 * 32});
    return {};
}

hash fold_right(const hash* hashes, std::size_t count) {
    hash r = hashes[count - 1];
    for (std::size_t i = count - 1; i-- > 0;)
        r = node_hash(hashes[i], r);
    return r;
}

std::vector<node_id> decompose(std::uint64_t begin, std::uint64_t end) {
    std::vector<node_id> nodes;
    while (begin < end) {
        // Largest aligned power of two that starts at begin and fits.
        int level = bit_length(end - begin) - 1;
        if (begin != 0) level = std::min(level, __builtin_ctzll(begin));
        nodes.push_back(node_id{static_cast<std::uint8_t>(level), begin >> level});
        begin += std::uint64_t{1} << level;
    }
    return nodes;
}

result<hash> root_from_inclusion(std::uint64_t index, std::uint64_t size, const hash& leaf,
                                 const std::vector<hash>& proof) {
    if (index >= size)
        return make_error("inclusion proof: index " + std::to_string(index) +
                          " is not below tree size " + std::to_string(size));
    if (proof.size() > max_proof_hashes) return make_error("inclusion proof: too many hashes");
    std::uint64_t fn = index, sn = size - 1;
    hash r = leaf;
    for (const hash& p : proof) {
        if (sn == 0) return make_error("inclusion proof: too many hashes for this tree size");
        if ((fn & 1) || fn == sn) {
            r = node_hash(p, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(r, p);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) return make_error("inclusion proof: too few hashes for this tree size");
    return r;
}

status verify_inclusion(std::uint64_t index, std::uint64_t size, byte_view leaf,
                        const std::vector<hash>& proof, byte_view root) {
    if (leaf.size() != 32) return make_error("inclusion proof: leaf hash is not 32 bytes");
    hash leaf_copy;
    std::copy(leaf.begin(), leaf.end(), leaf_copy.begin());
    CIVIC_TRY_ASSIGN(computed, root_from_inclusion(index, size, leaf_copy, proof));
    if (!equal(computed, root)) return make_error("inclusion proof: root mismatch");
    return {};
}

status verify_consistency(std::uint64_t size1, std::uint64_t size2, const std::vector<hash>& proof,
                          byte_view root1, byte_view root2) {
    if (size2 < size1) return make_error("consistency proof: new size is below old size");
    if (size1 == 0)
        return make_error("consistency proof: a proof from the empty tree is meaningless");
    if (size1 == size2) {
        if (!proof.empty())
            return make_error("consistency proof: sizes are equal but proof is not empty");
        if (!equal(root1, root2))
            return make_error("consistency proof: equal sizes, different roots");
        return {};
    }
    if (proof.empty()) return make_error("consistency proof: empty proof");
    if (proof.size() > max_proof_hashes) return make_error("consistency proof: too many hashes");
    if (root1.size() != 32) return make_error("consistency proof: old root is not 32 bytes");

    // If size1 is a power of two, the old root is the proof's implicit first node.
    std::size_t start = 0;
    hash first;
    if ((size1 & (size1 - 1)) == 0) {
        std::copy(root1.begin(), root1.end(), first.begin());
    } else {
        first = proof[0];
        start = 1;
    }
    std::uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    hash fr = first, sr = first;
    for (std::size_t i = start; i < proof.size(); ++i) {
        const hash& c = proof[i];
        if (sn == 0) return make_error("consistency proof: too many hashes");
        if ((fn & 1) || fn == sn) {
            fr = node_hash(c, fr);
            sr = node_hash(c, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(sr, c);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) return make_error("consistency proof: too few hashes");
    if (!equal(fr, root1)) return make_error("consistency proof: old root mismatch");
    if (!equal(sr, root2)) return make_error("consistency proof: new root mismatch");
    return {};
}

} // namespace civic::merkle
