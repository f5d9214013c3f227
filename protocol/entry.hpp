// The ledger entry: a versioned, canonical binary encoding of one attestation.
// Byte layout in docs/FORMATS.md. Decoding then encoding gives the same bytes.
#pragma once

#include "protocol/ed25519.hpp"
#include "protocol/sha256.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace civic {

enum class entry_kind : std::uint8_t {
    statement = 1,             // an identity attests to content (by its SHA-256)
    identity_registration = 2, // a new identity and its first key
    key_rotation = 3,          // the identity's current key hands over to a new key
    key_revocation = 4,        // a key of the identity is revoked
};
const char* to_string(entry_kind kind);

constexpr std::uint8_t entry_version = 1;
constexpr std::size_t max_identity_length = 64;
constexpr std::size_t max_entry_payload = 1024;
constexpr std::size_t entry_fixed_size = 1 + 1 + 8 + 1 + 32 + 32 + 2 + 64;
constexpr std::size_t max_entry_size = entry_fixed_size + max_identity_length + max_entry_payload;
/// Domain separation for entry signatures.
constexpr std::string_view entry_signature_context = "civic-attest/entry/v1\n";
/// A registration's payload when the key's owner made the key and keeps it (an
/// empty payload: the node made it and signs with it, a custodial identity).
/// Nodes never sign for an owner-held identity: its owner signs every entry.
constexpr std::string_view owner_held_marker = "owner-held";

struct entry {
    entry_kind kind = entry_kind::statement;
    std::uint64_t timestamp_ms = 0; // Unix time in milliseconds
    std::string identity;
    ed25519::public_key public_key{}; // the key that signed this entry
    hash content_hash{};              // statements: SHA-256 of the content; zero otherwise
    bytes payload;                    // statements: metadata; rotation/revocation: a 32-byte key
    ed25519::signature signature{};

    /// The canonical encoding (version 1).
    bytes encode() const;
    /// What the signature covers: the context string, then the encoding minus the signature.
    bytes signed_message() const;
    /// Signs with `key` (whose public key must be `public_key`).
    void sign(const ed25519::secret_key& key);
    bool signature_valid() const;
    /// The key ID of the signing key, as a signed-note Ed25519 key named after the identity.
    std::uint32_t key_id() const;
    /// For rotation and revocation: the key the payload names.
    ed25519::public_key payload_key() const;
    /// The payload as text (statement metadata, the registration's marker).
    std::string_view payload_text() const {
        return {reinterpret_cast<const char*>(payload.data()), payload.size()};
    }
    /// A registration made by the key's owner (see owner_held_marker).
    bool registers_owner_held_key() const {
        return kind == entry_kind::identity_registration && payload_text() == owner_held_marker;
    }

    friend bool operator==(const entry& a, const entry& b) {
        return a.kind == b.kind && a.timestamp_ms == b.timestamp_ms && a.identity == b.identity &&
               a.public_key == b.public_key && a.content_hash == b.content_hash &&
               a.payload == b.payload && a.signature == b.signature;
    }
};

/// Identity names: 1..64 bytes of [a-z0-9._/-], starting with a letter or digit.
status check_identity_name(std::string_view name);
/// Checks the per-kind rules (field shapes); the signature is checked separately.
status check_entry(const entry& e);
/// The identity field of an encoded entry, read without decoding (and so
/// without checking) the rest; nothing when it is too short to hold one.
std::optional<std::string_view> encoded_entry_identity(byte_view data);
/// Decodes exactly one entry, rejecting any other version, trailing bytes or
/// non-canonical field (see check_entry).
result<entry> decode_entry(byte_view data);

} // namespace civic
