#include "node/cli/audit/state.hpp"

#include "node/system/files.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <unistd.h>

namespace civic::node::audit {

using json = nlohmann::json;

namespace {

constexpr const char* record_key = "state";
constexpr int record_version = 1;

bytes tile_key(std::uint8_t level, std::uint64_t index) {
    bytes key{level};
    put_u64_be(key, index);
    return key;
}

json hashes_json(const std::vector<hash>& hashes) {
    json list = json::array();
    for (const auto& h : hashes)
        list.push_back(base64_encode(h));
    return list;
}

std::vector<hash> hashes_from(const json& list) {
    std::vector<hash> out;
    for (const auto& item : list) {
        auto h = base64_decode_fixed<32>(item.get<std::string>());
        if (!h) throw std::runtime_error("a hash: " + h.message());
        out.push_back(*h);
    }
    return out;
}

json snapshot_json(const tree_snapshot& t) {
    json tails = json::array();
    for (const auto& tail : t.tails)
        tails.push_back(hashes_json(tail));
    return {{"checkpoint", t.checkpoint},
            {"size", t.size},
            {"range", hashes_json(t.range)},
            {"tails", tails}};
}

tree_snapshot snapshot_from(const json& j) {
    tree_snapshot t;
    t.checkpoint = j.at("checkpoint").get<std::string>();
    t.size = j.at("size").get<std::uint64_t>();
    t.range = hashes_from(j.at("range"));
    for (const auto& tail : j.at("tails"))
        t.tails.push_back(hashes_from(tail));
    return t;
}

std::string record_text(const audit_record& r) {
    json j = {{"version", record_version},
              {"origin", r.origin},
              {"vkey", r.vkey},
              {"tree_only", r.tree_only},
              {"violations", r.violations}};
    j["verified"] = r.verified ? snapshot_json(*r.verified) : json();
    j["progress"] = r.progress ? snapshot_json(*r.progress) : json();
    return j.dump();
}

audit_record record_from(std::string_view text) {
    auto j = json::parse(text);
    if (j.at("version").get<int>() != record_version)
        throw std::runtime_error("state version " + j.at("version").dump() + ", expected " +
                                 std::to_string(record_version));
    audit_record r;
    r.origin = j.at("origin").get<std::string>();
    r.vkey = j.at("vkey").get<std::string>();
    r.tree_only = j.at("tree_only").get<bool>();
    r.violations = j.at("violations").get<std::uint64_t>();
    if (!j.at("verified").is_null()) r.verified = snapshot_from(j.at("verified"));
    if (!j.at("progress").is_null()) r.progress = snapshot_from(j.at("progress"));
    return r;
}

} // namespace

/// The verified tree's tiles: full ones from the tiles database, the
/// rightmost (partial) ones from the verified snapshot.
class verified_tile_reader final : public tiles::tile_reader {
public:
    explicit verified_tile_reader(audit_state& state) : state_(state) {}
    status read_tiles(const std::vector<tiles::tile_id>& wanted,
                      std::vector<std::vector<hash>>& out) const override {
        out.clear();
        const auto& verified = state_.record_.verified;
        for (const auto& tile : wanted) {
            if (!tile.full()) {
                const unsigned shift = tile.level * tiles::tile_height;
                if (!verified || verified->tails.size() <= tile.level || shift >= 64 ||
                    (verified->size >> shift) / tiles::tile_width != tile.index ||
                    verified->tails[tile.level].size() < tile.width)
                    return make_error("the state holds no " + tiles::tile_path(tile));
                out.push_back(verified->tails[tile.level]);
                continue;
            }
            CIVIC_TRY_ASSIGN(value,
                             state_.txn_->get(state_.tiles_, tile_key(tile.level, tile.index)));
            if (!value || value->size() != tiles::tile_width * 32)
                return make_error("the state holds no " + tiles::tile_path(tile));
            std::vector<hash> hashes(tiles::tile_width);
            for (std::size_t i = 0; i < hashes.size(); ++i)
                std::memcpy(hashes[i].data(), value->data() + 32 * i, 32);
            out.push_back(std::move(hashes));
        }
        return {};
    }

private:
    audit_state& state_;
};

result<std::unique_ptr<audit_state>> audit_state::open(const std::string& directory,
                                                       std::size_t identity_cache) {
    std::unique_ptr<audit_state> s(new audit_state());
    s->directory_ = directory;
    s->cache_capacity_ = identity_cache;
    const auto lock_file = directory + "/lock";
    s->lock_fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd_ < 0) return make_error(lock_file + ": cannot open: " + std::strerror(errno));
    if (::flock(s->lock_fd_, LOCK_EX | LOCK_NB) != 0)
        return make_error(directory + ": another audit is using this state");
    const auto lmdb_dir = directory + "/lmdb";
    std::error_code ec;
    std::filesystem::create_directories(lmdb_dir, ec);
    if (ec) return make_error(lmdb_dir + ": cannot create: " + ec.message());
    storage::environment_options options;
    options.directory = lmdb_dir;
    options.map_size = std::size_t{1} << 40; // address space; the file grows as it needs
    options.max_readers = 8;
    CIVIC_TRY_ASSIGN(env, storage::environment::open(options));
    s->env_ = std::move(env);
    // LMDB fsyncs its files on every commit, not the directories that name them.
    CIVIC_TRY(sync_directory(lmdb_dir));
    CIVIC_TRY(sync_directory(directory));
    CIVIC_TRY(s->open_databases());
    CIVIC_TRY(s->begin());
    CIVIC_TRY(s->load_record());
    s->verified_reader_ = std::make_unique<verified_tile_reader>(*s);
    return s;
}

audit_state::~audit_state() {
    txn_.reset(); // aborts what was not committed
    env_.reset();
    if (lock_fd_ >= 0) ::close(lock_fd_);
}

status audit_state::open_databases() {
    for (auto [dbi, name] :
         {std::pair{&meta_, "meta"}, std::pair{&tiles_, "tiles"},
          std::pair{&identities_, "identities"}, std::pair{&pending_, "pending"}}) {
        CIVIC_TRY_ASSIGN(opened, env_->database(name));
        *dbi = opened;
    }
    return {};
}

status audit_state::begin() {
    CIVIC_TRY_ASSIGN(txn, storage::transaction::begin(*env_, false));
    txn_.emplace(std::move(txn));
    return {};
}

status audit_state::load_record() {
    CIVIC_TRY_ASSIGN(value, txn_->get(meta_, byte_view(std::string_view(record_key))));
    if (!value) return {};
    try {
        record_ = record_from(value->as_string());
    } catch (const std::exception& e) {
        return make_error(directory_ + ": the state record is damaged: " + e.what());
    }
    fresh_ = false;
    return {};
}

void audit_state::remember(const std::string& name, std::optional<storage::identity_record> r) {
    if (cache_capacity_ == 0) return;
    if (auto it = cache_.find(name); it != cache_.end()) {
        it->second->second = std::move(r);
        cache_order_.splice(cache_order_.begin(), cache_order_, it->second);
        return;
    }
    cache_order_.emplace_front(name, std::move(r));
    cache_[name] = cache_order_.begin();
    if (cache_.size() > cache_capacity_) {
        cache_.erase(cache_order_.back().first);
        cache_order_.pop_back();
    }
}

result<std::optional<storage::identity_record>>
audit_state::read_identity(const std::string& name) {
    // Changed since the verified size first, then the registry as verified.
    for (auto dbi : {pending_, identities_}) {
        CIVIC_TRY_ASSIGN(value, txn_->get(dbi, byte_view(std::string_view(name))));
        if (!value) continue;
        auto decoded = storage::decode_identity(*value);
        if (!decoded)
            return make_error(directory_ + ": the registry record of '" + name +
                              "' is damaged: " + decoded.message());
        return std::optional<storage::identity_record>(std::move(*decoded));
    }
    return std::optional<storage::identity_record>();
}

result<std::optional<storage::identity_record>> audit_state::identity(const std::string& name) {
    if (auto it = cache_.find(name); it != cache_.end()) {
        cache_order_.splice(cache_order_.begin(), cache_order_, it->second);
        return it->second->second;
    }
    CIVIC_TRY_ASSIGN(found, read_identity(name));
    remember(name, found);
    return found;
}

status audit_state::put_identity(const storage::identity_record& r) {
    CIVIC_TRY(txn_->put(pending_, byte_view(std::string_view(r.name)), storage::encode(r)));
    remember(r.name, r);
    return {};
}

status audit_state::put_full_tile(const tiles::tile_id& tile, const std::vector<hash>& hashes) {
    CIVIC_ASSERT(tile.full());
    CIVIC_ASSERT_EQ(hashes.size(), tiles::tile_width);
    bytes value;
    value.reserve(hashes.size() * 32);
    for (const auto& h : hashes)
        value.insert(value.end(), h.begin(), h.end());
    return txn_->put(tiles_, tile_key(tile.level, tile.index), value);
}

status audit_state::commit() {
    CIVIC_TRY(txn_->put(meta_, byte_view(std::string_view(record_key)),
                        byte_view(std::string_view(record_text(record_)))));
    auto committed = txn_->commit();
    txn_.reset();
    if (!committed)
        return make_error(directory_ + ": the state did not commit: " + committed.message());
    fresh_ = false;
    return begin();
}

status audit_state::promote_progress() {
    CIVIC_ASSERT(record_.progress.has_value());
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn_->handle(), pending_, &cursor); rc != 0)
        return storage::lmdb_error("cursor_open", rc);
    MDB_val k{}, v{};
    int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        auto put = txn_->put(identities_,
                             byte_view(static_cast<const std::uint8_t*>(k.mv_data), k.mv_size),
                             byte_view(static_cast<const std::uint8_t*>(v.mv_data), v.mv_size));
        if (!put) {
            mdb_cursor_close(cursor);
            return put;
        }
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_NOTFOUND) return storage::lmdb_error("cursor_get", rc);
    if (int dropped = mdb_drop(txn_->handle(), pending_, 0); dropped != 0)
        return storage::lmdb_error("drop", dropped);
    record_.verified = std::move(record_.progress);
    record_.progress.reset();
    return commit();
}

status audit_state::drop_progress() {
    if (int dropped = mdb_drop(txn_->handle(), pending_, 0); dropped != 0)
        return storage::lmdb_error("drop", dropped);
    cache_.clear();
    cache_order_.clear();
    record_.progress.reset();
    return commit();
}

} // namespace civic::node::audit
