// A thin RAII layer over LMDB: one environment per data directory, named
// databases, read and write transactions. Durable by default: commits fsync
// (no MDB_NOSYNC / MDB_NOMETASYNC), so a committed write survives a crash.
#pragma once

#include "protocol/bytes.hpp"

#include <lmdb.h>

#include <memory>
#include <optional>
#include <string>

namespace civic::storage {

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

/// "lmdb <what>: <mdb_strerror>".
error lmdb_error(const char* what, int rc);

} // namespace civic::storage
