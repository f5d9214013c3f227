// The replica actor on the deterministic scheduler, with a real LMDB store:
// it holds exactly the trees the log signed, and nothing else.
#include "actors/committer.hpp"
#include "actors/errors.hpp"
#include "actors/ledger.hpp"
#include "actors/replica.hpp"
#include "actors/system.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "store_fixture.hpp"
#include "support.hpp"
#include "virtual_system.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <filesystem>

using namespace civic;
using namespace std::chrono_literals;

namespace civic_replica_test {

const std::string origin = "replica.test/log";

/// What a leader would send: entries in order, each batch with the checkpoint of
/// the tree it ends, signed by the log key.
struct leader_view {
    note::ed25519_signer log{origin, test::key_for("replica-log")};
    ed25519::secret_key clerk = test::key_for("replica-clerk");
    merkle::compact_range tree;
    std::vector<bytes> entries;

    bytes next_entry(entry_kind kind = entry_kind::statement) {
        entry e;
        e.kind = kind;
        e.timestamp_ms = 1795000000000 + entries.size();
        e.identity = "clerk";
        e.public_key = clerk.public_key_bytes();
        if (kind == entry_kind::statement)
            e.content_hash = sha256(byte_view("doc " + std::to_string(entries.size())));
        e.sign(clerk);
        return e.encode();
    }
    std::string sign(const merkle::compact_range& r) const {
        checkpoint cp{origin, r.size(), r.root(), {}};
        return note::serialize(note::note{cp.text(), {log.sign(cp.text())}});
    }
    /// The next `n` entries (a registration first of all) as one batch.
    actors::replicated_batch batch(std::size_t n) {
        actors::replicated_batch b;
        b.first_index = entries.size();
        for (std::size_t i = 0; i < n; ++i) {
            auto raw = next_entry(entries.empty() ? entry_kind::identity_registration
                                                  : entry_kind::statement);
            tree.append(merkle::leaf_hash(raw));
            entries.push_back(raw);
            b.entries.push_back(raw);
        }
        b.checkpoint = sign(tree);
        return b;
    }
};

struct fixture : test::store_system {
    leader_view leader;
    actors::replica_actor replica;

    fixture() : store_system("replica") { start(); }
    ~fixture() { stop(); }
    void start(actors::replica_config config = {}) {
        open_store();
        config.origin = origin;
        replica = sys->spawn(actors::replica, config, store, leader.log.verifier_key(), committer);
        sched->run();
    }
    void stop() { close_store(replica); }
    /// Offers a batch; returns the replica's answer: its size, or the error code.
    std::variant<std::uint64_t, std::uint8_t> offer(actors::replicated_batch b) {
        std::variant<std::uint64_t, std::uint8_t> out = std::uint8_t{255};
        sys->spawn([&out, b, target = replica](caf::event_based_actor* self) {
            self->request(target, 10s, atoms::replicate_atom_v, b)
                .then([&out](std::uint64_t size) { out = size; },
                      [&out](caf::error& e) { out = actors::code_of(e); });
        });
        sched->run();
        return out;
    }
};

std::uint8_t code(actors::errc e) { return static_cast<std::uint8_t>(e); }

TEST_CASE("replica: accepts batches that make the signed tree, in order, durably",
          "[actors][replica]") {
    fixture f;
    auto first = f.leader.batch(3);
    auto second = f.leader.batch(5);
    auto third = f.leader.batch(2);
    CHECK(f.offer(first) == decltype(f.offer(first)){std::uint64_t{3}});
    // Out of order: a gap, and nothing changes.
    CHECK(f.offer(third) == decltype(f.offer(first)){code(actors::errc::gap)});
    CHECK(f.store->stored_size() == 3);
    CHECK(f.offer(second) == decltype(f.offer(first)){std::uint64_t{8}});
    // A resend is answered with the size; an overlapping batch adds only its new tail.
    CHECK(f.offer(first) == decltype(f.offer(first)){std::uint64_t{8}});
    auto overlap = third;
    overlap.first_index = 7;
    overlap.entries.insert(overlap.entries.begin(), f.leader.entries[7]);
    CHECK(f.offer(overlap) == decltype(f.offer(first)){std::uint64_t{10}});

    // The store holds the leader's entries, its signed checkpoint and the registry.
    for (std::uint64_t i = 0; i < 10; ++i)
        CHECK(**f.store->entry(i) == f.leader.entries[i]);
    CHECK(**f.store->latest_checkpoint() == third.checkpoint);
    CHECK(f.store->identity("clerk")->has_value());

    // A restart continues from the store.
    f.stop();
    f.start();
    CHECK(f.offer(f.leader.batch(1)) == decltype(f.offer(first)){std::uint64_t{11}});
}

TEST_CASE("replica: refuses every batch that does not make the signed tree, and keeps nothing",
          "[actors][replica]") {
    fixture f;
    REQUIRE(f.offer(f.leader.batch(4)) == decltype(f.offer({})){std::uint64_t{4}});
    auto good = f.leader.batch(3);
    auto refused = [&](actors::replicated_batch b, actors::errc expected) {
        INFO("expected errc " << static_cast<int>(expected));
        CHECK(f.offer(std::move(b)) == decltype(f.offer({})){code(expected)});
        CHECK(f.store->stored_size() == 4);
    };
    auto b = good;
    b.entries[1][20] ^= 1; // a changed entry: another tree (or an undecodable entry)
    refused(b, actors::errc::inconsistent);
    b = good;
    std::swap(b.entries[0], b.entries[1]); // reordered
    refused(b, actors::errc::inconsistent);
    b = good;
    b.entries.pop_back(); // the checkpoint's size is not the batch's end
    refused(b, actors::errc::inconsistent);
    b = good;
    note::ed25519_signer impostor{origin, test::key_for("impostor")};
    auto body = parse_signed_checkpoint(good.checkpoint)->body;
    b.checkpoint = note::serialize(note::note{body.text(), {impostor.sign(body.text())}});
    refused(b, actors::errc::inconsistent); // not the log's signature
    b = good;
    b.checkpoint = "not a checkpoint";
    refused(b, actors::errc::inconsistent);
    b = good;
    b.entries.clear();
    refused(b, actors::errc::inconsistent);
    b = good;
    b.entries[0] = bytes(max_entry_size + 1, 0);
    refused(b, actors::errc::inconsistent);
    // A second registration of the same name breaks the registry's rules, even
    // under a correctly signed checkpoint.
    {
        leader_view forged;
        forged.entries = f.leader.entries;
        forged.tree = f.leader.tree;
        forged.entries.resize(4);
        merkle::compact_range t;
        for (std::size_t i = 0; i < 4; ++i)
            t.append(merkle::leaf_hash(forged.entries[i]));
        actors::replicated_batch dup;
        dup.first_index = 4;
        dup.entries.push_back(forged.next_entry(entry_kind::identity_registration));
        t.append(merkle::leaf_hash(dup.entries[0]));
        dup.checkpoint = f.leader.sign(t);
        refused(dup, actors::errc::inconsistent);
    }
    // A newer epoch on a checkpoint the log did not sign is not adopted: a
    // peer's certificate alone cannot fence off the real leader.
    b = good;
    b.checkpoint = note::serialize(note::note{body.text(), {impostor.sign(body.text())}});
    b.epoch = 9;
    refused(b, actors::errc::inconsistent);
    CHECK(storage::stored_epoch(*f.store) == 0);
    // The genuine batch still goes in afterwards.
    CHECK(f.offer(good) == decltype(f.offer({})){std::uint64_t{7}});

    // A genuine batch from a newer epoch is adopted, durably; the older epoch is
    // refused from then on, also after a restart.
    auto next = f.leader.batch(2);
    next.epoch = 1;
    CHECK(f.offer(next) == decltype(f.offer({})){std::uint64_t{9}});
    CHECK(storage::stored_epoch(*f.store) == 1);
    f.stop();
    f.start();
    auto stale = f.leader.batch(1);
    CHECK(f.offer(stale) == decltype(f.offer({})){code(actors::errc::not_leader)});
    CHECK(f.store->stored_size() == 9);
}

/// A leader's ledger and replicas, each with its own store, in one deterministic system.
struct network {
    test::temp_dir dir{"replication"};
    leader_view keys;
    std::unique_ptr<actors::system_config> cfg =
        std::make_unique<actors::system_config>(actors::system_options{true});
    std::unique_ptr<caf::actor_system> sys = std::make_unique<caf::actor_system>(*cfg);
    caf::scheduler::test_coordinator* sched =
        &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    std::vector<std::shared_ptr<storage::ledger_store>> stores;
    std::vector<caf::actor> to_stop;
    actors::ledger_actor ledger;

    std::shared_ptr<storage::ledger_store> open_store(const std::string& name) {
        std::filesystem::create_directories(dir / name);
        auto s = test::open_ledger_store(dir / name);
        stores.push_back(s);
        return s;
    }
    explicit network(std::size_t acks, std::size_t catch_up = 10000) {
        auto store = open_store("leader");
        auto committer = sys->spawn(actors::committer, store);
        actors::ledger_config config;
        config.origin = origin;
        config.replica_acks = acks;
        config.max_catch_up_entries = catch_up;
        auto log =
            std::make_shared<const note::ed25519_signer>(origin, test::key_for("replica-log"));
        ledger = sys->spawn(actors::ledger, config, store, log, committer);
        to_stop.push_back(caf::actor_cast<caf::actor>(committer));
        to_stop.push_back(caf::actor_cast<caf::actor>(ledger));
        sched->run();
    }
    ~network() {
        for (auto& a : to_stop)
            caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
        sched->run();
        ledger = nullptr;
        to_stop.clear();
        sys.reset();
    }
    std::pair<actors::replica_actor, std::shared_ptr<storage::ledger_store>>
    replica(const std::string& name) {
        auto store = open_store(name);
        auto committer = sys->spawn(actors::committer, store);
        actors::replica_config config;
        config.origin = origin;
        auto r = sys->spawn(actors::replica, config, store, keys.log.verifier_key(), committer);
        to_stop.push_back(caf::actor_cast<caf::actor>(committer));
        to_stop.push_back(caf::actor_cast<caf::actor>(r));
        return {r, store};
    }
    void join(const actors::replica_actor& r) {
        sys->spawn([r, target = ledger](caf::event_based_actor* self) {
            self->request(target, 10s, atoms::join_atom_v, caf::actor_cast<caf::actor>(r))
                .then([](std::uint64_t) {});
        });
        sched->run();
    }
    /// Appends the next `n` entries; each flag turns true when its append is answered.
    std::vector<std::shared_ptr<bool>> append(std::size_t n) {
        std::vector<std::shared_ptr<bool>> answered;
        for (std::size_t i = 0; i < n; ++i) {
            auto raw = keys.next_entry(keys.entries.empty() ? entry_kind::identity_registration
                                                            : entry_kind::statement);
            keys.entries.push_back(raw);
            auto flag = std::make_shared<bool>(false);
            answered.push_back(flag);
            sys->spawn([flag, raw, target = ledger](caf::event_based_actor* self) {
                self->request(target, 60s, atoms::append_atom_v, raw)
                    .then([flag](const actors::append_receipt&) { *flag = true; });
            });
        }
        sched->run();
        return answered;
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

bool all(const std::vector<std::shared_ptr<bool>>& flags) {
    return std::all_of(flags.begin(), flags.end(), [](const auto& f) { return *f; });
}
bool none(const std::vector<std::shared_ptr<bool>>& flags) {
    return std::none_of(flags.begin(), flags.end(), [](const auto& f) { return *f; });
}

TEST_CASE("ledger and replicas: appends are answered once enough replicas hold them, a leader "
          "without them cuts no batch, and a late replica catches up from the store",
          "[actors][replica][replication]") {
    network net(1);
    auto first = net.append(5);
    // Fenced: without a replica no batch could be acknowledged, so none is cut
    // (and no checkpoint signed).
    CHECK(net.stores[0]->stored_size() == 0);
    CHECK(none(first));
    auto [r1, s1] = net.replica("r1");
    net.join(r1);
    CHECK(all(first));
    CHECK(s1->stored_size() == 5);
    auto second = net.append(40);
    CHECK(all(second));
    CHECK(s1->stored_size() == 45);
    CHECK(**s1->latest_checkpoint() == **net.stores[0]->latest_checkpoint());

    // A replica that joins late gets everything, from the store.
    auto [r2, s2] = net.replica("r2");
    net.join(r2);
    CHECK(s2->stored_size() == 45);
    for (std::uint64_t i = 0; i < 45; ++i)
        CHECK(**s2->entry(i) == net.keys.entries[i]);
    CHECK(net.status().replicated_size == 45);

    // A replica that goes away is dropped; one left still meets acks = 1.
    caf::anon_send_exit(r1, caf::exit_reason::kill);
    net.sched->run();
    CHECK(all(net.append(3)));
    CHECK(s2->stored_size() == 48);
}

TEST_CASE("ledger and replicas: a hung replica does not hold back a quorum it is not needed for",
          "[actors][replica][replication]") {
    network net(1);
    auto [good, good_store] = net.replica("good");
    // A replica that never answers anything.
    auto hung = net.sys->spawn([](caf::event_based_actor* self) -> caf::behavior {
        return {
            [self](atoms::replicate_atom, const actors::replicated_batch&) {
                return self->make_response_promise<std::uint64_t>();
            },
            [self](atoms::status_atom) {
                return self->make_response_promise<actors::ledger_status>();
            },
        };
    });
    net.to_stop.push_back(hung);
    net.join(caf::actor_cast<actors::replica_actor>(hung));
    net.join(good);
    CHECK(all(net.append(10)));
    CHECK(good_store->stored_size() == 10);
}

TEST_CASE("ledger and replicas: with acks 2 and one replica, appends wait",
          "[actors][replica][replication]") {
    network net(2);
    auto [r1, s1] = net.replica("only");
    net.join(r1);
    auto waiting = net.append(4);
    CHECK(s1->stored_size() == 0); // one replica cannot acknowledge for two: nothing is cut
    CHECK(none(waiting));
    auto [r2, s2] = net.replica("second");
    net.join(r2);
    CHECK(all(waiting));
    CHECK(s1->stored_size() == 4);
    CHECK(s2->stored_size() == 4);

    // One of them goes: the leader stops cutting batches again.
    caf::anon_send_exit(r2, caf::exit_reason::kill);
    net.sched->run();
    auto fenced = net.append(2);
    CHECK(none(fenced));
    CHECK(net.stores[0]->stored_size() == 4);
    // And resumes when a second one is back.
    auto [r3, s3] = net.replica("third");
    net.join(r3);
    CHECK(all(fenced));
    CHECK(s3->stored_size() == 6);
}

TEST_CASE("ledger and replicas: a lagging replica catches up in chunks that end at stored "
          "checkpoints",
          "[actors][replica][replication]") {
    network net(0, 7); // at most 7 entries per catch-up batch
    for (int i = 0; i < 6; ++i)
        CHECK(all(net.append(5))); // six batches of five, answered without replicas
    auto [late, store] = net.replica("late");
    net.join(late);
    CHECK(store->stored_size() == 30);
    CHECK(**store->latest_checkpoint() == **net.stores[0]->latest_checkpoint());
    // Every chunk ended at one of the leader's checkpoints, and no chunk held more
    // than 7 entries: the replica stored the leader's checkpoints at the chunk ends.
    std::uint64_t previous = 0;
    int chunks = 0;
    for (std::uint64_t size = 1; size <= 30; ++size) {
        auto mine = store->checkpoint_at(size);
        if (!mine->has_value()) continue;
        ++chunks;
        CHECK(**mine == **net.stores[0]->checkpoint_at(size));
        CHECK(size - previous <= 7);
        previous = size;
    }
    CHECK(chunks >= 5);
}

TEST_CASE("replica: a full disk refuses batches without a restart, and it takes them again by "
          "itself once a probe writes",
          "[actors][replica][no-space]") {
    fixture f;
    f.stop();
    std::vector<std::string> changes;
    actors::replica_config config;
    config.read_only.retry = 500ms;
    config.read_only.retry_max = 500ms;
    config.read_only.on_change = [&](const std::string& why) { changes.push_back(why); };
    f.start(config);
    using answer = decltype(f.offer({}));
    CHECK(f.offer(f.leader.batch(3)) == answer{std::uint64_t{3}});

    f.store->test_fail_writes = ENOSPC;
    auto refused = f.leader.batch(4);
    CHECK(f.offer(refused) == answer{code(actors::errc::no_space)});
    REQUIRE(changes.size() == 2);
    CHECK_THAT(changes[1], Catch::Contains("no space left on the device of"));
    // At once, while read-only (the leader sees no ack from it); nothing changed.
    CHECK(f.offer(refused) == answer{code(actors::errc::no_space)});
    CHECK(f.store->stored_size() == 3);

    f.run_for(1000ms); // probes that still find no room
    CHECK(changes.size() == 2);
    f.store->test_fail_writes = 0;
    f.run_for(500ms);
    REQUIRE(changes.size() == 3);
    CHECK(changes[2].empty());
    // The leader's resend is taken, and the replica holds the signed tree.
    CHECK(f.offer(refused) == answer{std::uint64_t{7}});
    CHECK(**f.store->latest_checkpoint() == refused.checkpoint);
    CHECK(f.offer(f.leader.batch(1)) == answer{std::uint64_t{8}});
}

} // namespace civic_replica_test
