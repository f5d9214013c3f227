#include "storage/ledger_store.hpp"

#include "protocol/assert.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "storage/ledger_store_parts.hpp"

#include <algorithm>
#include <cstring>

namespace civic::storage {
namespace {

using namespace store_detail;

const std::string latest_checkpoint_key = "checkpoint.latest";
const std::string probe_key = "probe"; // probe_write's record, removed after each probe
/// How far the per-identity index goes: every entry below it is indexed.
const std::string identity_index_key = "identity_entries.size";

/// The per-identity index's key: the name, a 0 byte (no name holds one, and
/// it sorts first: "a" stays apart from "a/b"), the index big-endian.
bytes identity_entry_key(std::string_view name, std::uint64_t index) {
    bytes k(name.begin(), name.end());
    k.push_back(0);
    put_u64_be(k, index);
    return k;
}

/// Indexes the entries of one write transaction under their identities. The
/// store does not judge entries (the ledger did): one too short to name an
/// identity is not indexed.
status index_entries(transaction& txn, MDB_dbi db, std::uint64_t first,
                     const std::vector<bytes>& entries) {
    for (std::size_t i = 0; i < entries.size(); ++i)
        if (auto name = encoded_entry_identity(entries[i]))
            CIVIC_TRY(txn.put(db, identity_entry_key(*name, first + i), byte_view()));
    return {};
}

bytes bytes_of_size(std::size_t n) { return bytes(std::max<std::size_t>(n, 1), 0); }

} // namespace

bool is_damage(const error& e) { return e.message.find(damage_marker) != std::string::npos; }

result<std::unique_ptr<ledger_store>> ledger_store::open(const store_options& options) {
    environment_options env_options;
    env_options.directory = options.directory;
    env_options.map_size = options.map_size;
    CIVIC_TRY_ASSIGN(env, environment::open(env_options));
    std::unique_ptr<ledger_store> s(new ledger_store());
    s->env_ = std::move(env);
    s->verified_cache_ = std::make_shared<verified_tile_cache>();
    struct named {
        const char* name;
        MDB_dbi* dbi;
    };
    for (auto [name, dbi] :
         {named{"meta", &s->meta_}, named{"entries", &s->entries_}, named{"tiles", &s->tiles_},
          named{"checkpoints", &s->checkpoints_}, named{"identities", &s->identities_},
          named{"tokens", &s->tokens_}, named{"identity_entries", &s->identity_entries_}}) {
        CIVIC_TRY_ASSIGN(handle, s->env_->database(name));
        *dbi = handle;
    }
    return s;
}

std::uint64_t ledger_store::stored_size() const {
    auto txn = transaction::begin(*env_, true);
    if (!txn) return 0;
    auto v = txn->get(meta_, byte_view(tree_key));
    if (!v || !*v) return 0;
    auto rec = decode_tree(**v);
    return rec ? rec->size : 0;
}

result<tree_state> ledger_store::load_tree() const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(meta_, byte_view(tree_key)));
    if (!raw) return tree_state{};
    CIVIC_TRY_ASSIGN(rec, decode_tree(*raw));
    auto range = merkle::compact_range::from_hashes(rec.size, rec.range);
    if (!range) return with_context("stored tree", range.err());
    std::vector<std::vector<hash>> tails;
    for (unsigned level = 0;
         level * tiles::tile_height < 64 && (rec.size >> (level * tiles::tile_height)) > 0;
         ++level) {
        std::uint64_t count = rec.size >> (level * tiles::tile_height);
        std::uint16_t width = static_cast<std::uint16_t>(count % tiles::tile_width);
        tails.emplace_back();
        if (width == 0) continue;
        const tiles::tile_id id{static_cast<std::uint8_t>(level), count / tiles::tile_width, width};
        std::vector<std::vector<hash>> content;
        CIVIC_TRY(read_tiles({id}, content));
        tails.back().assign(content[0].begin(), content[0].begin() + width);
        if (tree_state::tail_matches(*range, level, tails.back())) continue;
        // The stored tile is damaged: its hashes again from one level down (the
        // entries for level 0), checked against the range the same way; the
        // scrub rewrites the tile itself.
        std::vector<hash> rebuilt;
        if (level == 0) {
            for (std::uint64_t i = count - width; i < count; ++i) {
                CIVIC_TRY_ASSIGN(entry, txn.get(entries_, u64_key(i)));
                if (!entry) break;
                rebuilt.push_back(merkle::leaf_hash(*entry));
            }
        } else {
            std::vector<tiles::tile_id> below;
            for (std::uint64_t j = 0; j < width; ++j)
                below.push_back({static_cast<std::uint8_t>(level - 1),
                                 id.index * tiles::tile_width + j, tiles::tile_width});
            if (read_tiles(below, content))
                for (auto& t : content)
                    rebuilt.push_back(tile_root(std::move(t)));
        }
        if (!tree_state::tail_matches(*range, level, rebuilt))
            return damaged("the stored tree's rightmost " + tiles::tile_path(id) +
                           ", and what lies below it, do not make the stored tree");
        tails.back() = std::move(rebuilt);
    }
    return tree_state::restore(std::move(*range), std::move(tails));
}

result<std::optional<std::string>> ledger_store::latest_checkpoint() const {
    return setting(latest_checkpoint_key);
}

status ledger_store::commit(const batch& b) {
    if (b.entries.empty()) return make_error("commit: empty batch");
    if (int code = test_fail_writes.load()) return lmdb_error("commit", code, env_->handle());
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
    // The stored size, read inside the write transaction (writers are serialised).
    std::uint64_t size = 0;
    CIVIC_TRY_ASSIGN(raw_tree, txn.get(meta_, byte_view(tree_key)));
    if (raw_tree) {
        CIVIC_TRY_ASSIGN(rec, decode_tree(*raw_tree));
        size = rec.size;
    }
    if (b.first_index != size)
        return make_error("commit: batch starts at " + std::to_string(b.first_index) +
                          " but the store holds " + std::to_string(size) + " entries");
    for (std::size_t i = 0; i < b.entries.size(); ++i)
        CIVIC_TRY(txn.put(entries_, u64_key(b.first_index + i), b.entries[i]));
    for (const auto& t : b.tiles)
        CIVIC_TRY(txn.put(tiles_, tile_key(t.tile.level, t.tile.index), hashes_bytes(t.hashes)));
    for (const auto& id : b.identities)
        CIVIC_TRY(txn.put(identities_, byte_view(id.name), encode(id)));
    std::uint64_t new_size = b.first_index + b.entries.size();
    // Indexed with the entries only when the index is whole up to them.
    CIVIC_TRY_ASSIGN(indexed, txn.get(meta_, byte_view(identity_index_key)));
    if (size == 0 || (indexed && indexed->as_string() == std::to_string(size))) {
        CIVIC_TRY(index_entries(txn, identity_entries_, b.first_index, b.entries));
        CIVIC_TRY(
            txn.put(meta_, byte_view(identity_index_key), byte_view(std::to_string(new_size))));
    }
    CIVIC_TRY(txn.put(meta_, byte_view(tree_key), encode(tree_record{new_size, b.range})));
    CIVIC_TRY(txn.put(checkpoints_, u64_key(new_size), byte_view(b.checkpoint)));
    CIVIC_TRY(txn.put(meta_, byte_view(latest_checkpoint_key), byte_view(b.checkpoint)));
    CIVIC_TRY(txn.commit());
    advance_anchor(b);
    return {};
}

status ledger_store::probe_write(std::size_t bytes) {
    if (int code = test_fail_writes.load()) return lmdb_error("commit", code, env_->handle());
    {
        CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
        CIVIC_TRY(txn.put(meta_, byte_view(probe_key), bytes_of_size(bytes)));
        CIVIC_TRY(txn.commit());
    }
    // The room was there. A removal that fails leaves the record to the next
    // probe's overwrite: nothing reads it.
    if (auto txn = transaction::begin(*env_, false); txn && txn->erase(meta_, byte_view(probe_key)))
        (void)txn->commit();
    return {};
}

status ledger_store::read_tiles(const std::vector<tiles::tile_id>& ids,
                                std::vector<std::vector<hash>>& out) const {
    out.clear();
    out.reserve(ids.size());
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    for (const auto& t : ids) {
        CIVIC_TRY_ASSIGN(raw, txn.get(tiles_, tile_key(t.level, t.index)));
        // Stored tiles only grow: any stored prefix of at least `width` hashes answers.
        if (!raw || raw->size() < std::size_t{t.width} * 32 || raw->size() % 32 != 0)
            return make_error("no tile " + tiles::tile_path(t));
        std::vector<hash> hashes(t.width);
        for (std::size_t i = 0; i < t.width; ++i)
            std::copy_n(raw->data() + 32 * i, 32, hashes[i].begin());
        out.push_back(std::move(hashes));
    }
    return {};
}

result<std::optional<bytes>> ledger_store::entry(std::uint64_t index) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(entries_, u64_key(index)));
    if (!raw) return std::optional<bytes>{};
    return std::optional<bytes>(raw->to_bytes());
}

result<bytes> ledger_store::entry_bundle(std::uint64_t tile_index, std::uint16_t width) const {
    if (width == 0 || width > tiles::tile_width)
        return make_error("entry bundle width must be 1..256");
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    bytes out;
    for (std::uint64_t i = 0; i < width; ++i) {
        CIVIC_TRY_ASSIGN(raw, txn.get(entries_, u64_key(tile_index * tiles::tile_width + i)));
        if (!raw) return make_error("no entry bundle " + tiles::entries_path(tile_index, width));
        put_u16_be(out, static_cast<std::uint16_t>(raw->size()));
        out.insert(out.end(), raw->begin(), raw->end());
    }
    return out;
}

result<std::optional<std::string>> ledger_store::checkpoint_at(std::uint64_t size) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(checkpoints_, u64_key(size)));
    if (!raw) return std::optional<std::string>{};
    return std::optional<std::string>(std::string(raw->as_string()));
}

result<std::uint64_t> ledger_store::checkpoint_boundary(std::uint64_t after,
                                                        std::uint64_t at_most) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn.handle(), checkpoints_, &cursor); rc != 0)
        return lmdb_error("cursor_open", rc);
    auto start = u64_key(after + 1);
    MDB_val k{start.size(), start.data()}, v{};
    std::uint64_t best = 0;
    // Sizes are big-endian keys: cursor order is size order.
    for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) continue;
        std::uint64_t size = 0;
        for (std::size_t i = 0; i < 8; ++i)
            size = (size << 8) | static_cast<const std::uint8_t*>(k.mv_data)[i];
        if (best == 0 || size <= at_most) best = size;
        if (size >= at_most) break;
    }
    mdb_cursor_close(cursor);
    return best;
}

result<std::optional<identity_record>> ledger_store::identity(const std::string& name) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(identities_, byte_view(name)));
    if (!raw) return std::optional<identity_record>{};
    CIVIC_TRY_ASSIGN(rec, decode_identity(*raw));
    return std::optional<identity_record>(std::move(rec));
}

result<std::vector<std::string>> ledger_store::identity_names(const std::string& after,
                                                              std::size_t limit) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn.handle(), identities_, &cursor); rc != 0)
        return lmdb_error("cursor_open", rc);
    std::vector<std::string> names;
    MDB_val k{}, v{};
    // Names sort bytewise in LMDB: start at the first name >= `after`, skip `after` itself.
    k.mv_data = const_cast<char*>(after.data());
    k.mv_size = after.size();
    int rc = after.empty() ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
                           : mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && names.size() < limit; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        std::string name(static_cast<const char*>(k.mv_data), k.mv_size);
        if (name != after) names.push_back(std::move(name));
    }
    mdb_cursor_close(cursor);
    return names;
}

result<std::vector<std::uint64_t>>
ledger_store::identity_entries(const std::string& name, std::optional<std::uint64_t> after,
                               std::size_t limit) const {
    if (after && *after == UINT64_MAX) return std::vector<std::uint64_t>{};
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    // A page from an index that is not whole would hide entries: refused.
    CIVIC_TRY_ASSIGN(raw_tree, txn.get(meta_, byte_view(tree_key)));
    CIVIC_TRY_ASSIGN(raw_indexed, txn.get(meta_, byte_view(identity_index_key)));
    if (raw_tree) {
        CIVIC_TRY_ASSIGN(rec, decode_tree(*raw_tree));
        if (rec.size > 0 && (!raw_indexed || raw_indexed->as_string() != std::to_string(rec.size)))
            return make_error("the per-identity index is not complete (it is built at start)");
    }
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn.handle(), identity_entries_, &cursor); rc != 0)
        return lmdb_error("cursor_open", rc);
    auto start = identity_entry_key(name, after ? *after + 1 : 0);
    auto prefix = identity_entry_key(name, 0);
    prefix.resize(prefix.size() - 8);
    MDB_val k{start.size(), start.data()}, v{};
    std::vector<std::uint64_t> out;
    for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0 && out.size() < limit;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        const auto* key = static_cast<const std::uint8_t*>(k.mv_data);
        if (k.mv_size != prefix.size() + 8 || !std::equal(prefix.begin(), prefix.end(), key))
            break; // past this identity's entries
        out.push_back(get_u64_be(key + prefix.size()));
    }
    mdb_cursor_close(cursor);
    return out;
}

result<std::uint64_t> ledger_store::index_identity_entries(std::size_t per_transaction) {
    CIVIC_ASSERT(per_transaction > 0);
    std::uint64_t done = 0;
    while (true) {
        CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
        CIVIC_TRY_ASSIGN(raw_tree, txn.get(meta_, byte_view(tree_key)));
        std::uint64_t size = 0;
        if (raw_tree) {
            CIVIC_TRY_ASSIGN(rec, decode_tree(*raw_tree));
            size = rec.size;
        }
        CIVIC_TRY_ASSIGN(raw_indexed, txn.get(meta_, byte_view(identity_index_key)));
        std::uint64_t indexed = 0;
        if (raw_indexed) {
            auto parsed = parse_decimal(raw_indexed->as_string());
            if (!parsed) return make_error("identity index: its size record is corrupt");
            indexed = *parsed;
        }
        if (indexed >= size) return done;
        auto end = std::min<std::uint64_t>(size, indexed + per_transaction);
        std::vector<bytes> entries;
        for (auto i = indexed; i < end; ++i) {
            CIVIC_TRY_ASSIGN(raw, txn.get(entries_, u64_key(i)));
            if (!raw)
                return make_error(std::string(damage_marker) + "identity index: entry " +
                                  std::to_string(i) + " is missing");
            entries.emplace_back(raw->begin(), raw->end());
        }
        CIVIC_TRY(index_entries(txn, identity_entries_, indexed, entries));
        CIVIC_TRY(txn.put(meta_, byte_view(identity_index_key), byte_view(std::to_string(end))));
        CIVIC_TRY(txn.commit());
        done += end - indexed;
    }
}

result<std::vector<std::pair<hash, token_record>>> ledger_store::tokens(std::size_t limit) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(txn.handle(), tokens_, &cursor); rc != 0)
        return lmdb_error("cursor_open", rc);
    std::vector<std::pair<hash, token_record>> out;
    MDB_val k{}, v{};
    for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0 && out.size() < limit;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        hash h{};
        if (k.mv_size != h.size()) continue;
        std::memcpy(h.data(), k.mv_data, h.size());
        auto rec = decode_token(byte_view(static_cast<const std::uint8_t*>(v.mv_data), v.mv_size));
        if (!rec) {
            mdb_cursor_close(cursor);
            return rec.err();
        }
        out.emplace_back(h, std::move(*rec));
    }
    mdb_cursor_close(cursor);
    return out;
}

status ledger_store::put_token(const hash& token_sha256, const token_record& record) {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
    CIVIC_TRY(txn.put(tokens_, token_sha256, encode(record)));
    return txn.commit();
}

result<bool> ledger_store::delete_token(const hash& token_sha256) {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
    CIVIC_TRY_ASSIGN(existing, txn.get(tokens_, token_sha256));
    if (!existing) return false;
    CIVIC_TRY(txn.erase(tokens_, token_sha256));
    CIVIC_TRY(txn.commit());
    return true;
}

result<std::optional<token_record>> ledger_store::token(const hash& token_sha256) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(tokens_, token_sha256));
    if (!raw) return std::optional<token_record>{};
    CIVIC_TRY_ASSIGN(rec, decode_token(*raw));
    return std::optional<token_record>(std::move(rec));
}

status ledger_store::put_setting(const std::string& key, const std::string& value) {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, false));
    CIVIC_TRY(txn.put(meta_, byte_view(key), byte_view(value)));
    return txn.commit();
}

result<std::optional<std::string>> ledger_store::setting(const std::string& key) const {
    CIVIC_TRY_ASSIGN(txn, transaction::begin(*env_, true));
    CIVIC_TRY_ASSIGN(raw, txn.get(meta_, byte_view(key)));
    if (!raw) return std::optional<std::string>{};
    return std::optional<std::string>(std::string(raw->as_string()));
}

std::optional<split_view_evidence> contradiction(const ledger_store& store,
                                                 const std::string& signed_checkpoint) {
    auto theirs = parse_signed_checkpoint(signed_checkpoint);
    if (!theirs) return std::nullopt;
    auto latest = store.latest_checkpoint();
    if (!latest || !*latest) return std::nullopt;
    auto ours = parse_signed_checkpoint(**latest);
    if (!ours || ours->body.origin != theirs->body.origin) return std::nullopt;
    auto size = ours->body.size;
    auto n = theirs->body.size;
    if (n == 0 || n > size) return std::nullopt;
    split_view_evidence e{**latest, signed_checkpoint, std::nullopt, {}};
    if (n == size) {
        if (ours->body.root == theirs->body.root) return std::nullopt;
        return e;
    }
    auto root = tiles::root_at(store, size, n);
    if (!root || *root == theirs->body.root) return std::nullopt;
    auto proof = tiles::consistency_proof(store, n, size);
    if (!proof) return std::nullopt;
    e.root_at_smaller = *root;
    e.proof = std::move(*proof);
    return e;
}

status audit_tree(const ledger_store& store, const tree_state& tree) {
    const std::uint64_t size = tree.size();
    const std::uint64_t width = tiles::tile_width;
    // Entries against level-0 tiles, one tile (and one bundle) at a time.
    for (std::uint64_t n = 0; n * width < size; ++n) {
        auto w = static_cast<std::uint16_t>(std::min(width, size - n * width));
        tiles::tile_id tile{0, n, w};
        std::vector<std::vector<hash>> content;
        CIVIC_TRY(store.read_tiles({tile}, content));
        for (std::uint16_t i = 0; i < w; ++i) {
            CIVIC_TRY_ASSIGN(e, store.entry(n * width + i));
            if (!e)
                return make_error("audit: entry " + std::to_string(n * width + i) + " is missing");
            if (merkle::leaf_hash(*e) != content[0][i])
                return make_error("audit: entry " + std::to_string(n * width + i) +
                                  " does not match " + tiles::tile_path(tile));
        }
    }
    // Each full tile against its hash one tile level up.
    for (unsigned level = 0; level * tiles::tile_height < 64; ++level) {
        std::uint64_t full = (size >> (level * tiles::tile_height)) / width;
        if (full == 0) break;
        for (std::uint64_t parent = 0; parent * width < full; ++parent) {
            auto above = static_cast<std::uint16_t>(std::min(width, full - parent * width));
            std::vector<tiles::tile_id> ids{{static_cast<std::uint8_t>(level + 1), parent, above}};
            for (std::uint16_t j = 0; j < above; ++j)
                ids.push_back(
                    {static_cast<std::uint8_t>(level), parent * width + j, tiles::tile_width});
            std::vector<std::vector<hash>> content;
            CIVIC_TRY(store.read_tiles(ids, content));
            for (std::uint16_t j = 0; j < above; ++j) {
                auto& hashes = content[1 + j];
                for (std::size_t n = hashes.size(); n > 1; n /= 2)
                    for (std::size_t k = 0; k < n / 2; ++k)
                        hashes[k] = merkle::node_hash(hashes[2 * k], hashes[2 * k + 1]);
                if (hashes[0] != content[0][j])
                    return make_error("audit: " + tiles::tile_path(ids[1 + j]) +
                                      " does not match " + tiles::tile_path(ids[0]));
            }
        }
    }
    auto from_tiles = tiles::root_at(store, size, size);
    if (!from_tiles) return make_error("audit: " + from_tiles.message());
    if (*from_tiles != tree.root())
        return make_error("audit: the stored tiles do not match the stored tree");
    return {};
}

status verify_recovered_tree(const ledger_store& store, const tree_state& tree,
                             const note::verifier& log_key) {
    CIVIC_TRY_ASSIGN(latest, store.latest_checkpoint());
    if (!latest) {
        if (tree.size() != 0)
            return make_error("recovery: the store holds entries but no signed checkpoint");
        return {};
    }
    auto cp = parse_signed_checkpoint(*latest);
    if (!cp) return make_error("recovery: latest checkpoint: " + cp.message());
    if (auto opened = note::open(cp->signed_note, {&log_key}); !opened)
        return make_error("recovery: latest checkpoint is not signed by this log's key: " +
                          opened.message());
    if (cp->body.size != tree.size())
        return make_error("recovery: the store holds " + std::to_string(tree.size()) +
                          " entries but the latest signed checkpoint is for " +
                          std::to_string(cp->body.size));
    if (cp->body.root != tree.root())
        return make_error(
            "recovery: the stored tree's root differs from the latest signed checkpoint's");
    // The tiles must describe the same tree (proofs are computed from them).
    auto from_tiles = tiles::root_at(store, tree.size(), tree.size());
    if (!from_tiles) return make_error("recovery: stored tiles: " + from_tiles.message());
    if (*from_tiles != tree.root())
        return make_error("recovery: the stored tiles do not match the stored tree");
    return {};
}

std::uint64_t stored_epoch(const ledger_store& store) {
    auto text = store.setting(epoch_setting);
    if (!text || !*text) return 0;
    auto n = parse_decimal(**text);
    return n ? *n : 0;
}

status store_epoch(ledger_store& store, std::uint64_t epoch) {
    return store.put_setting(epoch_setting, std::to_string(epoch));
}

} // namespace civic::storage
