// The identity registry's rules, shared by the ledger (which admits entries)
// and replicas (which check and index the entries a leader sends them).
#pragma once

#include "protocol/entry.hpp"
#include "storage/records.hpp"

#include <caf/expected.hpp>

#include <optional>

namespace civic::actors {

/// Checks `e` against the identity's record as it is before ledger index
/// `index` (`current`: none if the name is not registered) and returns the
/// identity's record after the entry (registry entries) or nothing (statements).
/// Errors are errc values: unknown_identity, identity_exists, key_mismatch,
/// invalid_entry.
caf::expected<std::optional<storage::identity_record>>
admit(const std::optional<storage::identity_record>& current, const entry& e, std::uint64_t index);

} // namespace civic::actors
