// SHA256_Init/Update/Final are deprecated in OpenSSL 3 but shipped and supported
// through 3.x; they reach the same SHA-NI block function as EVP without the
// provider layer: 120 ns against 155-200 ns for a 65-byte node on this machine.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "protocol/sha256.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace civic {
namespace {

const EVP_MD* sha256_md() {
    static const EVP_MD* md = [] {
        EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
        if (fetched == nullptr) {
            std::fputs("fatal: OpenSSL has no SHA256 implementation\n", stderr);
            std::abort();
        }
        return fetched;
    }();
    return md;
}

[[noreturn]] void digest_failed() {
    std::fputs("fatal: OpenSSL SHA-256 failed\n", stderr);
    std::abort();
}

} // namespace

sha256_hasher::sha256_hasher() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr) digest_failed();
    reset();
}

sha256_hasher::~sha256_hasher() { EVP_MD_CTX_free(ctx_); }

sha256_hasher& sha256_hasher::reset() {
    if (EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) != 1) digest_failed();
    return *this;
}

sha256_hasher& sha256_hasher::update(byte_view data) {
    if (EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) digest_failed();
    return *this;
}

hash sha256_hasher::finish() {
    hash out;
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != out.size()) digest_failed();
    return out;
}

sha256_hasher& thread_hasher() {
    thread_local sha256_hasher hasher;
    return hasher;
}

hash sha256_prefixed(std::uint8_t prefix, byte_view data) {
    SHA256_CTX ctx;
    hash out;
    if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, &prefix, 1) != 1 ||
        SHA256_Update(&ctx, data.data(), data.size()) != 1 || SHA256_Final(out.data(), &ctx) != 1)
        digest_failed();
    return out;
}

hash sha256_prefixed(std::uint8_t prefix, const hash& left, const hash& right) {
    // One contiguous buffer: one update call instead of three.
    std::uint8_t buf[65];
    buf[0] = prefix;
    std::copy(left.begin(), left.end(), buf + 1);
    std::copy(right.begin(), right.end(), buf + 33);
    SHA256_CTX ctx;
    hash out;
    if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, buf, sizeof buf) != 1 ||
        SHA256_Final(out.data(), &ctx) != 1)
        digest_failed();
    return out;
}

hash sha256(byte_view data) { return thread_hasher().reset().update(data).finish(); }

} // namespace civic
