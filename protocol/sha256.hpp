// SHA-256 through OpenSSL's EVP interface. The EVP_MD is fetched once per process
// and each hasher reuses its EVP_MD_CTX: for the 65-byte inputs of Merkle node
// hashing, that is several times faster than one-shot SHA256()/EVP_Digest().
#pragma once

#include <array>
#include <cstdint>

#include "protocol/bytes.hpp"

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

/// SHA-256 of `data` using a thread-local hasher.
hash sha256(byte_view data);

/// The calling thread's reusable hasher (reset before use).
sha256_hasher& thread_hasher();

} // namespace civic
