// The errors actors answer requests with: a code (mapped to HTTP statuses by the
// node) and a message naming what was wrong.
#pragma once

#include "protocol/result.hpp"

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <cstdint>
#include <string>

namespace civic::actors {

enum class errc : std::uint8_t {
    invalid_entry = 1, // malformed or badly signed entry
    unknown_identity,  // no such identity
    identity_exists,   // registration of a name already taken
    key_mismatch,      // not signed with the identity's current key
    overloaded,        // queue full: retry later
    storage_failure,   // the commit failed: the ledger stops and restarts from LMDB
    unknown_key,       // the signer holds no key for that identity
    gap,               // a replica was offered a batch beyond its size
    inconsistent,      // a batch or checkpoint that does not match the signed tree
    unauthorized,      // a forwarded request with no known token
    forbidden,         // a token that may not do what was asked
    not_leader,        // asked of a node that does not lead
    unavailable,       // the leader cannot be reached now: retry later
    no_space,          // the store has no room: the node is read-only until it has
    no_checkpoint,     // nothing signed (or witnessed) to answer with yet
    // New codes go last: the values cross the network between nodes.
};

/// The error category of errc values.
constexpr caf::atom_value error_category = caf::atom("civic");

caf::error make_error(errc code, std::string message);
/// The errc of a CAF error from our actors, or 0 when it is another error.
std::uint8_t code_of(const caf::error& e);
/// The message of an error from our actors (or CAF's own rendering).
std::string message_of(const caf::error& e);
/// A store's failed write: errc::no_space when the store found no room, so
/// that the ledger, replica or witness turns read-only instead of restarting;
/// otherwise errc::storage_failure.
caf::error store_write_failed(const civic::error& e);

} // namespace civic::actors
