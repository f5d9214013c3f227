#include "protocol/checkpoint.hpp"
#include "storage/ledger_store.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

using namespace civic;
namespace fs = std::filesystem;

namespace {

const std::string origin = "store.test/log";

// Appends `entries` as one batch: tree, tiles, signed checkpoint, one commit.
status append_batch(storage::ledger_store& store, storage::tree_state& tree,
                    const note::ed25519_signer& log, const std::vector<bytes>& entries) {
    storage::batch b;
    b.first_index = tree.size();
    for (const auto& e : entries)
        tree.append(merkle::leaf_hash(e));
    b.entries = entries;
    b.tiles = tree.take_changed_tiles();
    b.range = tree.range().hashes();
    checkpoint cp{origin, tree.size(), tree.root(), {}};
    b.checkpoint = note::serialize(note::note{cp.text(), {log.sign(cp.text())}});
    return store.commit(b);
}

std::vector<bytes> make_entries(std::size_t first, std::size_t count) {
    std::vector<bytes> out;
    for (std::size_t i = first; i < first + count; ++i) {
        auto s = "entry " + std::to_string(i);
        out.emplace_back(s.begin(), s.end());
    }
    return out;
}

} // namespace

TEST_CASE("ledger store: batches persist, tiles serve proofs, state survives reopen", "[storage]") {
    test::temp_dir dir("batches");
    auto log = test::log_signer(origin);
    auto log_verifier = note::make_verifier(log.verifier_key());
    std::vector<hash> leaves;
    tiles::memory_tiles reference;
    {
        auto store = storage::ledger_store::open({dir.path.string()});
        REQUIRE(store.ok());
        auto tree = (*store)->load_tree();
        REQUIRE(tree.ok());
        CHECK(tree->size() == 0);
        REQUIRE(storage::verify_recovered_tree(**store, *tree, **log_verifier).ok());
        // Batch sizes that cross tile boundaries at levels 0 and 1.
        std::size_t next = 0;
        for (std::size_t n : {1u, 255u, 1u, 300u, 700u, 65536u - 1257u, 5u}) {
            auto entries = make_entries(next, n);
            REQUIRE(append_batch(**store, *tree, log, entries).ok());
            for (const auto& e : entries) {
                leaves.push_back(merkle::leaf_hash(e));
                reference.append(leaves.back());
            }
            next += n;
            CHECK(tree->root() == reference.root());
        }
        CHECK((*store)->stored_size() == 65541);
    }
    auto store = storage::ledger_store::open({dir.path.string()});
    REQUIRE(store.ok());
    auto tree = (*store)->load_tree();
    REQUIRE(tree.ok());
    CHECK(tree->size() == 65541);
    CHECK(tree->root() == reference.root());
    CHECK(storage::verify_recovered_tree(**store, *tree, **log_verifier).ok());

    // Proofs from the stored tiles, at the current and at earlier checkpointed sizes.
    for (std::uint64_t size :
         {std::uint64_t{1}, std::uint64_t{256}, std::uint64_t{557}, std::uint64_t{65541}}) {
        auto cp = (*store)->checkpoint_at(size);
        REQUIRE(cp.ok());
        REQUIRE(cp->has_value());
        auto body = parse_signed_checkpoint(**cp);
        REQUIRE(body.ok());
        for (std::uint64_t index : {std::uint64_t{0}, size / 2, size - 1}) {
            auto proof = tiles::inclusion_proof(**store, index, size);
            REQUIRE(proof.ok());
            CHECK(
                merkle::verify_inclusion(index, size, leaves[index], *proof, body->body.root).ok());
        }
    }
    CHECK_FALSE((*store)->checkpoint_at(300)->has_value()); // no batch ended there

    // Appending continues seamlessly after the reopen.
    REQUIRE(append_batch(**store, *tree, log, make_entries(65541, 600)).ok());
    for (const auto& e : make_entries(65541, 600))
        reference.append(merkle::leaf_hash(e));
    CHECK(tree->root() == reference.root());
    auto reloaded = (*store)->load_tree();
    REQUIRE(reloaded.ok());
    CHECK(reloaded->root() == reference.root());
    CHECK(reloaded->tails() == tree->tails());

    // Entries and entry bundles.
    auto e = (*store)->entry(65541 + 3);
    REQUIRE(e.ok());
    REQUIRE(e->has_value());
    CHECK(std::string((*e)->begin(), (*e)->end()) == "entry 65544");
    CHECK_FALSE((*store)->entry(1u << 30)->has_value());
    auto bundle = (*store)->entry_bundle(1, 3);
    REQUIRE(bundle.ok());
    bytes expected;
    for (const auto& x : make_entries(256, 3)) {
        put_u16_be(expected, static_cast<std::uint16_t>(x.size()));
        expected.insert(expected.end(), x.begin(), x.end());
    }
    CHECK(*bundle == expected);
    CHECK_FALSE((*store)->entry_bundle(100000, 1).ok());
}

TEST_CASE("ledger store: a batch at the wrong index writes nothing", "[storage]") {
    test::temp_dir dir("wrong-index");
    auto log = test::log_signer(origin);
    auto store = storage::ledger_store::open({dir.path.string()});
    REQUIRE(store.ok());
    storage::tree_state tree;
    REQUIRE(append_batch(**store, tree, log, make_entries(0, 10)).ok());
    storage::batch stale;
    stale.first_index = 5;
    stale.entries = make_entries(5, 2);
    stale.checkpoint = "x";
    auto failed = (*store)->commit(stale);
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.message().find("store holds 10") != std::string::npos);
    CHECK((*store)->stored_size() == 10);
    auto kept = (*store)->entry(5);
    REQUIRE(kept.ok());
    REQUIRE(kept->has_value());
    CHECK(std::string((*kept)->begin(), (*kept)->end()) == "entry 5");
    CHECK_FALSE((*store)->commit(storage::batch{}).ok());
}

TEST_CASE("ledger store: recovery refuses a store that disagrees with its checkpoint",
          "[storage]") {
    test::temp_dir dir("recovery");
    auto log = test::log_signer(origin);
    auto other = test::log_signer("other.test/log");
    auto log_verifier = note::make_verifier(log.verifier_key());
    auto store = storage::ledger_store::open({dir.path.string()});
    REQUIRE(store.ok());
    storage::tree_state tree;
    REQUIRE(append_batch(**store, tree, log, make_entries(0, 300)).ok());

    SECTION("a checkpoint signed by another key") {
        storage::tree_state t2 = *(*store)->load_tree();
        REQUIRE(append_batch(**store, t2, other, make_entries(300, 1)).ok());
        auto status =
            storage::verify_recovered_tree(**store, *(*store)->load_tree(), **log_verifier);
        REQUIRE_FALSE(status.ok());
        CHECK(status.message().find("not signed by this log") != std::string::npos);
    }
    SECTION("a checkpoint for another tree") {
        storage::tree_state t2 = *(*store)->load_tree();
        storage::batch b;
        b.first_index = 300;
        b.entries = make_entries(300, 1);
        t2.append(merkle::leaf_hash(b.entries[0]));
        b.tiles = t2.take_changed_tiles();
        b.range = t2.range().hashes();
        checkpoint wrong{origin, 301, merkle::empty_root(), {}};
        b.checkpoint = note::serialize(note::note{wrong.text(), {log.sign(wrong.text())}});
        REQUIRE((*store)->commit(b).ok());
        auto status =
            storage::verify_recovered_tree(**store, *(*store)->load_tree(), **log_verifier);
        REQUIRE_FALSE(status.ok());
        CHECK(status.message().find("root differs") != std::string::npos);
    }
    auto overwrite_tile = [&](std::uint8_t level, std::uint64_t index, bytes content) {
        auto dbi = (*store)->env().database("tiles"); // before the write txn: LMDB has one writer
        auto txn = storage::transaction::begin((*store)->env(), false);
        REQUIRE(txn.ok());
        bytes key{level};
        put_u64_be(key, index);
        REQUIRE(txn->put(*dbi, key, content).ok());
        REQUIRE(txn->commit().ok());
    };
    SECTION("a corrupted tile on the path to the root") {
        overwrite_tile(1, 0, bytes(32, 0xab));
        auto status =
            storage::verify_recovered_tree(**store, *(*store)->load_tree(), **log_verifier);
        REQUIRE_FALSE(status.ok());
        CHECK(status.message().find("tiles do not match") != std::string::npos);
    }
    SECTION("a corrupted tile below the path: only the full audit sees it") {
        auto good = storage::audit_tree(**store, *(*store)->load_tree());
        INFO(good.message());
        REQUIRE(good.ok());
        overwrite_tile(0, 0, bytes(256 * 32, 0xab));
        CHECK(storage::verify_recovered_tree(**store, *(*store)->load_tree(), **log_verifier).ok());
        auto status = storage::audit_tree(**store, *(*store)->load_tree());
        REQUIRE_FALSE(status.ok());
        CHECK(status.message().find("tile/0/000") != std::string::npos);
    }
    SECTION("a changed entry: only the full audit sees it") {
        auto dbi = (*store)->env().database("entries");
        auto txn = storage::transaction::begin((*store)->env(), false);
        bytes key;
        put_u64_be(key, 77);
        REQUIRE(txn->put(*dbi, key, byte_view(std::string_view("entry 78"))).ok());
        REQUIRE(txn->commit().ok());
        auto status = storage::audit_tree(**store, *(*store)->load_tree());
        REQUIRE_FALSE(status.ok());
        CHECK(status.message().find("entry 77") != std::string::npos);
    }
}

TEST_CASE("records: identities, tokens and settings round-trip and corrupt records are errors",
          "[storage]") {
    test::temp_dir dir("records");
    auto store = storage::ledger_store::open({dir.path.string()});
    REQUIRE(store.ok());
    storage::identity_record id{"town/clerk", {}};
    id.keys.push_back({test::key_for("k1").public_key_bytes(), 3, std::uint64_t{10}, false});
    id.keys.push_back({test::key_for("k2").public_key_bytes(), 10, std::nullopt, false});
    CHECK(id.key_at(2) == nullptr);
    CHECK(id.key_at(3) == &id.keys[0]);
    CHECK(id.key_at(9) == &id.keys[0]);
    CHECK(id.key_at(10) == &id.keys[1]);
    CHECK(id.current() == &id.keys[1]);

    auto decoded = storage::decode_identity(storage::encode(id));
    REQUIRE(decoded.ok());
    CHECK(decoded->name == id.name);
    REQUIRE(decoded->keys.size() == 2);
    CHECK(decoded->keys[0].valid_until == std::optional<std::uint64_t>(10));
    CHECK(decoded->keys[1].key == id.keys[1].key);

    storage::token_record tok{"clerk laptop", false, {"town/clerk"}};
    auto token_hash = sha256(byte_view(std::string_view("secret-token")));
    REQUIRE((*store)->put_token(token_hash, tok).ok());
    auto got = (*store)->token(token_hash);
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->identities == tok.identities);
    auto deleted = (*store)->delete_token(token_hash);
    REQUIRE(deleted.ok());
    CHECK(*deleted);
    auto again = (*store)->delete_token(token_hash);
    REQUIRE(again.ok());
    CHECK_FALSE(*again); // nothing there: the caller can tell a typo from a revocation
    CHECK_FALSE((*store)->token(token_hash)->has_value());

    REQUIRE((*store)->put_setting("origin", origin).ok());
    CHECK(**(*store)->setting("origin") == origin);

    auto raw = storage::encode(id);
    // Without its last byte (owner_held) it is a record as stores before that
    // field wrote it: custodial. Cut anywhere else, it is corrupt.
    auto old_format = storage::decode_identity(byte_view(raw.data(), raw.size() - 1));
    REQUIRE(old_format.ok());
    CHECK_FALSE(old_format->owner_held);
    CHECK(old_format->keys.size() == 2);
    id.owner_held = true;
    CHECK(storage::decode_identity(storage::encode(id))->owner_held);
    for (std::size_t n = 0; n + 1 < raw.size(); n += 3)
        CHECK_FALSE(storage::decode_identity(byte_view(raw.data(), n)).ok());
    raw[0] = 9; // unknown version
    CHECK_FALSE(storage::decode_identity(raw).ok());
}

TEST_CASE("ledger store: a signed checkpoint that contradicts the stored tree is caught, with "
          "evidence that checks",
          "[storage][split_view]") {
    test::temp_dir dir("contradiction");
    auto log = test::log_signer(origin);
    auto verifier = note::ed25519_verifier(origin, test::public_key_of(log.verifier_key()));
    auto store = storage::ledger_store::open({dir.path.string()});
    REQUIRE(store);
    auto tree = (*store)->load_tree();
    REQUIRE(tree);
    REQUIRE(append_batch(**store, *tree, log, make_entries(0, 300)));
    auto sign = [&](std::uint64_t size, const hash& root) {
        checkpoint cp{origin, size, root, {}};
        return note::serialize(note::note{cp.text(), {log.sign(cp.text())}});
    };
    auto real_root_at = [&](std::uint64_t n) { return *tiles::root_at(**store, 300, n); };
    auto other = sha256(byte_view(std::string("another tree")));

    // Agreeing checkpoints, or one beyond the store: nothing.
    CHECK_FALSE(storage::contradiction(**store, sign(300, real_root_at(300))));
    CHECK_FALSE(storage::contradiction(**store, sign(100, real_root_at(100))));
    CHECK_FALSE(storage::contradiction(**store, sign(301, other)));
    // Another root at the stored size: a fork.
    auto fork = storage::contradiction(**store, sign(300, other));
    REQUIRE(fork);
    auto fork_kind = check_split_view(*fork, verifier);
    REQUIRE(fork_kind);
    CHECK(*fork_kind == split_view_kind::fork);
    // Another root at a smaller size: the store's root there and the proof.
    auto prefix = storage::contradiction(**store, sign(100, other));
    REQUIRE(prefix);
    auto kind = check_split_view(*prefix, verifier);
    INFO((kind ? std::string() : kind.message()));
    REQUIRE(kind);
    CHECK(*kind == split_view_kind::inconsistent);
}

TEST_CASE("ledger store: checked reads match the trusted tree as it grows, and name damage",
          "[storage]") {
    test::temp_dir dir("checked");
    auto log = test::log_signer(origin);
    auto store = storage::ledger_store::open({dir.path.string()});
    REQUIRE(store.ok());
    auto& s = **store;
    auto tree = s.load_tree();
    REQUIRE(tree.ok());
    CHECK_FALSE(s.checked_entry(0).ok()); // nothing is trusted yet
    s.trust(*tree);
    tiles::memory_tiles reference;
    std::size_t next = 0;
    // Crosses level-0 and level-1 tile boundaries: full tiles are checked
    // against the tile above, the rightmost ones against the tree itself.
    for (std::size_t n : {3u, 300u, 65536u, 1000u}) {
        auto entries = make_entries(next, n);
        for (const auto& e : entries)
            reference.append(merkle::leaf_hash(e));
        REQUIRE(append_batch(s, *tree, log, entries).ok());
        next += n;
        REQUIRE(s.verified_size() == next);
        for (std::uint64_t i :
             {std::uint64_t{0}, std::uint64_t{next / 2}, std::uint64_t{next - 1}}) {
            auto e = s.checked_entry(i);
            REQUIRE(e.ok());
            REQUIRE(*e);
            CHECK(**e == make_entries(i, 1)[0]);
        }
        CHECK(s.checked_entry(next).ok());
        CHECK_FALSE(*s.checked_entry(next));
        auto proof = tiles::inclusion_proof(s.verified_tiles(), next / 3, next);
        REQUIRE(proof.ok());
        CHECK(*proof == *tiles::inclusion_proof(reference, next / 3, next));
    }
    auto bundle = s.checked_entry_bundle(1, 256);
    REQUIRE(bundle.ok());

    // Damage: another entry's bytes at index 300, a level-1 tile's hash changed.
    auto entries_db = s.env().database("entries");
    auto tiles_db = s.env().database("tiles");
    REQUIRE(entries_db.ok());
    REQUIRE(tiles_db.ok());
    {
        auto txn = storage::transaction::begin(s.env(), false);
        REQUIRE(txn.ok());
        bytes key;
        put_u64_be(key, 300);
        REQUIRE(txn->put(*entries_db, key, make_entries(7, 1)[0]).ok());
        REQUIRE(txn->commit().ok());
    }
    auto e = s.checked_entry(300);
    REQUIRE_FALSE(e.ok());
    CHECK(storage::is_damage(e.err()));
    CHECK(e.message().find("entry at index 300 does not match the tree") != std::string::npos);
    auto b = s.checked_entry_bundle(1, 256);
    REQUIRE_FALSE(b.ok());
    CHECK(storage::is_damage(b.err()));
    CHECK(b.message().find("index 300") != std::string::npos);
    // Found damaged, the whole entry tile is refused at once; the others are served.
    auto neighbour = s.checked_entry(299);
    REQUIRE_FALSE(neighbour.ok());
    CHECK(storage::is_damage(neighbour.err()));
    CHECK(neighbour.message().find("entries/256-512 is damaged") != std::string::npos);
    CHECK(s.checked_entry(255).ok());
    CHECK(s.checked_entry(512).ok());
    REQUIRE(s.damaged_ranges().size() == 1);
    CHECK(s.damaged_ranges()[0].name() == "entries/256-512");
    {
        // Changed under a fresh store object, so that nothing is cached yet.
        auto txn = storage::transaction::begin(s.env(), false);
        REQUIRE(txn.ok());
        bytes key{0};
        put_u64_be(key, 5);
        auto raw = txn->get(*tiles_db, key);
        REQUIRE(raw.ok());
        REQUIRE(*raw);
        auto changed = (*raw)->to_bytes();
        changed[40] ^= 1; // hash 1 of tile/0/005
        REQUIRE(txn->put(*tiles_db, key, changed).ok());
        REQUIRE(txn->commit().ok());
    }
    auto reopened = storage::ledger_store::open({dir.path.string()});
    REQUIRE(reopened.ok());
    auto loaded = (*reopened)->load_tree();
    REQUIRE(loaded.ok());
    (*reopened)->trust(*loaded);
    auto damaged = (*reopened)->checked_entry(5 * 256 + 1);
    REQUIRE_FALSE(damaged.ok());
    CHECK(storage::is_damage(damaged.err()));
    CHECK(damaged.message().find("tile/0/005") != std::string::npos);
    CHECK((*reopened)->checked_entry(6 * 256).ok());
}

namespace {

/// Flips one bit of stored tile (level, index), under the store's nose.
void flip_tile_bit(storage::ledger_store& s, std::uint8_t level, std::uint64_t index) {
    auto tiles_db = s.env().database("tiles");
    REQUIRE(tiles_db.ok());
    auto txn = storage::transaction::begin(s.env(), false);
    REQUIRE(txn.ok());
    bytes key{level};
    put_u64_be(key, index);
    auto raw = txn->get(*tiles_db, key);
    REQUIRE(raw.ok());
    REQUIRE(*raw);
    auto changed = (*raw)->to_bytes();
    changed[0] ^= 1; // hash 0
    REQUIRE(txn->put(*tiles_db, key, changed).ok());
    REQUIRE(txn->commit().ok());
}

} // namespace

TEST_CASE("ledger store: a damaged tile above level 0 is rebuilt from the tiles below it, and "
          "not when one of those is damaged too",
          "[storage]") {
    test::temp_dir dir("heal-hash-tile");
    auto log = test::log_signer(origin);
    tiles::memory_tiles reference;
    const std::size_t size = 65536 + 300; // tile/1/000 full, tile/1/001 the rightmost
    {
        auto store = storage::ledger_store::open({dir.path.string()});
        REQUIRE(store.ok());
        auto tree = (*store)->load_tree();
        REQUIRE(tree.ok());
        (*store)->trust(*tree);
        auto entries = make_entries(0, size);
        for (const auto& e : entries)
            reference.append(merkle::leaf_hash(e));
        REQUIRE(append_batch(**store, *tree, log, entries).ok());
    }
    // A fresh store object over the damaged file: nothing of it is cached.
    auto reopen = [&] {
        auto store = storage::ledger_store::open({dir.path.string()});
        REQUIRE(store.ok());
        auto tree = (*store)->load_tree();
        REQUIRE(tree.ok());
        (*store)->trust(*tree);
        return std::move(*store);
    };
    auto proof_is_right = [&](const storage::ledger_store& s, std::uint64_t index = 5) {
        auto proof = tiles::inclusion_proof(s.verified_tiles(), index, size);
        return proof.ok() && *proof == *tiles::inclusion_proof(reference, index, size);
    };
    {
        auto s = reopen();
        flip_tile_bit(*s, 1, 0);
        flip_tile_bit(*s, 1, 1);
    }
    auto s = reopen();
    CHECK_FALSE(proof_is_right(*s)); // refused, never a wrong proof
    auto found = s->scrub_entry_tile(0);
    REQUIRE_FALSE(found.ok());
    CHECK(storage::is_damage(found.err()));
    CHECK(found.message().find("tile/1/000") != std::string::npos);
    // The rightmost level-1 tile starts at entry tile 256. The trusted tree's
    // own copy of it was rebuilt at the start from the tiles below, so the
    // damaged one on disk is found, and nothing else.
    auto found_right = s->scrub_entry_tile(256);
    REQUIRE_FALSE(found_right.ok());
    CHECK(found_right.message().find("tile/1/001") != std::string::npos);
    REQUIRE(s->damaged_ranges().size() == 2);

    REQUIRE(s->heal_hash_tile(1, 0).ok()); // from the 256 tiles below it
    REQUIRE(s->heal_hash_tile(1, 1).ok()); // from the trusted tree's own hashes
    CHECK(s->damaged_ranges().empty());
    CHECK(proof_is_right(*s));
    // Healed on disk, not only in memory.
    auto again = reopen();
    CHECK(again->scrub_entry_tile(0).ok());
    CHECK(proof_is_right(*again));
    CHECK_FALSE(s->heal_hash_tile(0, 0).ok());
    CHECK_FALSE(s->heal_hash_tile(1, 2).ok()); // beyond the tree

    // With a tile below damaged as well, the rebuilt tile cannot make the tree.
    flip_tile_bit(*again, 1, 0);
    flip_tile_bit(*again, 0, 3);
    again.reset();
    s.reset();
    auto both = reopen();
    auto refused = both->heal_hash_tile(1, 0);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.message().find("do not make the verified tree") != std::string::npos);
    CHECK_FALSE(proof_is_right(*both));

    // The rightmost level-0 tile damaged: its hashes again from the entries.
    flip_tile_bit(*both, 0, size / 256);
    both.reset();
    {
        auto rightmost = reopen();
        CHECK(proof_is_right(*rightmost, size - 2));
        auto last = rightmost->checked_entry(size - 1);
        CHECK(last.ok());
        // Its entries damaged as well: nothing can stand for the tree's tail.
        auto entries_db = rightmost->env().database("entries");
        REQUIRE(entries_db.ok());
        auto txn = storage::transaction::begin(rightmost->env(), false);
        REQUIRE(txn.ok());
        bytes key;
        put_u64_be(key, size - 1);
        REQUIRE(txn->put(*entries_db, key, make_entries(7, 1)[0]).ok());
        REQUIRE(txn->commit().ok());
        auto tree = rightmost->load_tree();
        REQUIRE_FALSE(tree.ok());
        CHECK(storage::is_damage(tree.err()));
        CHECK(tree.message().find("rightmost tile/0/257.p/44") != std::string::npos);
    }
}
