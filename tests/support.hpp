// Helpers shared by the test programs.
#pragma once

#include "protocol/merkle.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace civic::test {

/// A fresh directory under the system temp dir, removed with everything in it
/// when the test ends. `tag` keeps concurrent tests (ctest -j) apart.
struct temp_dir {
    std::filesystem::path path;
    explicit temp_dir(const std::string& tag) {
        path = std::filesystem::temp_directory_path() /
               ("civic-" + tag + "-" + std::to_string(::getpid()));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ignored;
        // CIVIC_KEEP_TMP=1 keeps it: the node logs of a failed process test.
        if (!std::getenv("CIVIC_KEEP_TMP")) std::filesystem::remove_all(path, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

/// The vendored vectors (tests/vectors), located at build time.
inline std::string vectors_dir() { return CIVIC_TEST_VECTORS_DIR; }

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// RFC 6962 MTH by its recursive definition: the reference the fast code is held against.
inline hash reference_root(const std::vector<hash>& leaves, std::size_t lo, std::size_t hi) {
    if (hi == lo) return merkle::empty_root();
    if (hi - lo == 1) return leaves[lo];
    std::size_t k = merkle::split_point(hi - lo);
    return merkle::node_hash(reference_root(leaves, lo, lo + k),
                             reference_root(leaves, lo + k, hi));
}

/// RFC 6962 PATH(m, D[lo:hi]) by its recursive definition.
inline void reference_path(const std::vector<hash>& leaves, std::size_t m, std::size_t lo,
                           std::size_t hi, std::vector<hash>& out) {
    if (hi - lo <= 1) return;
    std::size_t k = merkle::split_point(hi - lo);
    if (m - lo < k) {
        reference_path(leaves, m, lo, lo + k, out);
        out.push_back(reference_root(leaves, lo + k, hi));
    } else {
        reference_path(leaves, m, lo + k, hi, out);
        out.push_back(reference_root(leaves, lo, lo + k));
    }
}

/// RFC 6962 SUBPROOF(m, D[lo:hi], b) by its recursive definition.
inline void reference_subproof(const std::vector<hash>& leaves, std::size_t m, std::size_t lo,
                               std::size_t hi, bool complete, std::vector<hash>& out) {
    if (m == hi - lo) {
        if (!complete) out.push_back(reference_root(leaves, lo, hi));
        return;
    }
    std::size_t k = merkle::split_point(hi - lo);
    if (m <= k) {
        reference_subproof(leaves, m, lo, lo + k, complete, out);
        out.push_back(reference_root(leaves, lo + k, hi));
    } else {
        reference_subproof(leaves, m - k, lo + k, hi, false, out);
        out.push_back(reference_root(leaves, lo, lo + k));
    }
}

/// Deterministic distinct leaf hashes.
inline std::vector<hash> make_leaves(std::size_t n) {
    std::vector<hash> leaves;
    leaves.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        leaves.push_back(merkle::leaf_hash(byte_view(std::to_string(i))));
    return leaves;
}

} // namespace civic::test

#include "protocol/note.hpp"

namespace civic::test {

/// A deterministic Ed25519 key derived from a label (tests only).
inline ed25519::secret_key key_for(std::string_view label) {
    auto seed = sha256(byte_view(label));
    return std::move(*ed25519::secret_key::from_seed(seed));
}
inline ed25519::public_key public_key_of(const note::vkey& key) {
    ed25519::public_key k{};
    std::copy(key.public_key.begin(), key.public_key.end(), k.begin());
    return k;
}
inline note::ed25519_signer log_signer(const std::string& origin) {
    return note::ed25519_signer(origin, key_for("log:" + origin));
}
inline note::cosigner witness(const std::string& name) {
    return note::cosigner(name, key_for("witness:" + name));
}

} // namespace civic::test
