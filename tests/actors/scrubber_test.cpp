// The scrubber on the deterministic scheduler, over a real LMDB store: it keeps
// its rate, finds what a disk changed under the verified tree (entries, and a
// tile the cache still holds whole), remembers it for every read, goes on, and
// heals what it can: a tile from its own entries, entries from a leader's copy.
#include "actors/scrubber.hpp"
#include "protocol/checkpoint.hpp"
#include "support.hpp"
#include "virtual_system.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

using namespace civic;
using namespace std::chrono_literals;

namespace civic_scrubber_test {

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
    std::vector<std::string> healed, not_healed;
    std::shared_ptr<actors::directory> actors = std::make_shared<actors::directory>();

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
        if (auto uplink = actors->get(actors::slots::uplink))
            caf::anon_send_exit(uplink, caf::exit_reason::user_shutdown);
        actors->clear();
        sched->run();
        scrubber = nullptr;
        shut_down();
    }
    /// 25,600 entries a second: one full entry tile every 10 ms.
    void start(std::uint64_t per_second = 25600, bool can_fetch = false) {
        actors::scrubber_config config;
        config.entries_per_second = per_second;
        config.pass_interval = 100ms;
        config.can_fetch = can_fetch;
        config.actors = actors;
        config.fetch_timeout = 50ms;
        config.heal_backoff_initial = 20ms;
        config.heal_backoff_max = 40ms;
        config.on_healed = [this](const storage::damaged_range& r, const std::string& source) {
            healed.push_back(r.name() + " from " + source);
        };
        config.on_not_healed = [this](const storage::damaged_range& r, const std::string& why) {
            not_healed.push_back(r.name() + ": " + why);
        };
        scrubber = sys->spawn(actors::scrubber, config, store);
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
    std::vector<std::vector<hash>> whole_tile;
    REQUIRE(f.store->verified_tiles().read_tiles({{0, 1, 256}}, whole_tile).ok());
    // Before the scrub reaches them nothing is known: entry 513 (tile 2) is served.
    REQUIRE(f.store->checked_entry(513).ok());
    f.start();
    f.run_for(15ms); // tiles 0 and 1
    auto s = f.status();
    REQUIRE(f.reported.size() == 1);
    CHECK(f.reported[0].find("tile/0/001: tile/0/001 does not match the tree") == 0);
    // Its entries are whole: the tile is rebuilt from them, durably, at once.
    CHECK(s.healed == 1);
    CHECK(s.damaged_ranges == 0);
    CHECK(f.healed == std::vector<std::string>{"tile/0/001 from local"});
    std::vector<std::vector<hash>> stored;
    REQUIRE(f.store->read_tiles({{0, 1, 256}}, stored).ok());
    CHECK(stored == whole_tile);
    CHECK(f.store->checked_entry(511).ok());

    f.run_for(50ms); // the whole pass
    s = f.status();
    CHECK(s.passes == 1);
    CHECK(s.entries_checked == stored_entries); // it went on past the damage
    CHECK(s.damage_found == 2);
    CHECK(s.damaged_ranges == 1);
    CHECK(s.damaged == std::vector<std::string>{"entries/512-768"});
    REQUIRE(f.reported.size() == 2);
    CHECK(f.reported[1].find("entries/512-768: entry at index 600 does not match the tree") == 0);
    // A leader has no other copy of damaged entries: it says so once, and keeps
    // refusing them.
    CHECK(f.not_healed == std::vector<std::string>{
                              "entries/512-768: this node leads: there is no copy to fetch from"});

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
    CHECK(f.store->verified_tiles().read_tiles({{0, 2, 256}}, tile).ok()); // the tile is whole
    CHECK(f.store->checked_entry(511).ok());
    CHECK(f.store->checked_entry(768).ok());

    // The next pass finds them again, and reports nothing new.
    f.run_for(100ms);
    s = f.status();
    CHECK(s.passes == 2);
    CHECK(s.entries_checked == 2 * stored_entries);
    CHECK(s.damage_found == 3);
    CHECK(f.reported.size() == 2);
    CHECK(f.not_healed.size() == 1);
    CHECK(s.healed == 1);
}

/// Stands in for a replica's uplink: answers `fetch` with what `copy` holds.
caf::behavior fake_uplink(caf::event_based_actor*, std::shared_ptr<std::vector<bytes>> copy,
                          std::shared_ptr<int> asked) {
    return {
        [copy, asked](atoms::fetch_atom, std::uint64_t first, std::uint64_t count) {
            ++*asked;
            actors::replicated_batch b;
            b.first_index = first;
            for (std::uint64_t i = first; i < first + count; ++i)
                b.entries.push_back((*copy)[i]);
            return b;
        },
    };
}

TEST_CASE("scrubber: a replica heals damaged entries from its leader's copy, only with entries "
          "that make its own tree, retrying with backoff",
          "[actors][scrubber]") {
    fixture f;
    overwrite(*f.store, "entries", entry_key(1050), entry_bytes(3)); // the partial tile 4
    auto copy = std::make_shared<std::vector<bytes>>();
    for (std::uint64_t i = 0; i < stored_entries; ++i)
        copy->push_back(entry_bytes(i));
    (*copy)[1051] = entry_bytes(9); // the leader's copy is wrong too, at first
    auto asked = std::make_shared<int>(0);
    f.actors->set("uplink", f.sys->spawn(fake_uplink, copy, asked));
    f.start(25600, true);
    f.run_for(45ms); // the pass reaches tile 4 at 40 ms
    auto s = f.status();
    CHECK(s.damaged == std::vector<std::string>{"entries/1024-1280"});
    CHECK(*asked == 1);
    REQUIRE(f.not_healed.size() == 1);
    CHECK(f.not_healed[0].find("do not make the verified tree") != std::string::npos);
    CHECK(storage::is_damage(f.store->checked_entry(1030).err()));
    CHECK(**f.store->entry(1051) == entry_bytes(1051)); // nothing written from a bad copy

    // The next try, one backoff later, gets a good copy.
    (*copy)[1051] = entry_bytes(1051);
    f.run_for(60ms);
    s = f.status();
    CHECK(*asked == 2);
    CHECK(s.damaged_ranges == 0);
    CHECK(s.healed == 1);
    CHECK(f.healed == std::vector<std::string>{"entries/1024-1280 from leader"});
    CHECK(f.not_healed.size() == 1); // reported once
    for (std::uint64_t i : {1024u, 1050u, 1099u}) {
        auto e = f.store->checked_entry(i);
        REQUIRE(e.ok());
        CHECK(**e == entry_bytes(i));
    }
    auto tree = f.store->load_tree();
    REQUIRE(tree.ok());
    CHECK(storage::audit_tree(*f.store, *tree).ok());
}

} // namespace civic_scrubber_test
