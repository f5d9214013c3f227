// One run of `civic-attest audit`: the checkpoint against the keys and the
// state, then the tree (and unless tree-only, the entries) from where the
// state left off to the checkpoint, committing progress as it goes.
#pragma once

#include "node/cli/audit/source.hpp"
#include "node/cli/audit/state.hpp"
#include "protocol/policy.hpp"

#include <iosfwd>
#include <optional>
#include <string>

namespace civic::node::audit {

struct audit_settings {
    bool tree_only = false;          // any tlog-tiles log: no entry format assumed
    unsigned threads = 1;            // checking signatures
    std::uint64_t commit_every = 64; // bundles between durable progress records
    bool keep_state = false;         // --state given: evidence and DIR/checkpoint are written
    std::string log;                 // --log, as given (named in evidence)
};

struct audit_trust {
    policy_verifier log_key;                  // --vkey: the log's signature
    std::optional<policy_verifier> witnesses; // --policy: its quorum of cosignatures
    std::string vkey;                         // --vkey's key, kept in the state
};

/// Runs one audit and prints its violations and summary on `out`, details on
/// `err` (a progress line when `tty` is given); the exit code: 0 clean, 1
/// violations (a SECURITY ERROR among them), 2 the log or the state could not
/// be read.
int run_audit_once(log_source& source, audit_state& state, const audit_trust& trust,
                   const audit_settings& settings, std::ostream& out, std::ostream& err,
                   std::ostream* tty);

} // namespace civic::node::audit
