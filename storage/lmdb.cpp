#include "storage/lmdb.hpp"

namespace civic::storage {

error lmdb_error(const char* what, int rc) {
    return make_error(std::string("lmdb ") + what + ": " + mdb_strerror(rc));
}

result<std::shared_ptr<environment>> environment::open(const environment_options& options) {
    MDB_env* env = nullptr;
    if (int rc = mdb_env_create(&env); rc != 0) return lmdb_error("env_create", rc);
    std::shared_ptr<environment> out(new environment(env));
    if (int rc = mdb_env_set_mapsize(env, options.map_size); rc != 0)
        return lmdb_error("set_mapsize", rc);
    if (int rc = mdb_env_set_maxdbs(env, options.max_databases); rc != 0)
        return lmdb_error("set_maxdbs", rc);
    if (int rc = mdb_env_set_maxreaders(env, options.max_readers); rc != 0)
        return lmdb_error("set_maxreaders", rc);
    // MDB_NOTLS: read transactions are not tied to threads (actors migrate between workers).
    if (int rc = mdb_env_open(env, options.directory.c_str(), MDB_NOTLS, 0600); rc != 0)
        return make_error("lmdb open " + options.directory + ": " + mdb_strerror(rc));
    return out;
}

environment::~environment() { mdb_env_close(env_); }

result<MDB_dbi> environment::database(const std::string& name, bool create) {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) return lmdb_error("txn_begin", rc);
    MDB_dbi dbi = 0;
    if (int rc = mdb_dbi_open(txn, name.c_str(), create ? MDB_CREATE : 0, &dbi); rc != 0) {
        mdb_txn_abort(txn);
        return make_error("lmdb open database " + name + ": " + mdb_strerror(rc));
    }
    if (int rc = mdb_txn_commit(txn); rc != 0) return lmdb_error("txn_commit", rc);
    return dbi;
}

result<transaction> transaction::begin(environment& env, bool read_only) {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env.handle(), nullptr, read_only ? MDB_RDONLY : 0, &txn); rc != 0)
        return lmdb_error("txn_begin", rc);
    return transaction(txn);
}

transaction::~transaction() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
}

namespace {
MDB_val to_val(byte_view v) { return MDB_val{v.size(), const_cast<std::uint8_t*>(v.data())}; }
} // namespace

result<std::optional<byte_view>> transaction::get(MDB_dbi db, byte_view key) const {
    MDB_val k = to_val(key), v{};
    int rc = mdb_get(txn_, db, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<byte_view>{};
    if (rc != 0) return lmdb_error("get", rc);
    return std::optional<byte_view>(
        byte_view(static_cast<const std::uint8_t*>(v.mv_data), v.mv_size));
}

status transaction::put(MDB_dbi db, byte_view key, byte_view value) {
    MDB_val k = to_val(key), v = to_val(value);
    if (int rc = mdb_put(txn_, db, &k, &v, 0); rc != 0) return lmdb_error("put", rc);
    return {};
}

status transaction::erase(MDB_dbi db, byte_view key) {
    MDB_val k = to_val(key);
    int rc = mdb_del(txn_, db, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error("del", rc);
    return {};
}

status transaction::commit() {
    MDB_txn* txn = txn_;
    txn_ = nullptr; // committed or failed, the handle is gone either way
    if (int rc = mdb_txn_commit(txn); rc != 0) return lmdb_error("commit", rc);
    return {};
}

} // namespace civic::storage
