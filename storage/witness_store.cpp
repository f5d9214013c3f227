#include "storage/witness_store.hpp"

namespace civic::storage {
namespace {

const std::string evidence_count_key = "evidence.count";

std::uint64_t read_count(const transaction& txn, MDB_dbi meta) {
    auto v = txn.get(meta, byte_view(evidence_count_key));
    if (!v || !*v || (*v)->size() != 8) return 0;
    return get_u64_be((*v)->data());
}

} // namespace

result<std::unique_ptr<witness_store>> witness_store::open(const std::string& directory) {
    environment_options options;
    options.directory = directory;
    options.map_size = std::size_t{4} << 30;
    CIVIC_TRY_ASSIGN(env, environment::open(options));
    std::unique_ptr<witness_store> s(new witness_store());
    s->env_ = std::move(env);
    CIVIC_TRY_ASSIGN(cosigned, s->env_->database("cosigned"));
    CIVIC_TRY_ASSIGN(evidence, s->env_->database("evidence"));
    CIVIC_TRY_ASSIGN(meta, s->env_->database("meta"));
    s->cosigned_ = cosigned;
    s->evidence_ = evidence;
    s->meta_ = meta;
    return s;
}

result<std::map<std::string, cosigned_record>> witness_store::states() const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn.handle(), cosigned_, &cursor); rc != 0)
        return lmdb_error("cursor", rc);
    std::map<std::string, cosigned_record> out;
    MDB_val key{}, value{};
    int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
        auto rec = decode_cosigned(
            byte_view(static_cast<const std::uint8_t*>(value.mv_data), value.mv_size));
        if (!rec) {
            mdb_cursor_close(cursor);
            return rec.err();
        }
        out.emplace(std::string(static_cast<const char*>(key.mv_data), key.mv_size),
                    std::move(*rec));
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_NOTFOUND) return lmdb_error("cursor", rc);
    return out;
}

status witness_store::commit(const witness_write& write) {
    if (int code = test_fail_writes.load()) return lmdb_error("commit", code, env_->handle());
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
    for (const auto& [origin, rec] : write.states)
        CIVIC_TRY(txn.put(cosigned_, byte_view(origin), byte_view(encode(rec))));
    if (!write.evidence.empty()) {
        auto count = read_count(txn, meta_);
        for (const auto& e : write.evidence) {
            if (count >= max_evidence_records) break;
            CIVIC_TRY(txn.put(evidence_, byte_view(u64_key(count)), byte_view(encode(e))));
            ++count;
        }
        CIVIC_TRY(txn.put(meta_, byte_view(evidence_count_key), byte_view(u64_key(count))));
    }
    return txn.commit();
}

result<std::vector<evidence_record>> witness_store::evidence(std::uint64_t first,
                                                             std::size_t limit) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    auto count = read_count(txn, meta_);
    std::vector<evidence_record> out;
    for (auto i = first; i < count && out.size() < limit; ++i) {
        CIVIC_TRY_ASSIGN(raw, txn.get(evidence_, byte_view(u64_key(i))));
        if (!raw) break;
        CIVIC_TRY_ASSIGN(rec, decode_evidence(*raw));
        out.push_back(std::move(rec));
    }
    return out;
}

std::uint64_t witness_store::evidence_count() const {
    auto txn = transaction::begin(*env_, true);
    return txn ? read_count(*txn, meta_) : 0;
}

} // namespace civic::storage
