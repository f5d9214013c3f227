#include "node/config/certs.hpp"

#include "node/system/files.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sys/stat.h>

namespace civic::node {

namespace fs = std::filesystem;

namespace {

template <class T, void (*Free)(T*)>
struct deleter {
    void operator()(T* p) const { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
using store_ptr = std::unique_ptr<X509_STORE, deleter<X509_STORE, X509_STORE_free>>;
using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

constexpr long ca_days = 3650;
constexpr long node_days = 825; // what browsers accept; rotate with `certs` again

/// OpenSSL's last error as text, after `what`.
error openssl_error(const std::string& what) {
    char buf[256] = "unknown error";
    if (auto code = ERR_get_error(); code != 0) ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    return make_error(what + ": " + buf);
}

result<pkey_ptr> make_key() {
    pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!key) return openssl_error("making a P-256 key");
    return key;
}

status add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) return openssl_error(std::string("certificate extension ") + value);
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    if (!ok) return openssl_error("adding a certificate extension");
    return {};
}

/// A certificate for `key` named `common_name`, signed by `issuer_key` (and
/// issued by `issuer`, or self-signed when it is null).
result<x509_ptr> make_cert(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                           EVP_PKEY* issuer_key, long days, bool is_ca,
                           const std::string& alt_names) {
    x509_ptr cert(X509_new());
    if (!cert) return openssl_error("X509_new");
    X509_set_version(cert.get(), 2); // v3
    // A random 127-bit serial: positive, unique without a serial file.
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) return openssl_error("random serial");
    serial[0] &= 0x7F;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    ASN1_INTEGER* sn = bn ? BN_to_ASN1_INTEGER(bn, nullptr) : nullptr;
    BN_free(bn);
    if (!sn) return openssl_error("serial number");
    X509_set_serialNumber(cert.get(), sn);
    ASN1_INTEGER_free(sn);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60 * 60); // tolerate clock skew
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 60 * 60);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("civic-attest"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509* signer = issuer ? issuer : cert.get();
    X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
    if (is_ca) {
        CIVIC_TRY(
            add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
        CIVIC_TRY(add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign"));
    } else {
        CIVIC_TRY(add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE"));
        CIVIC_TRY(add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature"));
        // Nodes are servers to some peers and clients to others.
        CIVIC_TRY(add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth"));
        CIVIC_TRY(add_extension(cert.get(), signer, NID_subject_alt_name, alt_names.c_str()));
    }
    CIVIC_TRY(add_extension(cert.get(), signer, NID_subject_key_identifier, "hash"));
    if (!X509_sign(cert.get(), issuer_key, EVP_sha256())) return openssl_error("signing");
    return cert;
}

status write_cert(const std::string& path, X509* cert) {
    bio_ptr out(BIO_new_file(path.c_str(), "wx"));
    if (!out) return openssl_error(path);
    if (!PEM_write_bio_X509(out.get(), cert)) return openssl_error(path);
    return {};
}

status write_key(const std::string& path, EVP_PKEY* key) {
    bio_ptr mem(BIO_new(BIO_s_mem()));
    if (!mem || !PEM_write_bio_PrivateKey(mem.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
        return openssl_error(path);
    char* data = nullptr;
    long size = BIO_get_mem_data(mem.get(), &data);
    std::string pem(data, static_cast<std::size_t>(size));
    auto written = write_secret_file(path, {pem}); // 0600, never overwriting
    OPENSSL_cleanse(pem.data(), pem.size());
    return written;
}

result<x509_ptr> read_cert(const std::string& path) {
    bio_ptr in(BIO_new_file(path.c_str(), "r"));
    if (!in) return openssl_error(path);
    x509_ptr cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
    if (!cert) return openssl_error(path + ": not a PEM certificate");
    return cert;
}

result<pkey_ptr> read_key(const std::string& path) {
    CIVIC_TRY_ASSIGN(pem, read_secret_file(path));
    bio_ptr in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    pkey_ptr key(in ? PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr) : nullptr);
    OPENSSL_cleanse(pem.data(), pem.size());
    if (!key) return openssl_error(path + ": not a PEM private key");
    return key;
}

std::string alt_names_for(const node_spec& n) {
    std::string names = "DNS:" + n.name;
    in6_addr probe{};
    if (inet_pton(AF_INET, n.host.c_str(), &probe) == 1 ||
        inet_pton(AF_INET6, n.host.c_str(), &probe) == 1)
        names += ",IP:" + n.host;
    else
        names += ",DNS:" + n.host;
    return names;
}

} // namespace

result<certs_report> make_network_certs(const topology& t, const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(dir + ": cannot create: " + ec.message());
    ::chmod(dir.c_str(), 0700);
    const fs::path d = dir;
    certs_report report;

    pkey_ptr ca_key;
    x509_ptr ca_cert;
    auto ca_crt_path = (d / "ca.crt").string(), ca_key_path = (d / "ca.key").string();
    if (fs::exists(ca_crt_path, ec) || fs::exists(ca_key_path, ec)) {
        CIVIC_TRY_ASSIGN(cert, read_cert(ca_crt_path));
        CIVIC_TRY_ASSIGN(key, read_key(ca_key_path));
        if (X509_check_private_key(cert.get(), key.get()) != 1)
            return make_error(ca_key_path + ": not the key of " + ca_crt_path);
        ca_cert = std::move(cert);
        ca_key = std::move(key);
    } else {
        CIVIC_TRY_ASSIGN(key, make_key());
        CIVIC_TRY_ASSIGN(cert, make_cert(key.get(), t.origin + " network CA", nullptr, key.get(),
                                         ca_days, true, ""));
        CIVIC_TRY(write_key(ca_key_path, key.get()));
        CIVIC_TRY(write_cert(ca_crt_path, cert.get()));
        ca_cert = std::move(cert);
        ca_key = std::move(key);
        report.made_ca = true;
    }

    for (const auto& n : t.nodes) {
        auto crt_path = (d / (n.name + ".crt")).string(),
             key_path = (d / (n.name + ".key")).string();
        if (fs::exists(crt_path, ec) && fs::exists(key_path, ec)) {
            CIVIC_TRY(check_node_cert(ca_crt_path, crt_path, n.name));
            report.kept.push_back(n.name);
            continue;
        }
        if (fs::exists(crt_path, ec) || fs::exists(key_path, ec))
            return make_error(dir + ": " + n.name +
                              " has a certificate or a key but not both; remove the one left");
        CIVIC_TRY_ASSIGN(key, make_key());
        CIVIC_TRY_ASSIGN(cert, make_cert(key.get(), n.name, ca_cert.get(), ca_key.get(), node_days,
                                         false, alt_names_for(n)));
        CIVIC_TRY(write_key(key_path, key.get()));
        CIVIC_TRY(write_cert(crt_path, cert.get()));
        report.made.push_back(n.name);
    }
    return report;
}

status check_node_cert(const std::string& ca_file, const std::string& cert_file,
                       const std::string& node) {
    CIVIC_TRY_ASSIGN(ca, read_cert(ca_file));
    CIVIC_TRY_ASSIGN(cert, read_cert(cert_file));
    store_ptr store(X509_STORE_new());
    store_ctx_ptr ctx(X509_STORE_CTX_new());
    if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
        X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1)
        return openssl_error("certificate check");
    if (X509_verify_cert(ctx.get()) != 1)
        return make_error(cert_file + ": not signed by the CA in " + ca_file + ": " +
                          X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
    char cn[256] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
    if (node != cn) return make_error(cert_file + ": names '" + cn + "', not '" + node + "'");
    return {};
}

} // namespace civic::node
