// The scrubber on the deterministic scheduler, over a real LMDB store: it keeps
// its rate, finds what a disk changed under the verified tree (entries, and a
// tile the cache still holds whole), remembers it for every read, and goes on.
#include "actors/scrubber.hpp"
#include "protocol/checkpoint.hpp"
#include "support.hpp"
#include "virtual_system.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

using namespace civic;
using namespace std::chrono_literals;

namespace {

const std::string origin = "scrubber.test/log";
constexpr std::uint64_t stored_entries = 4 * 256 + 100; // four full entry tiles and a partial one

bytes entry_bytes(std::uint64_t i) {
    auto s = "scrubbed entry " + std::to_string(i);
    return bytes(s.begin(), s.end());
}

/// Overwrites one record of the store, as a disk would.
void overwrite(storage::ledger_store& store, const char* database, const bytes& key,
               const bytes& value) {
    auto db = store.env().database(database);
    REQUIRE(db.ok());
    auto txn = storage::transaction::begin(store.env(), false);
    REQUIRE(txn.ok());
    REQUIRE(txn->put(*db, key, value).ok());
    REQUIRE(txn->commit().ok());
}

bytes entry_key(std::uint64_t index) {
    bytes key;
    put_u64_be(key, index);
    return key;
}

struct fixture : test::virtual_system {
    test::temp_dir dir{"scrubber"};
    std::shared_ptr<storage::ledger_store> store;
    actors::scrubber_actor scrubber;
    std::vector<std::string> reported; // what the store's damage observer heard

    fixture() {
        boot();
        store = std::shared_ptr<storage::ledger_store>(
            std::move(*storage::ledger_store::open({dir.path.string()})));
        auto tree = store->load_tree();
        REQUIRE(tree.ok());
        store->trust(*tree);
        auto log = test::log_signer(origin);
        storage::batch b;
        for (std::uint64_t i = 0; i < stored_entries; ++i) {
            b.entries.push_back(entry_bytes(i));
            tree->append(merkle::leaf_hash(b.entries.back()));
        }
        b.tiles = tree->take_changed_tiles();
        b.range = tree->range().hashes();
        checkpoint cp{origin, tree->size(), tree->root(), {}};
        b.checkpoint = note::serialize(note::note{cp.text(), {log.sign(cp.text())}});
        REQUIRE(store->commit(b).ok());
        REQUIRE(store->verified_size() == stored_entries);
        store->on_damage([this](const storage::damaged_range& r, const std::string& what) {
            reported.push_back(r.name() + ": " + what);
        });
    }
    ~fixture() {
        if (scrubber) caf::anon_send_exit(scrubber, caf::exit_reason::user_shutdown);
        sched->run();
        scrubber = nullptr;
        shut_down();
    }
    /// 25,600 entries a second: one full entry tile every 10 ms.
    void start(std::uint64_t per_second = 25600) {
        actors::scrubber_config config;
        config.entries_per_second = per_second;
        config.pass_interval = 100ms;
        scrubber = sys->spawn(actors::scrubber, config,
                              std::shared_ptr<const storage::ledger_store>(store));
        sched->run();
    }
    actors::scrub_status status() {
        actors::scrub_status out;
        bool answered = false;
        sys->spawn([&](caf::event_based_actor* self) {
            self->request(scrubber, 10s, atoms::status_atom_v)
                .then([&](const actors::scrub_status& s) {
                    out = s;
                    answered = true;
                });
        });
        sched->run();
        REQUIRE(answered);
        return out;
    }
};

} // namespace

TEST_CASE("scrubber: one entry tile per step, at most its rate, and a pass per interval",
          "[actors][scrubber]") {
    CHECK(actors::scrub_pause(256, 25600) == 10ms);
    CHECK(actors::scrub_pause(1, 3) == 333334us); // rounded up: never faster than the bound
    fixture f;
    f.start();
    // Steps at 0, 10, 20 and 30 ms: four tiles.
    f.run_for(35ms);
    auto s = f.status();
    CHECK(s.entries_per_second == 25600);
    CHECK(s.entries_checked == 4 * 256);
    CHECK(s.position == 4 * 256);
    CHECK(s.passes == 0);
    // The partial tile at 40 ms ends the pass; the next starts at 100 ms.
    f.run_for(55ms);
    s = f.status();
    CHECK(s.passes == 1);
    CHECK(s.entries_checked == stored_entries);
    CHECK(s.last_pass_ms >= 40);
    CHECK(s.last_pass_ms <= 50);
    CHECK(s.position == 0);
    f.run_for(100ms); // 190 ms: the second pass is done
    s = f.status();
    CHECK(s.passes == 2);
    CHECK(s.entries_checked == 2 * stored_entries);
    CHECK(s.damaged_ranges == 0);
    CHECK(s.damage_found == 0);
    CHECK(f.reported.empty());

    // A rate of 0: no scrub at all.
    fixture off;
    off.start(0);
    off.run_for(50ms);
    CHECK(off.status().entries_checked == 0);
}

TEST_CASE("scrubber: finds a changed entry and a changed tile, remembers them for every read, "
          "and keeps going",
          "[actors][scrubber]") {
    fixture f;
    // Tile 1 is read (and so cached, checked) before the disk changes it: the
    // scrub reads the disk, not the cache.
    REQUIRE(f.store->checked_entry(300).ok());
    overwrite(*f.store, "entries", entry_key(600), entry_bytes(7)); // entry tile 2
    {
        std::vector<std::vector<hash>> content;
        REQUIRE(f.store->read_tiles({{0, 1, 256}}, content).ok());
        content[0][3][0] ^= 1;
        bytes raw;
        for (const auto& h : content[0])
            raw.insert(raw.end(), h.begin(), h.end());
        bytes key{0};
        put_u64_be(key, 1);
        overwrite(*f.store, "tiles", key, raw);
    }
    // Before the scrub reaches them nothing is known: entry 513 (tile 2) is served.
    REQUIRE(f.store->checked_entry(513).ok());
    f.start();
    f.run_for(15ms); // tiles 0 and 1
    auto s = f.status();
    CHECK(s.damaged_ranges == 1);
    REQUIRE(s.damaged.size() == 1);
    CHECK(s.damaged[0] == "tile/0/001");
    f.run_for(50ms); // the whole pass
    s = f.status();
    CHECK(s.passes == 1);
    CHECK(s.entries_checked == stored_entries); // it went on past the damage
    CHECK(s.damage_found == 2);
    CHECK(s.damaged_ranges == 2);
    CHECK(s.damaged == std::vector<std::string>{"tile/0/001", "entries/512-768"});
    REQUIRE(f.reported.size() == 2);
    CHECK(f.reported[0].find("tile/0/001: tile/0/001 does not match the tree") == 0);
    CHECK(f.reported[1].find("entries/512-768: entry at index 600 does not match the tree") == 0);

    // Every read of a damaged range fails at once as damage, intact ones do not.
    for (std::uint64_t i : {512u, 513u, 600u, 767u}) {
        auto e = f.store->checked_entry(i);
        REQUIRE_FALSE(e.ok());
        CHECK(storage::is_damage(e.err()));
        CHECK(e.message().find("entries/512-768 is damaged") != std::string::npos);
    }
    auto bundle = f.store->checked_entry_bundle(2, 256);
    REQUIRE_FALSE(bundle.ok());
    CHECK(storage::is_damage(bundle.err()));
    std::vector<std::vector<hash>> tile;
    auto tile_read = f.store->verified_tiles().read_tiles({{0, 1, 256}}, tile);
    REQUIRE_FALSE(tile_read.ok());
    CHECK(storage::is_damage(tile_read.err()));
    // Tile 1's entries are whole, but are checked through the damaged tile.
    CHECK(storage::is_damage(f.store->checked_entry(511).err()));
    CHECK(f.store->checked_entry(255).ok());
    CHECK(f.store->checked_entry(768).ok());

    // The next pass finds them again, and reports nothing new.
    f.run_for(100ms);
    s = f.status();
    CHECK(s.passes == 2);
    CHECK(s.entries_checked == 2 * stored_entries);
    CHECK(s.damage_found == 4);
    CHECK(f.reported.size() == 2);
}
