// The RFC 6962 proof vectors from transparency-dev/merkle and the Argon2020 CT log.
#include "protocol/merkle.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>

using namespace civic;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

bytes b64(const json& v) {
    auto d = base64_decode(v.get<std::string>());
    REQUIRE(d.ok());
    return *d;
}

// A proof element that is not 32 bytes cannot be a SHA-256 hash: decoding fails,
// which is how such a case is rejected (the same as our tlog-proof parser).
bool decode_proof(const json& list, std::vector<hash>& out) {
    for (const auto& item : list) {
        auto d = b64(item);
        if (d.size() != 32) return false;
        hash h;
        std::copy(d.begin(), d.end(), h.begin());
        out.push_back(h);
    }
    return true;
}

std::vector<fs::path> case_files(const std::string& kind) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(test::vectors_dir() + "/" + kind))
        if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

} // namespace

TEST_CASE("every inclusion vector gives the expected result", "[vectors]") {
    auto files = case_files("inclusion");
    REQUIRE(files.size() >= 80);
    std::size_t accepted = 0;
    for (const auto& path : files) {
        INFO(path.string());
        auto c = json::parse(test::read_file(path.string()));
        std::vector<hash> proof;
        bool ok = decode_proof(c["proof"], proof) &&
                  merkle::verify_inclusion(c["leafIdx"].get<std::uint64_t>(),
                                           c["treeSize"].get<std::uint64_t>(), b64(c["leafHash"]),
                                           proof, b64(c["root"]))
                      .ok();
        CHECK(ok == !c["wantErr"].get<bool>());
        accepted += ok;
    }
    CHECK(accepted >= 6); // the happy paths really are accepted
}

TEST_CASE("every consistency vector gives the expected result", "[vectors]") {
    auto files = case_files("consistency");
    REQUIRE(files.size() >= 80);
    std::size_t accepted = 0;
    for (const auto& path : files) {
        INFO(path.string());
        auto c = json::parse(test::read_file(path.string()));
        std::vector<hash> proof;
        bool ok = decode_proof(c["proof"], proof) &&
                  merkle::verify_consistency(c["size1"].get<std::uint64_t>(),
                                             c["size2"].get<std::uint64_t>(), proof,
                                             b64(c["root1"]), b64(c["root2"]))
                      .ok();
        CHECK(ok == !c["wantErr"].get<bool>());
        accepted += ok;
    }
    CHECK(accepted >= 6);
}

TEST_CASE("Argon2020 CT log proofs verify, and any flipped bit breaks them", "[vectors]") {
    auto dir = test::vectors_dir() + "/argon2020/";
    auto sth = json::parse(test::read_file(dir + "sth.json"));
    auto entries = json::parse(test::read_file(dir + "entries.json"));
    auto inclusion = json::parse(test::read_file(dir + "proof.json"));
    auto consistency = json::parse(test::read_file(dir + "consistency.json"));

    const std::uint64_t size = sth["tree_size"];
    bytes root = b64(sth["sha256_root_hash"]);
    hash leaf = merkle::leaf_hash(b64(entries["entries"][0]["leaf_input"]));
    std::vector<hash> path, cons;
    REQUIRE(decode_proof(inclusion["audit_path"], path));
    REQUIRE(decode_proof(consistency["consistency"], cons));
    REQUIRE(path.size() == 30);
    bytes old_root = *base64_decode("AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ=");

    CHECK(merkle::verify_inclusion(10000, size, leaf, path, root).ok());
    CHECK(merkle::verify_consistency(3654490, size, cons, old_root, root).ok());

    for (std::size_t i = 0; i < path.size(); ++i) {
        for (int bit : {0, 77, 255}) {
            auto bad = path;
            bad[i][bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
            CHECK_FALSE(merkle::verify_inclusion(10000, size, leaf, bad, root).ok());
        }
    }
    for (std::size_t i = 0; i < cons.size(); ++i) {
        auto bad = cons;
        bad[i][i % 32] ^= 0x40;
        CHECK_FALSE(merkle::verify_consistency(3654490, size, bad, old_root, root).ok());
    }
    auto bad_leaf = leaf;
    bad_leaf[0] ^= 1;
    CHECK_FALSE(merkle::verify_inclusion(10000, size, bad_leaf, path, root).ok());
    CHECK_FALSE(merkle::verify_inclusion(10001, size, leaf, path, root).ok());
    CHECK_FALSE(
        merkle::verify_inclusion(10000, size / 2, leaf, path, root).ok()); // wrong proof length
    CHECK_FALSE(merkle::verify_consistency(3654491, size, cons, old_root, root).ok());
}
