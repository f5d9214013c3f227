// C2SP signed-note v1.0.0: notes, signature lines, key IDs, verifier keys, and
// the Ed25519 (0x01) and cosignature/v1 (0x04) signers and verifiers.
#pragma once

#include "protocol/ed25519.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace civic::note {

/// Largest note we parse. The spec asks for at least 16 signatures, which may be
/// post-quantum (~5 kB each); 256 KiB leaves room for that and more.
constexpr std::size_t max_note_size = 256 * 1024;
/// Most signature lines we parse in one note (the spec's minimum is 16).
constexpr std::size_t max_signatures = 64;

enum signature_type : std::uint8_t {
    type_ed25519 = 0x01,
    type_ecdsa = 0x02,
    type_cosignature_v1 = 0x04,
    type_rfc6962 = 0x05,
};

/// One signature line: "— <name> base64(key ID || data)".
struct signature {
    std::string name;
    std::uint32_t key_id = 0;
    bytes data; // the signature proper, after the 4-byte key ID
};

/// A note: its text (ending in a newline) and its signature lines.
struct note {
    std::string text;
    std::vector<signature> signatures;
};

/// Parses a signed note, enforcing every rule of the spec plus the size limits.
result<note> parse(std::string_view input);
/// The note's wire form: text, blank line, signature lines.
std::string serialize(const note& n);
/// "— name base64(id||data)\n".
std::string signature_line(const signature& sig);

/// Checks a note text on its own: non-empty, ends in newline, valid UTF-8, no
/// control characters but newline.
status check_text(std::string_view text);
/// Key names are non-empty with no Unicode space and no '+'.
bool valid_key_name(std::string_view name);
/// Valid UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
bool valid_utf8(std::string_view s);

/// SHA-256(name || 0x0A || type || public key)[:4], big-endian.
std::uint32_t key_id(std::string_view name, std::uint8_t type, byte_view public_key);

/// A verifier key: "<name>+<hex key ID>+base64(type || public key)".
struct vkey {
    std::string name;
    std::uint32_t key_id = 0;
    std::uint8_t type = 0;
    bytes public_key;
};
/// Parses a vkey; for Ed25519 (0x01) and cosignature (0x04) keys checks the key
/// length and that the key ID is the one the spec derives.
result<vkey> parse_vkey(std::string_view text);
std::string format_vkey(const vkey& key);

/// A signer key string, the private counterpart of a vkey (the format of Go's
/// golang.org/x/mod/sumdb/note): "PRIVATE+KEY+<name>+<hex id>+base64(type || seed)".
/// Handle as a secret: callers wipe the string when done.
struct signer_key {
    std::string name;
    std::uint8_t type = 0; // type_ed25519 (log) or type_cosignature_v1 (witness)
    ed25519::secret_key key;
};
std::string format_signer_key(const std::string& name, std::uint8_t type,
                              const ed25519::secret_key& key);
result<signer_key> parse_signer_key(std::string_view text);

/// Checks signatures made by one key.
class verifier {
public:
    virtual ~verifier() = default;
    virtual const std::string& name() const = 0;
    virtual std::uint32_t key_id() const = 0;
    /// Whether `sig` (the bytes after the key ID) is a valid signature of `text`.
    virtual bool verify(std::string_view text, byte_view sig) const = 0;
};

/// Ed25519 note signatures (type 0x01).
class ed25519_verifier final : public verifier {
public:
    ed25519_verifier(std::string name, const ed25519::public_key& key);
    const std::string& name() const override { return name_; }
    std::uint32_t key_id() const override { return id_; }
    bool verify(std::string_view text, byte_view sig) const override;
    const ed25519::public_key& key() const { return key_; }

private:
    std::string name_;
    ed25519::public_key key_;
    std::uint32_t id_;
};

/// cosignature/v1 (type 0x04): sig is timestamp(8, big-endian) || Ed25519(64)
/// over "cosignature/v1\ntime <t>\n" || text.
class cosignature_verifier final : public verifier {
public:
    cosignature_verifier(std::string name, const ed25519::public_key& key);
    const std::string& name() const override { return name_; }
    std::uint32_t key_id() const override { return id_; }
    bool verify(std::string_view text, byte_view sig) const override;
    const ed25519::public_key& key() const { return key_; }

private:
    std::string name_;
    ed25519::public_key key_;
    std::uint32_t id_;
};

/// A verifier for a parsed vkey of type 0x01 or 0x04.
result<std::unique_ptr<verifier>> make_verifier(const vkey& key);

/// Signs note texts with an Ed25519 key (type 0x01).
class ed25519_signer {
public:
    ed25519_signer(std::string name, ed25519::secret_key key);
    const std::string& name() const { return name_; }
    std::uint32_t key_id() const { return id_; }
    vkey verifier_key() const;
    signature sign(std::string_view text) const;

private:
    std::string name_;
    ed25519::secret_key key_;
    std::uint32_t id_;
};

/// Makes cosignature/v1 signatures (type 0x04) at a given time.
class cosigner {
public:
    cosigner(std::string name, ed25519::secret_key key);
    const std::string& name() const { return name_; }
    std::uint32_t key_id() const { return id_; }
    vkey verifier_key() const;
    /// `timestamp` is POSIX seconds, at most 2^63 - 1.
    signature cosign(std::string_view checkpoint_text, std::uint64_t timestamp) const;

private:
    std::string name_;
    ed25519::secret_key key_;
    std::uint32_t id_;
};

/// The outcome of opening a note: which of the given verifiers signed it.
struct verified_note {
    note content;
    std::vector<std::size_t> signed_by; // indices into the verifier list, ascending, unique
};

/// Opens a note with known verifiers: signatures from unknown keys are ignored,
/// a signature from a known key (same name and ID) that fails rejects the whole
/// note, and a note with no verified signature is rejected.
result<verified_note> open(note n, const std::vector<const verifier*>& known);

} // namespace civic::note
