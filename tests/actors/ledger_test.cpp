// The ledger, committer and signer actors on the deterministic scheduler, with a
// real LMDB store in a temporary directory.
// One file over 600 lines on purpose: the cases share one fixture (the three
// actors over one store, driven on one coordinator).
#include "actors/bridge.hpp"
#include "actors/committer.hpp"
#include "actors/errors.hpp"
#include "actors/ledger.hpp"
#include "actors/signer.hpp"
#include "actors/system.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "store_fixture.hpp"
#include "support.hpp"
#include "virtual_system.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <catch2/catch.hpp>

#include <cerrno>
#include <filesystem>
#include <map>
#include <unistd.h>

using namespace civic;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace civic_ledger_test {

const std::string origin = "ledger.test/log";

struct outcome {
    bool done = false;
    std::optional<actors::append_receipt> receipt;
    caf::error error;
};

/// Sends one request that answers an append_receipt from a fresh actor; the
/// outcome fills in as the scheduler runs.
template <class Handle, class... Ts>
std::shared_ptr<outcome> ask(caf::actor_system& sys, const Handle& target, Ts... xs) {
    auto out = std::make_shared<outcome>();
    sys.spawn([out, target, xs...](caf::event_based_actor* self) {
        self->request(target, 10s, xs...)
            .then(
                [out](const actors::append_receipt& r) {
                    out->receipt = r;
                    out->done = true;
                },
                [out](caf::error& err) {
                    out->error = err;
                    out->done = true;
                });
    });
    return out;
}

struct fixture : test::store_system {
    std::shared_ptr<const note::ed25519_signer> log_key =
        std::make_shared<const note::ed25519_signer>(origin, test::key_for("ledger-log"));
    actors::ledger_actor ledger;

    explicit fixture(const std::string& tag) : store_system("ledger-" + tag) { start(); }
    ~fixture() { stop(); }
    void start(actors::ledger_config config = {}) {
        open_store();
        config.origin = origin;
        ledger = sys->spawn(actors::ledger, config, store, log_key, committer);
        sched->run();
    }
    void stop() { close_store(ledger); }
    void restart(actors::ledger_config config = {}) {
        stop();
        start(config);
    }
    /// Sends an append from a fresh client actor; the outcome fills in as the scheduler runs.
    /// `local`: as this node's own signer would (signed_locally).
    std::shared_ptr<outcome> append(const entry& e, bool local = false) {
        if (local)
            return ask(*sys, ledger, atoms::append_atom_v, actors::signed_locally{e.encode()});
        return ask(*sys, ledger, atoms::append_atom_v, e.encode());
    }
    void run() {
        sched->run();
        // Commit replies and timeouts: advance virtual time until nothing is pending.
        for (int i = 0; i < 5 && sched->has_pending_timeout(); ++i) {
            sched->trigger_timeouts();
            sched->run();
        }
    }
    actors::ledger_status status() {
        actors::ledger_status s;
        sys->spawn([&s, target = ledger](caf::event_based_actor* self) {
            self->request(target, 10s, atoms::status_atom_v)
                .then([&s](const actors::ledger_status& x) { s = x; });
        });
        sched->run();
        return s;
    }
};

entry make_entry(entry_kind kind, const std::string& identity, const ed25519::secret_key& key,
                 std::int64_t n = 0,
                 std::optional<ed25519::public_key> payload_key = std::nullopt) {
    entry e;
    e.kind = kind;
    e.timestamp_ms = static_cast<std::uint64_t>(1795000000000 + n);
    e.identity = identity;
    e.public_key = key.public_key_bytes();
    if (kind == entry_kind::statement)
        e.content_hash = sha256(byte_view("document " + std::to_string(n)));
    if (payload_key) e.payload.assign(payload_key->begin(), payload_key->end());
    e.sign(key);
    return e;
}

void check_receipt(const outcome& o, const entry& e, const note::ed25519_signer& log) {
    REQUIRE(o.done);
    INFO(actors::message_of(o.error));
    REQUIRE(o.receipt.has_value());
    auto cp = parse_signed_checkpoint(o.receipt->checkpoint);
    REQUIRE(cp.ok());
    auto v = note::make_verifier(log.verifier_key());
    REQUIRE(note::open(cp->signed_note, {v->get()}).ok());
    auto proof = actors::inclusion_hashes(*o.receipt);
    CHECK(merkle::verify_inclusion(o.receipt->index, cp->body.size, merkle::leaf_hash(e.encode()),
                                   proof, cp->body.root)
              .ok());
}

TEST_CASE("ledger: entries are acknowledged durable and in order with proofs, and arrivals during "
          "a commit share a batch",
          "[actors][ledger]") {
    fixture f("batching");
    auto clerk = test::key_for("clerk");
    auto reg = make_entry(entry_kind::identity_registration, "town/clerk", clerk);
    auto first = f.append(reg);
    f.sched->run_once(); // the client sends
    // 50 statements arrive before anything else runs: the first batch holds the registration only.
    std::vector<entry> statements;
    std::vector<std::shared_ptr<outcome>> outcomes;
    for (int i = 0; i < 50; ++i) {
        statements.push_back(make_entry(entry_kind::statement, "town/clerk", clerk, i));
        outcomes.push_back(f.append(statements.back()));
    }
    f.run();
    check_receipt(*first, reg, *f.log_key);
    CHECK(first->receipt->index == 0);
    for (int i = 0; i < 50; ++i) {
        check_receipt(*outcomes[i], statements[i], *f.log_key);
        CHECK(outcomes[i]->receipt->index == static_cast<std::uint64_t>(i + 1));
    }
    auto s = f.status();
    CHECK(s.committed_size == 51);
    CHECK(s.pending == 0);
    CHECK(s.batches <= 3); // not one commit per entry
    CHECK(s.batches >= 2);
    // Durable: the store holds every entry, and the latest checkpoint covers them.
    CHECK(f.store->stored_size() == 51);
    auto latest = parse_signed_checkpoint(**f.store->latest_checkpoint());
    REQUIRE(latest.ok());
    CHECK(latest->body.size == 51);
}

TEST_CASE("ledger: an idle ledger lingers for more entries, bounded by the linger time and the "
          "batch size",
          "[actors][ledger]") {
    fixture f("linger");
    actors::ledger_config config;
    config.batch_linger = 20ms;
    config.max_batch_entries = 8;
    f.restart(config);
    auto clerk = test::key_for("clerk");
    auto reg = f.append(make_entry(entry_kind::identity_registration, "town/clerk", clerk));
    std::vector<std::shared_ptr<outcome>> outcomes;
    for (int i = 0; i < 3; ++i)
        outcomes.push_back(f.append(make_entry(entry_kind::statement, "town/clerk", clerk, i)));
    f.sched->run();
    // Nothing commits before the linger time passes on the (virtual) clock.
    CHECK_FALSE(reg->done);
    CHECK(f.status().batches == 0);
    CHECK(f.sched->has_pending_timeout());
    // Only the linger timer may fire (trigger_timeouts would also expire the clients' requests).
    f.sched->advance_time(19ms);
    f.sched->run();
    CHECK(f.status().batches == 0);
    f.sched->advance_time(1ms);
    f.sched->run();
    REQUIRE(reg->receipt.has_value());
    for (auto& o : outcomes)
        CHECK(o->receipt.has_value());
    auto s = f.status();
    CHECK(s.batches == 1);
    CHECK(s.last_batch_size == 4);

    // A full batch does not wait for the timer.
    for (int i = 0; i < 8; ++i)
        outcomes.push_back(
            f.append(make_entry(entry_kind::statement, "town/clerk", clerk, 10 + i)));
    f.sched->run();
    s = f.status();
    CHECK(s.batches == 2);
    CHECK(s.last_batch_size == 8);
    f.sched->advance_time(20ms);
    f.sched->run();
    for (auto& o : outcomes)
        CHECK(o->receipt.has_value());
}

TEST_CASE("ledger: the identity registry decides which entries are admitted", "[actors][ledger]") {
    fixture f("registry");
    auto k1 = test::key_for("k1"), k2 = test::key_for("k2"), stranger = test::key_for("stranger");
    auto ok = [&](const entry& e) {
        auto o = f.append(e);
        f.run();
        REQUIRE(o->done);
        INFO(actors::message_of(o->error));
        CHECK(o->receipt.has_value());
        return o;
    };
    auto refused = [&](const entry& e, actors::errc code) {
        auto o = f.append(e);
        f.run();
        REQUIRE(o->done);
        CHECK_FALSE(o->receipt.has_value());
        CHECK(actors::code_of(o->error) == static_cast<std::uint8_t>(code));
    };
    refused(make_entry(entry_kind::statement, "alice", k1), actors::errc::unknown_identity);
    ok(make_entry(entry_kind::identity_registration, "alice", k1));
    refused(make_entry(entry_kind::identity_registration, "alice", k2),
            actors::errc::identity_exists);
    ok(make_entry(entry_kind::statement, "alice", k1, 1));
    refused(make_entry(entry_kind::statement, "alice", stranger, 2), actors::errc::key_mismatch);
    // Rotation to k2: k1 no longer signs for alice.
    refused(make_entry(entry_kind::key_rotation, "alice", stranger, 3, k2.public_key_bytes()),
            actors::errc::key_mismatch);
    ok(make_entry(entry_kind::key_rotation, "alice", k1, 3, k2.public_key_bytes()));
    refused(make_entry(entry_kind::statement, "alice", k1, 4), actors::errc::key_mismatch);
    ok(make_entry(entry_kind::statement, "alice", k2, 5));
    refused(make_entry(entry_kind::key_rotation, "alice", k2, 6, k1.public_key_bytes()),
            actors::errc::invalid_entry);
    // Revocation of the current key: nothing signs for alice any more.
    ok(make_entry(entry_kind::key_revocation, "alice", k2, 7, k2.public_key_bytes()));
    refused(make_entry(entry_kind::statement, "alice", k2, 8), actors::errc::key_mismatch);
    // A tampered entry is refused before anything else.
    auto bad = make_entry(entry_kind::statement, "alice", k2, 9);
    bad.timestamp_ms += 1;
    refused(bad, actors::errc::invalid_entry);
    // Entries from this node's own signer skip the signature check, not the registry.
    auto local = f.append(make_entry(entry_kind::statement, "alice", k2, 10), true);
    f.run();
    REQUIRE(local->done);
    CHECK(actors::code_of(local->error) == static_cast<std::uint8_t>(actors::errc::key_mismatch));
    auto local_ok = f.append(make_entry(entry_kind::identity_registration, "alice2", k1), true);
    f.run();
    CHECK(local_ok->receipt.has_value());

    auto rec = f.store->identity("alice");
    REQUIRE(rec.ok());
    REQUIRE(rec->has_value());
    REQUIRE((*rec)->keys.size() == 2);
    CHECK((*rec)->keys[0].valid_until == std::optional<std::uint64_t>(2));
    CHECK((*rec)->keys[1].revoked);
    CHECK((*rec)->current() == nullptr);
}

TEST_CASE("ledger: entries signed elsewhere carry a time near the ledger's, owner-held "
          "registrations are remembered, and each identity's entries are indexed",
          "[actors][ledger]") {
    fixture f("skew");
    actors::ledger_config config;
    config.max_timestamp_skew = std::chrono::minutes(10);
    // Unix time 1795000000000 ms (make_entry's n = 0) is "now" on the ledger's clock.
    auto clock_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        f.sched->clock().now().time_since_epoch());
    config.unix_offset = std::chrono::milliseconds(1795000000000) - clock_ms;
    f.restart(config);
    auto owner = test::key_for("owner");
    auto appended = [&](const entry& e, bool local = false) {
        auto o = f.append(e, local);
        f.run();
        REQUIRE(o->done);
        INFO(actors::message_of(o->error));
        return o->receipt.has_value();
    };
    auto registration = make_entry(entry_kind::identity_registration, "clerk", owner);
    registration.payload.assign(owner_held_marker.begin(), owner_held_marker.end());
    registration.sign(owner);
    CHECK(appended(registration));
    constexpr std::int64_t minute = 60 * 1000;
    // A statement stamped `off` from the ledger's clock now (waits for commits move it).
    auto stamped = [&](std::int64_t off) {
        auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
            f.sched->clock().now().time_since_epoch());
        return make_entry(entry_kind::statement, "clerk", owner, (now - clock_ms).count() + off);
    };
    CHECK(appended(stamped(9 * minute)));
    CHECK(appended(stamped(-9 * minute)));
    CHECK_FALSE(appended(stamped(11 * minute)));
    CHECK_FALSE(appended(stamped(-11 * minute)));
    // This node's own signer stamps with the ledger's clock: not checked again.
    CHECK(appended(stamped(60 * minute), true));
    CHECK(appended(make_entry(entry_kind::identity_registration, "mayor", owner, 1)));

    auto rec = f.store->identity("clerk");
    REQUIRE(rec.ok());
    REQUIRE(rec->has_value());
    CHECK((*rec)->owner_held);
    CHECK_FALSE((*f.store->identity("mayor"))->owner_held);
    CHECK(f.store->identity_entries("clerk", std::nullopt, 10).value() ==
          std::vector<std::uint64_t>{0, 1, 2, 3});
    CHECK(f.store->identity_entries("clerk", 1, 2).value() == std::vector<std::uint64_t>{2, 3});
    CHECK(f.store->identity_entries("mayor", std::nullopt, 10).value() ==
          std::vector<std::uint64_t>{4});
    CHECK(f.store->identity_entries("clerk/x", std::nullopt, 10).value().empty());
    CHECK(f.store->identity_entries("cler", std::nullopt, 10).value().empty());
}

TEST_CASE("ledger: a restart continues from the store and old receipts stay provable",
          "[actors][ledger]") {
    fixture f("restart");
    auto k = test::key_for("k");
    auto reg = f.append(make_entry(entry_kind::identity_registration, "bob", k));
    f.run();
    REQUIRE(reg->receipt.has_value());
    std::vector<entry> before;
    for (int i = 0; i < 300; ++i)
        before.push_back(make_entry(entry_kind::statement, "bob", k, i));
    for (const auto& e : before)
        f.append(e);
    f.run();

    f.restart();
    CHECK(f.status().committed_size == 301);
    // The registry survived too: bob can still sign, strangers still cannot.
    auto after = make_entry(entry_kind::statement, "bob", k, 1000);
    auto o = f.append(after);
    f.run();
    check_receipt(*o, after, *f.log_key);
    CHECK(o->receipt->index == 301);
    auto cp = parse_signed_checkpoint(o->receipt->checkpoint);
    // An entry from before the restart is in today's tree.
    auto proof = tiles::inclusion_proof(*f.store, 17, cp->body.size);
    REQUIRE(proof.ok());
    CHECK(merkle::verify_inclusion(17, cp->body.size, merkle::leaf_hash(before[16].encode()),
                                   *proof, cp->body.root)
              .ok());
}

TEST_CASE(
    "ledger: a full queue is refused, and a failing commit fails the batch and stops the ledger",
    "[actors][ledger]") {
    fixture f("failures");
    auto k = test::key_for("k");
    actors::ledger_config small;
    small.max_pending = 3;
    f.restart(small);
    auto reg = f.append(make_entry(entry_kind::identity_registration, "carol", k));
    f.sched->run_once();
    std::vector<std::shared_ptr<outcome>> outs;
    for (int i = 0; i < 6; ++i)
        outs.push_back(f.append(make_entry(entry_kind::statement, "carol", k, i)));
    // Deliver only the client sends and the ledger's handling, not the commit: the
    // committer's reply is what frees the queue.
    f.run();
    std::size_t overloaded = 0;
    for (auto& o : outs)
        if (!o->receipt &&
            actors::code_of(o->error) == static_cast<std::uint8_t>(actors::errc::overloaded))
            ++overloaded;
    CHECK(overloaded > 0);
    CHECK(overloaded < 6);

    // A committer that fails: every waiting append gets the error, and the ledger stops.
    auto failing = f.sys->spawn([](caf::event_based_actor*) -> caf::behavior {
        return {
            [](atoms::commit_atom, const actors::batch_ptr&) -> caf::result<atoms::commit_atom> {
                return actors::make_error(actors::errc::storage_failure, "disk on fire");
            }};
    });
    actors::ledger_config config;
    config.origin = origin;
    auto doomed = f.sys->spawn(actors::ledger, config, f.store, f.log_key,
                               caf::actor_cast<actors::committer_actor>(failing));
    f.sched->run();
    auto old = f.ledger;
    f.ledger = doomed;
    auto lost = f.append(make_entry(entry_kind::statement, "carol", k, 99));
    f.run();
    REQUIRE(lost->done);
    CHECK_FALSE(lost->receipt.has_value());
    CHECK(actors::message_of(lost->error).find("disk on fire") != std::string::npos);
    auto after = f.append(make_entry(entry_kind::statement, "carol", k, 100));
    f.run();
    CHECK_FALSE(after->receipt.has_value()); // the ledger is gone
    f.ledger = old;
    caf::anon_send_exit(failing, caf::exit_reason::user_shutdown);
}

TEST_CASE("ledger: a commit that finds the disk full refuses its batch and makes the ledger "
          "read-only, without a restart: reads go on, and writes resume once a probe writes",
          "[actors][ledger][no-space]") {
    fixture f("no-space");
    std::vector<std::string> changes; // what the ledger reported: a reason, or "" (writable)
    std::map<std::string, int> failures;
    actors::ledger_config config;
    config.read_only.retry = 1000ms;
    config.read_only.retry_max = 4000ms;
    config.read_only.on_change = [&](const std::string& why) { changes.push_back(why); };
    config.read_only.on_commit_failed = [&](const char* why) { ++failures[why]; };
    f.restart(config);
    REQUIRE(changes == std::vector<std::string>{""}); // writable at its start

    auto clerk = test::key_for("clerk");
    std::vector<entry> acknowledged{make_entry(entry_kind::identity_registration, "clerk", clerk)};
    for (int i = 0; i < 10; ++i)
        acknowledged.push_back(make_entry(entry_kind::statement, "clerk", clerk, i));
    std::vector<std::shared_ptr<outcome>> before;
    for (const auto& e : acknowledged)
        before.push_back(f.append(e, true));
    f.run();
    for (std::size_t i = 0; i < acknowledged.size(); ++i)
        check_receipt(*before[i], acknowledged[i], *f.log_key);
    auto published = **f.store->latest_checkpoint();

    // The disk fills. The batch in flight (a registration and a statement by the new
    // identity among its entries) is refused with no_space, and so is what waits behind it.
    f.store->test_fail_writes = ENOSPC;
    auto newcomer = test::key_for("newcomer");
    std::vector<std::shared_ptr<outcome>> refused{
        f.append(make_entry(entry_kind::statement, "clerk", clerk, 100)),
        f.append(make_entry(entry_kind::identity_registration, "newcomer", newcomer)),
        f.append(make_entry(entry_kind::statement, "newcomer", newcomer, 101))};
    f.sched->run(); // no timers: only the commit and its failure
    for (auto& o : refused) {
        REQUIRE(o->done);
        CHECK_FALSE(o->receipt.has_value());
        CHECK(actors::code_of(o->error) == static_cast<std::uint8_t>(actors::errc::no_space));
        CHECK_THAT(
            actors::message_of(o->error),
            Catch::Contains("no space left on the device of " + f.dir.path.string() + "/data.mdb"));
    }
    CHECK(failures == std::map<std::string, int>{{"no_space", 1}});
    REQUIRE(changes.size() == 2);
    CHECK_THAT(changes[1], Catch::Contains("No space left on device"));

    // Still running (no restart), read-only, its tree the durable one: the refused
    // entries took no index.
    auto s = f.status();
    CHECK(s.read_only_reason == changes[1]);
    CHECK(s.committed_size == acknowledged.size());
    CHECK(s.size == acknowledged.size());
    CHECK(s.pending == 0);
    // Writes are refused at once, without a commit; reads go on.
    auto at_once = f.append(make_entry(entry_kind::statement, "clerk", clerk, 102));
    f.sched->run();
    REQUIRE(at_once->done);
    CHECK(actors::code_of(at_once->error) == static_cast<std::uint8_t>(actors::errc::no_space));
    CHECK(failures["no_space"] == 1);
    std::string checkpoint_now;
    f.sys->spawn([&checkpoint_now, target = f.ledger](caf::event_based_actor* self) {
        self->request(target, 10s, atoms::checkpt_atom_v).then([&](const std::string& text) {
            checkpoint_now = text;
        });
    });
    f.sched->run();
    CHECK(checkpoint_now == published);
    CHECK(f.store->stored_size() == acknowledged.size());

    // It probes the store on its own clock: after 1 s, then 2 s later, then 4 s (the
    // maximum), each probe that finds no room counted, the change reported once.
    f.run_for(999ms);
    CHECK(failures["no_space"] == 1);
    f.run_for(1ms);
    CHECK(failures["no_space"] == 2);
    f.run_for(1999ms);
    CHECK(failures["no_space"] == 2);
    f.run_for(1ms);
    CHECK(failures["no_space"] == 3);
    CHECK(changes.size() == 2);

    // Room again: the next probe (4 s later) goes through and writes resume by themselves.
    f.store->test_fail_writes = 0;
    f.run_for(3999ms);
    CHECK(changes.size() == 2);
    f.run_for(1ms);
    REQUIRE(changes.size() == 3);
    CHECK(changes[2].empty());
    CHECK(f.status().read_only_reason.empty());
    CHECK(failures == std::map<std::string, int>{{"no_space", 3}});

    // The registration never committed, so the newcomer is unknown, until registered again.
    auto unknown = f.append(make_entry(entry_kind::statement, "newcomer", newcomer, 103));
    f.run();
    REQUIRE(unknown->done);
    CHECK_FALSE(unknown->receipt.has_value());
    auto after = make_entry(entry_kind::statement, "clerk", clerk, 104);
    auto resumed = f.append(after, true);
    auto again = make_entry(entry_kind::identity_registration, "newcomer", newcomer);
    auto registered = f.append(again, true);
    f.run();
    check_receipt(*resumed, after, *f.log_key);
    CHECK(resumed->receipt->index == acknowledged.size()); // right after the acknowledged ones
    check_receipt(*registered, again, *f.log_key);

    // Every entry acknowledged before the disk filled is still at its index, provable in
    // today's tree; the store's tree is the one the ledger signed; a restart agrees.
    auto cp = parse_signed_checkpoint(registered->receipt->checkpoint);
    REQUIRE(cp.ok());
    for (std::size_t i = 0; i < acknowledged.size(); ++i) {
        CHECK(**f.store->entry(i) == acknowledged[i].encode());
        auto proof = tiles::inclusion_proof(*f.store, i, cp->body.size);
        REQUIRE(proof.ok());
        CHECK(merkle::verify_inclusion(i, cp->body.size,
                                       merkle::leaf_hash(acknowledged[i].encode()), *proof,
                                       cp->body.root)
                  .ok());
    }
    auto stored = f.store->load_tree();
    REQUIRE(stored.ok());
    CHECK(stored->root() == cp->body.root);
    f.restart();
    CHECK(f.status().committed_size == acknowledged.size() + 2);
}

TEST_CASE("ledger: a quota or a full LMDB map is no room either, and says which, and another "
          "write error stops the ledger as before",
          "[actors][ledger][no-space]") {
    fixture f("no-space-kinds");
    auto k = test::key_for("k");
    auto reg = f.append(make_entry(entry_kind::identity_registration, "erin", k));
    f.run();
    REQUIRE(reg->receipt.has_value());
    struct kind {
        int code;
        std::string label, says;
    };
    for (const auto& [code, label, says] :
         {kind{EDQUOT, "quota", "disk quota exceeded for"},
          kind{MDB_MAP_FULL, "map_full", "the LMDB map is full in"}}) {
        INFO(label);
        std::map<std::string, int> failures;
        actors::ledger_config config;
        config.read_only.on_commit_failed = [&](const char* why) { ++failures[why]; };
        f.store->test_fail_writes = 0;
        f.restart(config);
        f.store->test_fail_writes = code;
        auto o = f.append(make_entry(entry_kind::statement, "erin", k, code));
        f.sched->run();
        REQUIRE(o->done);
        CHECK(actors::code_of(o->error) == static_cast<std::uint8_t>(actors::errc::no_space));
        CHECK_THAT(actors::message_of(o->error), Catch::Contains(says));
        CHECK(failures == std::map<std::string, int>{{label, 1}});
        CHECK(f.status().read_only_reason.find(says) != std::string::npos);
    }
    // EIO on a file system with room is a failing disk, not a full one: the ledger stops.
    std::map<std::string, int> failures;
    actors::ledger_config config;
    config.read_only.on_commit_failed = [&](const char* why) { ++failures[why]; };
    f.store->test_fail_writes = 0;
    f.restart(config);
    f.store->test_fail_writes = EIO;
    auto lost = f.append(make_entry(entry_kind::statement, "erin", k, 1));
    f.sched->run();
    REQUIRE(lost->done);
    CHECK(actors::code_of(lost->error) == static_cast<std::uint8_t>(actors::errc::storage_failure));
    CHECK(failures == std::map<std::string, int>{{"other", 1}});
    auto gone = f.append(make_entry(entry_kind::statement, "erin", k, 2));
    f.sched->run();
    REQUIRE(gone->done);
    CHECK_FALSE(gone->receipt.has_value()); // the ledger stopped, for its supervisor to restart
    f.store->test_fail_writes = 0;
}

TEST_CASE("ledger: refuses to start on a store that disagrees with its checkpoint",
          "[actors][ledger]") {
    fixture f("refuse");
    auto k = test::key_for("k");
    f.append(make_entry(entry_kind::identity_registration, "dan", k));
    f.run();
    f.stop();
    // Another log key: the stored checkpoint is not ours.
    f.log_key = std::make_shared<const note::ed25519_signer>(origin, test::key_for("impostor"));
    f.start();
    auto o = f.append(make_entry(entry_kind::statement, "dan", k, 1));
    f.run();
    REQUIRE(o->done);
    CHECK_FALSE(o->receipt.has_value());
}

actors::sign_request statement(const std::string& identity, const std::string& text) {
    auto content = sha256(byte_view(text));
    return {identity, bytes(content.begin(), content.end()), {}};
}

std::uint8_t code(const std::shared_ptr<outcome>& o) { return actors::code_of(o->error); }
std::uint8_t code(actors::errc e) { return static_cast<std::uint8_t>(e); }

TEST_CASE("signer: registers, signs, rotates and revokes through the ledger", "[actors][signer]") {
    fixture f("signer");
    auto signer = f.sys->spawn(actors::signer, actors::key_ring{},
                               actors::signer_config{std::chrono::milliseconds(1795000000000), 10s},
                               f.ledger);
    auto first = std::make_shared<const ed25519::secret_key>(test::key_for("erin"));
    auto second = std::make_shared<const ed25519::secret_key>(test::key_for("erin-2"));

    auto registered =
        ask(*f.sys, signer, atoms::add_atom_v, actors::new_identity_key{"erin", first});
    f.run();
    REQUIRE(registered->receipt.has_value());
    auto again = ask(*f.sys, signer, atoms::add_atom_v, actors::new_identity_key{"erin", second});
    auto nobody = ask(*f.sys, signer, atoms::sign_atom_v, statement("nobody", "x"));
    auto before = ask(*f.sys, signer, atoms::sign_atom_v, statement("erin", "the minutes"));
    f.run();
    CHECK(code(again) == code(actors::errc::identity_exists));
    CHECK(code(nobody) == code(actors::errc::unknown_key));
    REQUIRE(before->receipt.has_value());
    auto e = decode_entry(before->receipt->entry);
    REQUIRE(e.ok());
    CHECK(e->signature_valid());
    CHECK(e->identity == "erin");
    CHECK(e->public_key == first->public_key_bytes());
    CHECK(e->content_hash == sha256(byte_view(std::string_view("the minutes"))));
    CHECK(e->timestamp_ms >= 1795000000000);

    // A statement sent right after the rotation, before anything ran, is signed
    // with the new key and reaches the ledger after the rotation: accepted.
    auto rotated =
        ask(*f.sys, signer, atoms::rotate_atom_v, actors::new_identity_key{"erin", second});
    auto after = ask(*f.sys, signer, atoms::sign_atom_v, statement("erin", "after the rotation"));
    f.run();
    REQUIRE(rotated->receipt.has_value());
    REQUIRE(after->receipt.has_value());
    CHECK(after->receipt->index == rotated->receipt->index + 1);
    CHECK(decode_entry(after->receipt->entry)->public_key == second->public_key_bytes());
    auto rec = f.store->identity("erin");
    REQUIRE((rec.ok() && rec->has_value()));
    REQUIRE((*rec)->keys.size() == 2);
    CHECK((*rec)->keys[0].valid_until == rotated->receipt->index);
    CHECK((*rec)->current()->key == second->public_key_bytes());

    // Revoking the old key changes nothing for signing; revoking the current one retires erin.
    auto old_key = first->public_key_bytes();
    auto current_key = second->public_key_bytes();
    auto revoke_old = ask(*f.sys, signer, atoms::revoke_atom_v, std::string("erin"),
                          bytes(old_key.begin(), old_key.end()));
    auto still = ask(*f.sys, signer, atoms::sign_atom_v, statement("erin", "still signing"));
    auto retire = ask(*f.sys, signer, atoms::revoke_atom_v, std::string("erin"),
                      bytes(current_key.begin(), current_key.end()));
    auto refused = ask(*f.sys, signer, atoms::sign_atom_v, statement("erin", "too late"));
    f.run();
    CHECK(revoke_old->receipt.has_value());
    CHECK(still->receipt.has_value());
    CHECK(retire->receipt.has_value());
    CHECK(code(refused) == code(actors::errc::unknown_key));
    rec = f.store->identity("erin");
    REQUIRE((rec.ok() && rec->has_value()));
    CHECK((*rec)->current() == nullptr);
    CHECK((*rec)->keys[0].revoked);
    CHECK((*rec)->keys[1].revoked);
    caf::anon_send_exit(signer, caf::exit_reason::user_shutdown);
}

TEST_CASE("signer: a registry change the ledger refuses is undone in the key ring",
          "[actors][signer]") {
    fixture f("signer-undo");
    auto signer = f.sys->spawn(actors::signer, actors::key_ring{},
                               actors::signer_config{std::chrono::milliseconds(1795000000000), 10s},
                               f.ledger);
    // frank is registered behind the signer's back, so the signer's registration fails.
    auto outside = test::key_for("frank-outside");
    auto direct = f.append(make_entry(entry_kind::identity_registration, "frank", outside, 1));
    f.run();
    REQUIRE(direct->receipt.has_value());
    auto mine = std::make_shared<const ed25519::secret_key>(test::key_for("frank"));
    auto registered =
        ask(*f.sys, signer, atoms::add_atom_v, actors::new_identity_key{"frank", mine});
    f.run();
    CHECK(code(registered) == code(actors::errc::identity_exists));
    // The key was dropped: a statement is refused by the signer, not signed with it.
    auto signed_after = ask(*f.sys, signer, atoms::sign_atom_v, statement("frank", "x"));
    f.run();
    CHECK(code(signed_after) == code(actors::errc::unknown_key));
    caf::anon_send_exit(signer, caf::exit_reason::user_shutdown);
}

TEST_CASE("bridge: each request ends exactly once, by its answer or by the bridge's timeout",
          "[actors][bridge]") {
    fixture f("bridge");
    auto bridge = f.sys->spawn(actors::bridge, std::chrono::milliseconds(100));
    // A ledger answers status; an actor that keeps every request unanswered stands in for a hung
    // one.
    auto hung = f.sys->spawn([](caf::event_based_actor* self) -> caf::behavior {
        return {[self](atoms::status_atom) {
            auto promise = self->make_response_promise<actors::ledger_status>();
            return promise; // never delivered
        }};
    });
    auto hung_ledger = caf::actor_cast<actors::ledger_actor>(hung);
    int answered = 0, failed = 0;
    caf::error failure;
    auto ask = [&](const actors::ledger_actor& target) {
        caf::anon_send(bridge, actors::bridge_job{[&, target](actors::bridge_pointer self) {
                           actors::bridge_request<actors::ledger_status>(
                               self, target, [&](const actors::ledger_status&) { ++answered; },
                               [&](caf::error& e) {
                                   ++failed;
                                   failure = e;
                               },
                               atoms::status_atom_v);
                       }});
    };
    ask(f.ledger);
    ask(hung_ledger);
    f.sched->run();
    CHECK(answered == 1);
    CHECK(failed == 0);
    f.sched->advance_time(std::chrono::milliseconds(50));
    f.sched->run();
    CHECK(failed == 0); // not before the timeout
    f.sched->advance_time(std::chrono::milliseconds(70));
    f.sched->run();
    CHECK(answered == 1);
    CHECK(failed == 1);
    CHECK(failure == caf::sec::request_timeout);
    // Nothing is left to expire, so no more ticks are scheduled.
    f.sched->advance_time(std::chrono::milliseconds(500));
    f.sched->run();
    CHECK(failed == 1);
    caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(hung, caf::exit_reason::user_shutdown);
}

} // namespace civic_ledger_test
