// Our offline signature bundle: a C2SP tlog-proof whose `extra` carries the
// ledger entry, and its verification as a named list of checks.
#pragma once

#include "protocol/entry.hpp"
#include "protocol/policy.hpp"
#include "protocol/tlog_proof.hpp"

#include <optional>
#include <string>
#include <vector>

namespace civic {

/// One check made while verifying a bundle and its outcome.
struct bundle_check {
    std::string name; // e.g. "inclusion"
    bool passed = false;
    std::string detail; // what was checked, or why it failed
};

struct bundle_verdict {
    bool valid = false; // every check passed
    std::vector<bundle_check> checks;
    std::optional<entry> logged_entry;
    std::uint64_t index = 0; // the entry's index in the log, once logged_entry is set
    std::optional<checkpoint> checkpoint_body;
};

/// Makes the proof file for `logged` at `index`, given its inclusion proof and
/// the signed checkpoint it is proven against.
tlog_proof make_bundle(const entry& logged, std::uint64_t index, std::vector<hash> inclusion,
                       std::string signed_checkpoint);

/// Verifies a bundle offline. Checks, in order: the file parses; `extra` holds a
/// well-formed entry; the entry's signature is valid; the content hash matches
/// (when `content_sha256` is given); the checkpoint is signed by a policy log for
/// its origin and every known cosignature verifies; the witness quorum is met; the
/// entry is included at `index` under the checkpoint's root. Verification stops
/// at the first failure whose later checks would be meaningless.
bundle_verdict verify_bundle(const policy_verifier& trust, std::string_view proof_text,
                             const std::optional<hash>& content_sha256);

} // namespace civic
