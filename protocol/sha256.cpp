#include "protocol/sha256.hpp"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstdio>

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

hash sha256(byte_view data) { return thread_hasher().reset().update(data).finish(); }

} // namespace civic
