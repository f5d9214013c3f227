// A thin RAII layer over LMDB: one environment per data directory, named
// databases, read and write transactions. Durable by default: commits fsync
// (no MDB_NOSYNC / MDB_NOMETASYNC), so a committed write survives a crash.
//
// What a disk does to the file must not crash the process: LMDB maps the file
// and trusts its pages. A file shorter than its pages (truncated) would raise
// SIGBUS on the first read past its end, so open() refuses it; an invalid header
// is an error naming the file; LMDB's own error codes for damage
// (MDB_CORRUPTED, MDB_PAGE_NOTFOUND, ...) are errors naming the file. Garbled
// page contents can make LMDB assert (and abort) or read out of the map:
// check_environment() walks every page in a child process before a node
// serves from it, and the assert handler names the file before the process ends.
//
// A full disk must not crash it either. Data pages are written with pwrite (no
// MDB_WRITEMAP), so a write that finds no room is an error, not a SIGBUS; the
// lock file, which LMDB maps and makes sparse, is allocated in full at open, so
// that a reader slot touched for the first time on a full disk is no SIGBUS.
#pragma once

#include "protocol/bytes.hpp"

#include <lmdb.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace civic::storage {

/// A big-endian u64 key: LMDB's byte order is the numeric order.
inline bytes u64_key(std::uint64_t v) {
    bytes k;
    put_u64_be(k, v);
    return k;
}

struct environment_options {
    std::string directory;
    std::size_t map_size = std::size_t{64} << 30; // address space reserved, not disk used
    unsigned max_databases = 16;
    unsigned max_readers = 256;
};

class environment {
public:
    /// Opens (creating if needed) the environment in an existing directory.
    static result<std::shared_ptr<environment>> open(const environment_options& options);
    ~environment();
    environment(const environment&) = delete;
    environment& operator=(const environment&) = delete;

    MDB_env* handle() const { return env_; }
    /// Opens a named database, creating it if `create`. Opens its own write
    /// transaction: never call it while this thread holds one (LMDB has one writer).
    result<MDB_dbi> database(const std::string& name, bool create = true);

private:
    explicit environment(MDB_env* env) : env_(env) {}
    MDB_env* env_;
};

/// One LMDB transaction; aborted on destruction unless committed.
class transaction {
public:
    static result<transaction> begin(environment& env, bool read_only);
    transaction(transaction&& other) noexcept : txn_(other.txn_) { other.txn_ = nullptr; }
    transaction& operator=(transaction&&) = delete;
    ~transaction();

    /// The value at `key`, if any. The view is valid until the transaction ends.
    result<std::optional<byte_view>> get(MDB_dbi db, byte_view key) const;
    status put(MDB_dbi db, byte_view key, byte_view value);
    status erase(MDB_dbi db, byte_view key);
    /// Commits (and, in a durable environment, fsyncs) the transaction.
    status commit();
    MDB_txn* handle() const { return txn_; }

private:
    explicit transaction(MDB_txn* txn) : txn_(txn) {}
    MDB_txn* txn_;
};

/// "lmdb <what>: <mdb_strerror>"; for the codes that mean a damaged file,
/// "<dir>/data.mdb is damaged: lmdb <what>: ..." (`env` names the file); for a
/// write that found no room, a message that says so (see shortage_of).
error lmdb_error(const char* what, int rc, MDB_env* env = nullptr);

/// Why a write found no room, if that is why it failed.
enum class space_shortage {
    none,
    device_full,    // ENOSPC, or a short write (EIO in LMDB) on a file system left without room
    quota_exceeded, // EDQUOT
    map_full,       // MDB_MAP_FULL: the store reached its map_size, however much disk is free
};

/// What a failed write's error (from lmdb_error, perhaps with context added)
/// says about room.
space_shortage shortage_of(const error& e);
/// The metric label of a shortage: "no_space", "quota", "map_full" ("other": none).
const char* shortage_label(space_shortage s);
/// A file system with less room than this after a short write is full: LMDB
/// reports a short write as EIO, the kernel's way of saying the disk filled mid-write.
constexpr std::uint64_t short_write_full_below = std::uint64_t{1} << 20;

/// The data file of the environment in `directory` ("<directory>/data.mdb").
std::string data_file(const std::string& directory);

/// Reads every record of every named database of the environment in
/// `directory` (and of its main database), in a child process, so that pages
/// LMDB cannot read (an assertion, a signal, an error) fail the check instead
/// of the caller. Fails naming the file and the database. The environment must
/// exist and must not be open for writing in another process. Costs one read
/// of the whole file.
status check_environment(const environment_options& options);

} // namespace civic::storage
