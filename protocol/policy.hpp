// C2SP tlog-policy (draft, July 2026): trusted logs, witnesses, groups, quorum;
// and checking a signed checkpoint against a policy.
#pragma once

#include "protocol/checkpoint.hpp"

#include <memory>
#include <string>
#include <vector>

namespace civic {

/// Limits well above the spec's recommended minimum of 32 of each.
constexpr std::size_t max_policy_size = 1 << 20;
constexpr std::size_t max_policy_logs = 256;
constexpr std::size_t max_policy_witnesses = 256;
constexpr std::size_t max_policy_groups = 256;

struct policy {
    struct log {
        note::vkey key;
        std::string url;
    };
    struct witness {
        std::string name;
        note::vkey key;
        std::string url;
    };
    /// A member is a witness (index into witnesses) or a group (index into groups).
    struct member {
        bool is_group = false;
        std::size_t index = 0;
    };
    struct group {
        std::string name;
        std::size_t threshold = 0; // k of members.size()
        std::vector<member> members;
    };

    std::vector<log> logs;
    std::vector<witness> witnesses;
    std::vector<group> groups;
    /// The quorum: none, a single witness, or a group.
    enum class quorum_kind { none, witness, group } quorum = quorum_kind::none;
    std::size_t quorum_index = 0;

    /// Whether the set of witnesses that cosigned (one bool per witness) meets the quorum.
    bool quorum_met(const std::vector<bool>& cosigned) const;
};

/// Parses a policy file; errors name the line number and what is wrong.
result<policy> parse_policy(std::string_view text);

/// A verified checkpoint under a policy.
struct policy_verdict {
    signed_checkpoint checkpoint;
    std::size_t log = 0;                // which policy log signed it
    std::vector<std::string> witnesses; // names of witnesses whose cosignature verified
    bool quorum = false;
};

/// Verifies a signed checkpoint against a policy: the origin must be a policy
/// log's key name and signed by that log; every cosignature from a policy
/// witness must verify; the quorum is evaluated over the ones that do.
/// The verdict says whether the quorum is met; the error is for everything else.
///
/// With `cache_entries` > 0 the verifier remembers the verdicts of the most
/// recently verified checkpoints (by the SHA-256 of their text), so the many
/// bundles proven against one checkpoint pay for its signatures once. Safe to
/// share between threads.
class policy_verifier {
public:
    static result<policy_verifier> make(const policy& p, std::size_t cache_entries = 0);
    result<policy_verdict> verify(std::string_view signed_checkpoint_text) const;
    const policy& rules() const { return policy_; }

private:
    result<policy_verdict> verify_uncached(std::string_view signed_checkpoint_text) const;
    struct verdict_cache;
    policy policy_;
    std::vector<std::unique_ptr<note::verifier>> verifiers_; // logs first, then witnesses
    std::shared_ptr<verdict_cache> cache_;
};

} // namespace civic
