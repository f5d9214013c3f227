// The ledger's rules over every entry: each decodes and carries a valid
// Ed25519 signature (checked on several threads: the audit's main cost), and
// the identity registry's rules (actors::admit, the ledger's own) hold in log
// order, with the registry in the state's LMDB environment.
#pragma once

#include "node/cli/audit/report.hpp"
#include "node/cli/audit/state.hpp"
#include "protocol/entry.hpp"

#include <optional>
#include <string>
#include <vector>

namespace civic::node::audit {

/// One entry decoded and its signature checked.
struct checked_entry {
    std::optional<entry> decoded; // set when it decodes and its signature verifies
    std::string identity;         // as far as known, for messages
    std::string problem;          // why not, otherwise
};

/// Checks `raw` (entries in log order) on `threads` threads, the caller's among them.
std::vector<checked_entry> check_entries(const std::vector<byte_view>& raw, unsigned threads);

/// Applies entries to the registry in log order; every entry the rules
/// refuse is a violation (and changes nothing).
class registry_replay {
public:
    registry_replay(audit_state& state, violations& found) : state_(state), found_(found) {}
    /// Entry `index`, which must follow the one applied before. Errors: the state failed.
    status apply(std::uint64_t index, const checked_entry& checked);

private:
    audit_state& state_;
    violations& found_;
};

} // namespace civic::node::audit
