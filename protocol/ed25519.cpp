#include "protocol/ed25519.hpp"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace civic::ed25519 {

static_assert(crypto_sign_PUBLICKEYBYTES == public_key_size);
static_assert(crypto_sign_BYTES == signature_size);
static_assert(crypto_sign_SEEDBYTES == seed_size);

void ensure_initialized() {
    static const bool ok = sodium_init() >= 0;
    if (!ok) {
        std::fputs("fatal: libsodium failed to initialise\n", stderr);
        std::abort();
    }
}

void secret_key::sodium_deleter::operator()(std::uint8_t* p) const { sodium_free(p); }

void wipe(void* data, std::size_t size) { sodium_memzero(data, size); }

secret_key::secret_key() {
    ensure_initialized();
    auto* p = static_cast<std::uint8_t*>(sodium_malloc(crypto_sign_SECRETKEYBYTES));
    if (p == nullptr) {
        std::fputs("fatal: sodium_malloc failed (locked memory limit?)\n", stderr);
        std::abort();
    }
    secret_.reset(p);
}

secret_key secret_key::generate() {
    secret_key key;
    crypto_sign_keypair(key.public_.data(), key.secret_.get());
    return key;
}

result<secret_key> secret_key::from_seed(byte_view seed) {
    if (seed.size() != seed_size) return make_error("ed25519: seed must be 32 bytes");
    secret_key key;
    crypto_sign_seed_keypair(key.public_.data(), key.secret_.get(), seed.data());
    return key;
}

signature secret_key::sign(byte_view message) const {
    signature sig;
    crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.get());
    return sig;
}

void secret_key::copy_seed(std::uint8_t* out32) const {
    crypto_sign_ed25519_sk_to_seed(out32, secret_.get());
}

bool verify(const public_key& key, byte_view message, const signature& sig) {
    ensure_initialized();
    return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), key.data()) == 0;
}

bool verify(const public_key& key, byte_view message, byte_view sig) {
    if (sig.size() != signature_size) return false;
    ensure_initialized();
    return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), key.data()) == 0;
}

} // namespace civic::ed25519
