// Ed25519 through libsodium. Secret keys live in sodium_malloc'd memory: locked
// (never swapped), guarded, and wiped when freed.
#pragma once

#include "protocol/bytes.hpp"

#include <array>
#include <cstdint>
#include <memory>

namespace civic::ed25519 {

constexpr std::size_t public_key_size = 32;
constexpr std::size_t seed_size = 32;
constexpr std::size_t signature_size = 64;

using public_key = std::array<std::uint8_t, public_key_size>;
using signature = std::array<std::uint8_t, signature_size>;

/// Calls sodium_init() once; aborts the process if libsodium cannot start.
void ensure_initialized();

/// A secret signing key (libsodium's 64-byte seed||public form) in locked memory.
class secret_key {
public:
    /// A fresh key from libsodium's CSPRNG.
    static secret_key generate();
    /// The key whose RFC 8032 32-byte seed is `seed`.
    static result<secret_key> from_seed(byte_view seed);

    secret_key(secret_key&&) noexcept = default;
    secret_key& operator=(secret_key&&) noexcept = default;

    const public_key& public_key_bytes() const { return public_; }
    signature sign(byte_view message) const;
    /// Copies the 32-byte seed out (for writing a key file); the caller wipes it.
    void copy_seed(std::uint8_t* out32) const;

private:
    struct sodium_deleter {
        void operator()(std::uint8_t* p) const;
    };
    secret_key();
    std::unique_ptr<std::uint8_t, sodium_deleter> secret_; // 64 bytes, sodium_malloc'd
    public_key public_{};
};

/// True when `sig` is a valid Ed25519 signature of `message` under `key`
/// (libsodium rejects non-canonical and small-order encodings).
bool verify(const public_key& key, byte_view message, const signature& sig);
bool verify(const public_key& key, byte_view message, byte_view sig);

/// Wipes memory in a way the compiler cannot optimise away.
void wipe(void* data, std::size_t size);

} // namespace civic::ed25519
