// Proof that a log showed two histories (a split view), checkable offline by
// anyone who holds the log's key: two checkpoints it signed that cannot both
// describe one append-only tree.
#pragma once

#include "protocol/checkpoint.hpp"
#include "protocol/note.hpp"

#include <optional>
#include <string>
#include <vector>

namespace civic {

struct split_view_evidence {
    std::string ours;   // a signed checkpoint (the larger one for "inconsistent")
    std::string theirs; // a signed checkpoint that contradicts it
    /// For checkpoints of different sizes n < m: the root of the larger one's
    /// tree at size n, and the consistency proof from n to m that shows it.
    std::optional<hash> root_at_smaller;
    std::vector<hash> proof;
};

/// What the evidence shows.
enum class split_view_kind {
    fork,        // one size, two roots
    inconsistent // the larger tree's prefix is not the smaller checkpoint's tree
};

const char* to_string(split_view_kind kind);

/// Checks evidence: both checkpoints signed by the log (`log_key`), one
/// origin; then either the same size with different roots, or sizes n < m
/// where the proof takes `root_at_smaller` at n to the larger root at m and
/// `root_at_smaller` differs from the smaller checkpoint's root.
result<split_view_kind> check_split_view(const split_view_evidence& e,
                                         const note::verifier& log_key);

} // namespace civic
