// A witness's durable state, in its own LMDB environment: per log origin the
// latest checkpoint it cosigned, and the evidence of misbehaviour it caught.
// Written only by the witness's writer actor, one fsync'd transaction per
// round of requests; a cosignature leaves the witness only after that commit.
#pragma once

#include "storage/lmdb.hpp"
#include "storage/records.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace civic::storage {

/// Most evidence records a store keeps: beyond that, new ones are counted and
/// dropped (a log caught forking once has been caught; the first proofs stay).
constexpr std::size_t max_evidence_records = 10000;

/// One atomic change: the new states of some origins, and new evidence.
struct witness_write {
    std::map<std::string, cosigned_record> states;
    std::vector<evidence_record> evidence;
};

class witness_store {
public:
    /// Opens (creating if needed) the store in an existing directory.
    static result<std::unique_ptr<witness_store>> open(const std::string& directory);

    /// Every origin's latest cosigned checkpoint.
    result<std::map<std::string, cosigned_record>> states() const;
    /// Applies a write in one durable transaction (fsync'd on return).
    status commit(const witness_write& write);
    /// Evidence records from `first` on, at most `limit` of them.
    result<std::vector<evidence_record>> evidence(std::uint64_t first, std::size_t limit) const;
    std::uint64_t evidence_count() const;

    /// Fault injection, for tests only (no flag or option sets it): while
    /// nonzero, commit() fails with this LMDB or errno code as lmdb_error
    /// renders it, writing nothing.
    std::atomic<int> test_fail_writes{0};

private:
    witness_store() = default;
    std::shared_ptr<environment> env_;
    MDB_dbi cosigned_ = 0, evidence_ = 0, meta_ = 0;
};

} // namespace civic::storage
