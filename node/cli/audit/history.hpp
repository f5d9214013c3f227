// Whether the log's checkpoint extends the one this state verified last, and
// when it does not, evidence anyone can check with the log's key alone.
//
// DIR/evidence/<size>-<kind>/ (size: the checkpoint the log serves now):
//   ours.checkpoint, theirs.checkpoint   both signed checkpoints
//   root_at_smaller                      base64: the larger tree's root at the smaller size
//   proof                                the consistency proof from the smaller size to the
//                                        larger, one base64 hash a line
//   evidence.json                        {origin, kind, shown_by, ours, theirs,
//                                         root_at_smaller, proof}: the shape of a node's
//                                         GET /api/evidence items, for check_split_view
// kind: "fork" (one size, two roots), "inconsistent" (the larger tree's
// prefix is not the smaller checkpoint's tree), or "rollback" (a smaller
// checkpoint that is a prefix of the verified one: no contradiction
// check_split_view can see, but the log went back on a tree it had signed).
#pragma once

#include "protocol/checkpoint.hpp"
#include "protocol/split_view.hpp"
#include "protocol/tiles.hpp"

#include <string>

namespace civic::node::audit {

/// A signed checkpoint as served, and its parsed body.
struct seen_checkpoint {
    std::string text;
    checkpoint body;
};

struct history_finding {
    enum class relation { same, extends, split } how = relation::same;
    std::string kind;    // for a split: "fork", "inconsistent" or "rollback"
    std::string message; // for a split: what the log did; otherwise notes for stderr
    split_view_evidence evidence;
};

/// Compares `now` with `verified`: `served` reads the log's tiles for the
/// larger tree (proofs of growth), `own` the state's tiles of the verified
/// tree (proofs of a rollback). Errors: the log's tiles cannot be read.
result<history_finding> compare_history(const seen_checkpoint& verified, const seen_checkpoint& now,
                                        const tiles::tile_reader& served,
                                        const tiles::tile_reader& own);

/// Writes the evidence of a split into `state_dir`/evidence/ (fsync'd); the
/// directory it is in. Evidence already written is not written twice.
result<std::string> write_evidence(const std::string& state_dir, const history_finding& split,
                                   const std::string& origin, std::uint64_t size_now,
                                   const std::string& shown_by);

} // namespace civic::node::audit
