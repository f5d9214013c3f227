#include "storage/lmdb.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

using namespace civic;
namespace fs = std::filesystem;

TEST_CASE("LMDB environment: committed writes persist across reopen, aborted ones do not",
          "[storage]") {
    test::temp_dir dir("lmdb");
    {
        auto env = storage::environment::open({dir.path.string()});
        REQUIRE(env.ok());
        auto db = (*env)->database("entries");
        REQUIRE(db.ok());
        auto txn = storage::transaction::begin(**env, false);
        REQUIRE(txn.ok());
        REQUIRE(txn->put(*db, byte_view(std::string_view("k1")), byte_view(std::string_view("v1")))
                    .ok());
        REQUIRE(txn->commit().ok());
        auto aborted = storage::transaction::begin(**env, false);
        REQUIRE(
            aborted->put(*db, byte_view(std::string_view("k2")), byte_view(std::string_view("v2")))
                .ok());
        // destroyed without commit: aborted
    }
    auto env = storage::environment::open({dir.path.string()});
    REQUIRE(env.ok());
    auto db = (*env)->database("entries", false);
    REQUIRE(db.ok());
    auto txn = storage::transaction::begin(**env, true);
    REQUIRE(txn.ok());
    auto v1 = txn->get(*db, byte_view(std::string_view("k1")));
    REQUIRE(v1.ok());
    REQUIRE(v1->has_value());
    CHECK((*v1)->as_string() == "v1");
    auto v2 = txn->get(*db, byte_view(std::string_view("k2")));
    REQUIRE(v2.ok());
    CHECK_FALSE(v2->has_value());
    CHECK_FALSE((*env)->database("missing", false).ok());
}

TEST_CASE("LMDB open reports a clear error for a missing directory", "[storage]") {
    auto env = storage::environment::open({"/nonexistent/civic-attest/data"});
    REQUIRE_FALSE(env.ok());
    CHECK(env.message().find("/nonexistent/civic-attest/data") != std::string::npos);
}
