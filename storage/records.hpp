// Records the store keeps that are not protocol formats, and their cereal
// (portable binary) encoding. Every record starts with a version number.
#pragma once

#include "protocol/ed25519.hpp"
#include "protocol/sha256.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace civic::storage {

/// One key an identity has held: from the ledger index of the entry that
/// registered or rotated it in, until the index of the entry that revoked or
/// replaced it (exclusive), if any.
struct identity_key {
    ed25519::public_key key{};
    std::uint64_t valid_from = 0;
    std::optional<std::uint64_t> valid_until;
    bool revoked = false; // ended by revocation, not by rotation
};

/// The registry's view of one identity, derived from its ledger entries.
struct identity_record {
    std::string name;
    std::vector<identity_key> keys; // in ledger order; the last one without valid_until is current
    /// Registered by its key's owner (entry.hpp, owner_held_marker): no node
    /// holds its keys or signs for it.
    bool owner_held = false;

    /// The key in force at ledger index `index`, if any.
    const identity_key* key_at(std::uint64_t index) const;
    const identity_key* current() const;
};

/// An API token, stored only as SHA-256(token).
struct token_record {
    std::string label;
    bool admin = false;                  // may register identities and manage tokens
    std::vector<std::string> identities; // may sign for these
};

/// The persisted tree state: size and compact range after the last commit.
struct tree_record {
    std::uint64_t size = 0;
    std::vector<hash> range;
};

/// What a witness keeps per log origin: the latest checkpoint it cosigned, and
/// why it stopped cosigning for the origin (empty while it cosigns).
struct cosigned_record {
    std::uint64_t size = 0;
    hash root{};
    std::string checkpoint; // the signed note it cosigned
    std::string halted;     // set once the log is caught showing two histories
    /// The checkpoint with the log's signatures that verified and this
    /// witness's cosignature, as tlog-witness's monitoring endpoint serves it
    /// (empty in records written before it existed, until the next cosignature).
    std::string cosigned_note;
};

/// Proof that a log showed two histories: two notes it signed that cannot both
/// be true (another root at one size, or no valid consistency proof between
/// them), with what was checked. Kept forever; anyone can re-check it offline.
struct evidence_record {
    std::uint64_t observed_unix = 0; // when this node caught it (POSIX seconds)
    std::string origin;
    std::string kind;   // "fork" (same size, another root) or "inconsistent"
    std::string ours;   // the signed checkpoint this node held
    std::string theirs; // the signed checkpoint that contradicts it
    std::string proof;  // the consistency proof, base64 lines (may be empty)
    std::string
        root_at_smaller; // base64: the larger tree's root at the smaller size, if sizes differ
    std::string source;  // who showed it: "add-checkpoint", or a peer's name
};

bytes encode(const identity_record& r);
bytes encode(const token_record& r);
bytes encode(const tree_record& r);
result<identity_record> decode_identity(byte_view data);
result<token_record> decode_token(byte_view data);
result<tree_record> decode_tree(byte_view data);
bytes encode(const cosigned_record& r);
bytes encode(const evidence_record& r);
result<cosigned_record> decode_cosigned(byte_view data);
result<evidence_record> decode_evidence(byte_view data);

} // namespace civic::storage
