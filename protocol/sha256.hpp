// SHA-256 through OpenSSL. General hashing uses the EVP interface with the EVP_MD
// fetched once per process and each hasher reusing its EVP_MD_CTX (3-4x faster
// than one-shot SHA256()/EVP_Digest() on small inputs). The Merkle tree's own
// small, fixed-shape inputs go through sha256_prefixed(), which skips the
// provider dispatch (see sha256.cpp and docs/PERFORMANCE.md).
#pragma once

#include "protocol/bytes.hpp"

#include <array>
#include <cstdint>

struct evp_md_ctx_st;

namespace civic {

using hash = std::array<std::uint8_t, 32>;

/// Incremental SHA-256. Not thread-safe; cheap to reuse via reset().
class sha256_hasher {
public:
    sha256_hasher();
    ~sha256_hasher();
    sha256_hasher(const sha256_hasher&) = delete;
    sha256_hasher& operator=(const sha256_hasher&) = delete;

    sha256_hasher& reset();
    sha256_hasher& update(byte_view data);
    sha256_hasher& update(std::uint8_t byte) { return update(byte_view(&byte, 1)); }
    /// Returns the digest and leaves the hasher ready for reset().
    hash finish();

private:
    evp_md_ctx_st* ctx_;
};

/// SHA-256(prefix || data): Merkle leaf hashing.
hash sha256_prefixed(std::uint8_t prefix, byte_view data);
/// SHA-256(prefix || left || right): Merkle node hashing.
hash sha256_prefixed(std::uint8_t prefix, const hash& left, const hash& right);

/// SHA-256 of `data` using a thread-local hasher.
hash sha256(byte_view data);

/// The calling thread's reusable hasher (reset before use).
sha256_hasher& thread_hasher();

} // namespace civic
