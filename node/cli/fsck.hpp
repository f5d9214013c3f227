// `civic-attest fsck`: checks a stopped node's store against the tree its log
// signed, every byte of it, and names the first damage it finds.
#pragma once

#include "protocol/result.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace civic::node {

struct fsck_report {
    std::uint64_t entries = 0, checkpoints = 0, identities = 0, tokens = 0;
};

/// How fsck ended: clean, damage found (what names the file, and the index
/// when the damage is in the tree), or the store could not be opened or
/// checked at all (no store, no log key, a truncated or invalid file).
struct fsck_outcome {
    enum class verdict { clean, damaged, unopenable } result = verdict::clean;
    std::string what;
    fsck_report counts;
};

/// Checks `data_dir`/ledger: every record readable (in a child process), the
/// latest checkpoint signed by the log key in `data_dir` (log.vkey, or log.key)
/// and equal to the stored tree, every entry and tile against that tree
/// (storage::audit_tree), every stored checkpoint signed and consistent with it
/// (its root is the tree's root at its size), every identity record equal to
/// the one the registry rules make from the entries, every token record
/// readable. `progress` gets a line now and then on big stores.
fsck_outcome check_data_dir(const std::string& data_dir,
                            const std::function<void(const std::string&)>& progress);

} // namespace civic::node
