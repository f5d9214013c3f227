// C2SP tlog-proof (c2sp.org/tlog-proof@v1): the offline proof file.
#pragma once

#include "protocol/checkpoint.hpp"
#include "protocol/merkle.hpp"

#include <optional>
#include <string>

namespace civic {

constexpr std::string_view tlog_proof_header = "c2sp.org/tlog-proof@v1";
/// Largest `extra` payload we accept (ours carries one ledger entry).
constexpr std::size_t max_tlog_proof_extra = 16 * 1024;

struct tlog_proof {
    std::optional<bytes> extra;
    std::uint64_t index = 0;
    std::vector<hash> inclusion; // from the leaf's sibling up to the root's child
    std::string checkpoint;      // the signed checkpoint note, verbatim

    std::string serialize() const;
};

/// Parses a proof file strictly: header, optional extra, index without leading
/// zeros, at most 63 proof hashes of 32 bytes, a blank line, then a checkpoint
/// signed note (parsed as one to bound its size; signatures not verified here).
result<tlog_proof> parse_tlog_proof(std::string_view input);

} // namespace civic
