#include "storage/lmdb.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
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

TEST_CASE("LMDB environment: a truncated data file is refused naming it, and left as it is",
          "[storage]") {
    test::temp_dir dir("lmdb-truncated");
    const auto file = storage::data_file(dir.path.string());
    {
        auto env = storage::environment::open({dir.path.string()});
        REQUIRE(env.ok());
        auto db = (*env)->database("entries");
        REQUIRE(db.ok());
        auto txn = storage::transaction::begin(**env, false);
        REQUIRE(txn.ok());
        std::string value(3000, 'v');
        for (int i = 0; i < 100; ++i)
            REQUIRE(txn->put(*db, byte_view(std::to_string(1000 + i)), byte_view(value)).ok());
        REQUIRE(txn->commit().ok());
    }
    REQUIRE(storage::check_environment({dir.path.string()}).ok());
    auto size = fs::file_size(file);
    fs::resize_file(file, size / 2);
    auto env = storage::environment::open({dir.path.string()});
    REQUIRE_FALSE(env.ok());
    CHECK(env.message() == file + " is truncated: " + std::to_string(size / 2) +
                               " bytes, the store needs at least " + std::to_string(size));
    // The check in a child process refuses it the same way (before it reads a page).
    auto checked = storage::check_environment({dir.path.string()});
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.message() == env.message());

    fs::resize_file(file, 100);
    env = storage::environment::open({dir.path.string()});
    REQUIRE_FALSE(env.ok());
    CHECK(env.message().find(file + " is truncated: 100 bytes") == 0);
    CHECK(fs::file_size(file) == 100); // LMDB did not write fresh headers over it
}

TEST_CASE("LMDB environment: garbled pages fail the check in a child, naming the file",
          "[storage]") {
    test::temp_dir dir("lmdb-garbled");
    const auto file = storage::data_file(dir.path.string());
    {
        auto env = storage::environment::open({dir.path.string()});
        REQUIRE(env.ok());
        auto db = (*env)->database("entries");
        REQUIRE(db.ok());
        auto txn = storage::transaction::begin(**env, false);
        REQUIRE(txn.ok());
        for (int i = 0; i < 2000; ++i)
            REQUIRE(txn->put(*db, byte_view(std::to_string(10000 + i)),
                             byte_view(std::string(40, static_cast<char>('a' + i % 26))))
                        .ok());
        REQUIRE(txn->commit().ok());
    }
    auto pristine = test::read_file(file);
    // Every page after the headers garbled in turn: the check passes (a free
    // page) or fails naming the file; it never takes the test process down.
    int failed = 0;
    for (std::size_t page = 2; page * 4096 < pristine.size(); ++page) {
        auto garbled = pristine;
        for (std::size_t i = 0; i < 4096; ++i)
            garbled[page * 4096 + i] = static_cast<char>((i * 7919 + page * 31) & 0xff);
        {
            std::ofstream out(file, std::ios::binary | std::ios::trunc);
            out << garbled;
        }
        auto checked = storage::check_environment({dir.path.string()});
        if (!checked) {
            ++failed;
            CHECK(checked.message().find(file + " is ") == 0);
        }
    }
    CHECK(failed > 0);
}

TEST_CASE("LMDB errors: no room says which (device, quota, map), anything else is no shortage",
          "[storage][no-space]") {
    test::temp_dir dir("lmdb-no-space");
    auto env = storage::environment::open({dir.path.string()});
    REQUIRE(env.ok());
    auto* handle = (*env)->handle();
    const auto file = storage::data_file(dir.path.string());
    auto device = storage::lmdb_error("commit", ENOSPC, handle);
    CHECK(storage::shortage_of(device) == storage::space_shortage::device_full);
    CHECK(device.message == "no space left on the device of " + file +
                                " (lmdb commit: No space left on device)");
    auto quota = storage::lmdb_error("commit", EDQUOT, handle);
    CHECK(storage::shortage_of(quota) == storage::space_shortage::quota_exceeded);
    CHECK(quota.message.find("disk quota exceeded for " + file) == 0);
    auto map = storage::lmdb_error("put", MDB_MAP_FULL, handle);
    CHECK(storage::shortage_of(map) == storage::space_shortage::map_full);
    CHECK(map.message.find("the LMDB map is full in " + file + ": the store holds at most") == 0);
    // With context added (as the ledger adds it), still recognised.
    CHECK(storage::shortage_of(with_context("commit failed", device)) ==
          storage::space_shortage::device_full);
    // A short write (EIO) on a file system with room is a failing disk, not a full one.
    CHECK(storage::shortage_of(storage::lmdb_error("commit", EIO, handle)) ==
          storage::space_shortage::none);
    CHECK(storage::shortage_of(storage::lmdb_error("commit", MDB_CORRUPTED, handle)) ==
          storage::space_shortage::none);
    CHECK(std::string(storage::shortage_label(storage::space_shortage::device_full)) == "no_space");
    CHECK(std::string(storage::shortage_label(storage::space_shortage::none)) == "other");
}

TEST_CASE("LMDB environment: the lock file is allocated in full, so no reader faults on a full "
          "disk",
          "[storage][no-space]") {
    test::temp_dir dir("lmdb-lock");
    auto env = storage::environment::open({dir.path.string()});
    REQUIRE(env.ok());
    struct stat st {};
    REQUIRE(::stat((dir.path / "lock.mdb").c_str(), &st) == 0);
    // Every byte of the file has a block (LMDB alone leaves it sparse).
    CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 >= static_cast<std::uint64_t>(st.st_size));
}
