// The replica actor on the deterministic scheduler, with a real LMDB store:
// it holds exactly the trees the log signed, and nothing else.
#include "actors/committer.hpp"
#include "actors/errors.hpp"
#include "actors/replica.hpp"
#include "actors/system.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "support.hpp"

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <catch2/catch.hpp>

using namespace civic;
using namespace std::chrono_literals;

namespace {

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

struct fixture {
    test::temp_dir dir{"replica"};
    leader_view leader;
    std::unique_ptr<actors::system_config> cfg;
    std::unique_ptr<caf::actor_system> sys;
    caf::scheduler::test_coordinator* sched = nullptr;
    std::shared_ptr<storage::ledger_store> store;
    actors::committer_actor committer;
    actors::replica_actor replica;

    fixture() { start(); }
    ~fixture() { stop(); }
    void start() {
        cfg = std::make_unique<actors::system_config>(actors::system_options{true});
        sys = std::make_unique<caf::actor_system>(*cfg);
        sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
        store = std::shared_ptr<storage::ledger_store>(
            std::move(*storage::ledger_store::open({dir.path.string()})));
        committer = sys->spawn(actors::committer, store);
        actors::replica_config config;
        config.origin = origin;
        replica = sys->spawn(actors::replica, config, store, leader.log.verifier_key(), committer);
        sched->run();
    }
    void stop() {
        if (!sys) return;
        caf::anon_send_exit(replica, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(committer, caf::exit_reason::user_shutdown);
        sched->run();
        replica = nullptr;
        committer = nullptr;
        sys.reset();
        cfg.reset();
        store.reset();
    }
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

} // namespace

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
    // The genuine batch still goes in afterwards.
    CHECK(f.offer(good) == decltype(f.offer({})){std::uint64_t{7}});
}
