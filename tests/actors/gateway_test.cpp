// The gateway on the deterministic scheduler, over a real ledger store and
// stand-ins for the node's inner actors: what it hands on, to whom, and what
// it refuses by the node's role and, with a peer directory (the TLS front's),
// by the sender's. Senders on other nodes are actors spawned under another
// node id (test::spawn_as).
#include "actors/errors.hpp"
#include "actors/gateway.hpp"
#include "protocol/checkpoint.hpp"
#include "storage/lmdb.hpp"
#include "store_fixture.hpp"
#include "support.hpp"
#include "virtual_system.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <array>
#include <limits>
#include <memory>
#include <unistd.h>

using namespace civic;
using namespace std::chrono_literals;

namespace civic_gateway_test {

const std::string origin = "gateway.test/log";
constexpr std::uint64_t stored_entries = 300; // a full entry tile and a partial one

bytes entry_bytes(std::uint64_t i) {
    auto s = "gateway entry " + std::to_string(i);
    return bytes(s.begin(), s.end());
}

bytes digest_of(const std::string& token) {
    auto h = sha256(byte_view(token));
    return bytes(h.begin(), h.end());
}

/// What the node's inner actors were handed.
struct inner_log {
    std::vector<caf::actor> joins; // the replicas handed to the ledger
    std::vector<actors::sign_request> signs;
    std::vector<actors::cosign_request> cosigns;
    std::vector<actors::gossip_message> gossip;
    std::size_t total() const {
        return joins.size() + signs.size() + cosigns.size() + gossip.size();
    }
};

caf::behavior fake_ledger(caf::event_based_actor*, std::shared_ptr<inner_log> log) {
    return {[log](atoms::join_atom, caf::actor& replica) {
        log->joins.push_back(replica);
        return std::uint64_t{42};
    }};
}
caf::behavior fake_signer(caf::event_based_actor*, std::shared_ptr<inner_log> log) {
    return {[log](atoms::sign_atom, actors::sign_request& r) {
        log->signs.push_back(r);
        return actors::append_receipt{9, "signed", {}, {}};
    }};
}
caf::behavior fake_witness(caf::event_based_actor*, std::shared_ptr<inner_log> log) {
    return {[log](atoms::add_atom, actors::cosign_request& r) {
        log->cosigns.push_back(r);
        return actors::cosign_answer{200, false, "cosigned"};
    }};
}
caf::behavior fake_gossip(caf::event_based_actor*, std::shared_ptr<inner_log> log) {
    return {[log](atoms::gossip_atom, actors::gossip_message& m) {
        log->gossip.push_back(m);
        return actors::gossip_message{"the node's gossip", {}, {}};
    }};
}

caf::behavior idle(caf::event_based_actor*) {
    return {[](atoms::ping_atom) {}};
}

/// A CAF node id of another process on another host (`n` tells them apart).
caf::node_id other_node(std::uint8_t n) {
    caf::node_id::default_data::host_id_type host{};
    host.fill(n);
    return caf::make_node_id(static_cast<std::uint32_t>(::getpid()) + n, host);
}

std::uint8_t code(actors::errc e) { return static_cast<std::uint8_t>(e); }

struct fixture : test::virtual_system {
    test::temp_dir dir{"gateway"};
    note::ed25519_signer log = test::log_signer(origin);
    std::shared_ptr<storage::ledger_store> store;
    std::shared_ptr<actors::directory> directory = std::make_shared<actors::directory>();
    std::shared_ptr<inner_log> handed = std::make_shared<inner_log>();
    std::vector<std::string> refusals; // what the peer directory was told
    std::vector<caf::actor> spawned;
    actors::gateway_config config;
    actors::gateway_actor gateway;

    fixture() {
        boot();
        store = test::open_ledger_store(dir.path.string());
        storage::tree_state tree;
        store->trust(tree);
        std::vector<bytes> entries;
        for (std::uint64_t i = 0; i < stored_entries; ++i)
            entries.push_back(entry_bytes(i));
        test::commit_batch(*store, tree, entries, log);
        REQUIRE(store->verified_size() == stored_entries);
        storage::token_record admin{"admin", true, {}};
        storage::token_record clerk{"clerk", false, {"town/clerk"}};
        REQUIRE(store->put_token(sha256(byte_view(std::string("admin-token"))), admin).ok());
        REQUIRE(store->put_token(sha256(byte_view(std::string("clerk-token"))), clerk).ok());
        config.node_name = "this-node";
        config.leading = true;
        config.epoch = 3;
    }
    ~fixture() {
        for (auto& a : spawned)
            caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
        sched->run();
        directory->clear();
        spawned.clear();
        gateway = nullptr;
        drain(); // clients whose request a failed check left waiting
        shut_down();
    }
    /// The node's inner actors, each under its name in the directory.
    void run_inner_actors() {
        using inner_actor = caf::behavior (*)(caf::event_based_actor*, std::shared_ptr<inner_log>);
        const std::vector<std::pair<std::string, inner_actor>> inner{{"ledger", fake_ledger},
                                                                     {"signer", fake_signer},
                                                                     {"witness", fake_witness},
                                                                     {"gossip", fake_gossip}};
        for (const auto& [name, behavior] : inner) {
            spawned.push_back(sys->spawn(behavior, handed));
            directory->set(name, spawned.back());
        }
    }
    /// With the TLS front's directory of peers: `named` nodes are known by those names.
    void authenticate(const std::vector<std::pair<caf::node_id, std::string>>& named) {
        auto peers = std::make_shared<actors::peer_directory>(
            [this](const std::string& line) { refusals.push_back(line); });
        for (const auto& [node, name] : named)
            REQUIRE(peers->bind(actors::serialized_node_id(node), name));
        config.peers = peers;
    }
    void start(bool with_store = true) {
        gateway = sys->spawn(actors::gateway, config, with_store ? store : nullptr, directory);
        sched->run();
    }
    /// An actor (a replica, say) on `node`.
    caf::actor actor_on(const caf::node_id& node) {
        spawned.push_back(test::spawn_as(*sys, node, idle));
        return spawned.back();
    }

    /// Sends `xs...` to the gateway from an actor on `node` (this node's own
    /// when none is given) and returns the reply.
    template <class T, class... Ts>
    test::reply<T> from(const std::optional<caf::node_id>& node, Ts... xs) {
        if (!node) return call<T>(gateway, xs...);
        auto out = std::make_shared<test::reply<T>>();
        test::spawn_as(*sys, *node, requester<T>(out, gateway, xs...));
        sched->run();
        return *out;
    }

    static actors::forwarded_sign forwarded(const std::string& token, const std::string& identity,
                                            const std::string& text = "the minutes") {
        auto content = sha256(byte_view(text));
        return {digest_of(token), {identity, bytes(content.begin(), content.end()), {}}};
    }
    template <class... Ts>
    test::reply<actors::append_receipt> sign(const std::optional<caf::node_id>& node, Ts... xs) {
        return from<actors::append_receipt>(node, atoms::sign_atom_v, forwarded(xs...));
    }
    test::reply<std::uint64_t> join(const std::optional<caf::node_id>& node,
                                    const caf::actor& replica) {
        return from<std::uint64_t>(node, atoms::join_atom_v, replica);
    }
    test::reply<actors::cosign_answer> add(const std::optional<caf::node_id>& node) {
        return from<actors::cosign_answer>(node, atoms::add_atom_v,
                                           actors::cosign_request{0, {}, "a checkpoint"});
    }
    test::reply<actors::gossip_message> gossip(const std::optional<caf::node_id>& node) {
        return from<actors::gossip_message>(node, atoms::gossip_atom_v,
                                            actors::gossip_message{"a peer", {}, {}});
    }
    test::reply<actors::replicated_batch> fetch(const std::optional<caf::node_id>& node,
                                                std::uint64_t first, std::uint64_t count) {
        return from<actors::replicated_batch>(node, atoms::fetch_atom_v, first, count);
    }
    test::reply<actors::node_status> status(const std::optional<caf::node_id>& node = {}) {
        return from<actors::node_status>(node, atoms::status_atom_v);
    }
};

const std::optional<caf::node_id> here = std::nullopt; // a sender on the gateway's own node

template <class T>
void check_refused(const test::reply<T>& r, actors::errc expected, const std::string& says) {
    REQUIRE(r.done);
    CHECK_FALSE(r.value);
    CHECK(test::code_of(r.error) == code(expected));
    CHECK_THAT(actors::message_of(r.error), Catch::Contains(says));
}

template <class T>
void check_let_through(const test::reply<T>& r) {
    REQUIRE(r.done);
    INFO(actors::message_of(r.error));
    CHECK(r.value);
}

TEST_CASE("gateway: a leader hands joins to its ledger, signs whose token may sign for the "
          "identity to its signer, cosign requests to its witness and gossip to its gossip actor",
          "[actors][gateway]") {
    fixture f;
    f.run_inner_actors();
    f.start();
    auto replica = f.actor_on(f.sys->node());
    auto joined = f.join(here, replica);
    REQUIRE(joined.value);
    CHECK(*joined.value == 42); // the ledger's answer
    REQUIRE(f.handed->joins.size() == 1);
    CHECK(f.handed->joins[0] == replica);

    // The token is checked here, against this node's token table; only the
    // request itself reaches the signer.
    auto by_admin = f.sign(here, "admin-token", "town/mayor", "the budget");
    REQUIRE(by_admin.value);
    CHECK(by_admin.value->index == 9);
    check_let_through(f.sign(here, "clerk-token", "town/clerk"));
    REQUIRE(f.handed->signs.size() == 2);
    CHECK(f.handed->signs[0].identity == "town/mayor");
    auto budget = sha256(byte_view(std::string_view("the budget")));
    CHECK(f.handed->signs[0].content_sha256 == bytes(budget.begin(), budget.end()));
    check_refused(f.sign(here, "clerk-token", "town/mayor"), actors::errc::forbidden,
                  "may not sign for 'town/mayor'");
    check_refused(f.sign(here, "a token nobody issued", "town/clerk"), actors::errc::unauthorized,
                  "unknown token");
    auto no_token = fixture::forwarded("clerk-token", "town/clerk");
    no_token.token_sha256.pop_back();
    check_refused(f.from<actors::append_receipt>(here, atoms::sign_atom_v, no_token),
                  actors::errc::unauthorized, "without a token");
    CHECK(f.handed->signs.size() == 2);

    auto cosigned = f.add(here);
    REQUIRE(cosigned.value);
    CHECK(cosigned.value->body == "cosigned");
    REQUIRE(f.handed->cosigns.size() == 1);
    CHECK(f.handed->cosigns[0].checkpoint == "a checkpoint");
    auto exchanged = f.gossip(here);
    REQUIRE(exchanged.value);
    CHECK(exchanged.value->from == "the node's gossip");
    REQUIRE(f.handed->gossip.size() == 1);
    CHECK(f.handed->gossip[0].from == "a peer");

    auto s = f.status();
    REQUIRE(s.value);
    CHECK(s.value->name == "this-node");
    CHECK(s.value->leading);
    CHECK(s.value->epoch == 3);
    CHECK(s.value->size == stored_entries);
}

TEST_CASE("gateway: a node that does not lead refuses joins and signs, and one whose actor is "
          "not running says it is unavailable",
          "[actors][gateway]") {
    fixture f;
    SECTION("a replica: not_leader, and its epoch is the one its store holds") {
        f.config.leading = false;
        f.config.epoch = 1;
        REQUIRE(storage::store_epoch(*f.store, 4).ok());
        f.run_inner_actors();
        f.start();
        check_refused(f.join(here, f.actor_on(f.sys->node())), actors::errc::not_leader,
                      "node 'this-node' does not lead");
        check_refused(f.sign(here, "admin-token", "town/clerk"), actors::errc::not_leader,
                      "does not lead");
        CHECK(f.handed->joins.empty());
        CHECK(f.handed->signs.empty());
        // A replica may run a witness and gossips like any node.
        check_let_through(f.add(here));
        check_let_through(f.gossip(here));
        auto s = f.status();
        REQUIRE(s.value);
        CHECK_FALSE(s.value->leading);
        CHECK(s.value->epoch == 4);
        CHECK(s.value->size == stored_entries);
    }
    SECTION("a leader whose actors are restarting (not in the directory)") {
        f.start();
        check_refused(f.join(here, f.actor_on(f.sys->node())), actors::errc::unavailable,
                      "the ledger is restarting");
        check_refused(f.sign(here, "admin-token", "town/clerk"), actors::errc::unavailable,
                      "the signer is restarting");
        check_refused(f.add(here), actors::errc::unavailable, "runs no witness now");
        check_refused(f.gossip(here), actors::errc::unavailable, "no gossip on node 'this-node'");
    }
    SECTION("a node without a ledger store (a witness only)") {
        f.config.leading = false;
        f.run_inner_actors();
        f.start(/*with_store=*/false);
        check_refused(f.sign(here, "admin-token", "town/clerk"), actors::errc::not_leader,
                      "does not lead");
        check_refused(f.fetch(here, 0, 1), actors::errc::unavailable, "holds no ledger");
        check_let_through(f.add(here));
        auto s = f.status();
        REQUIRE(s.value);
        CHECK(s.value->name == "this-node");
        CHECK_FALSE(s.value->leading);
        CHECK(s.value->epoch == 3);
        CHECK(s.value->size == 0);
    }
}

TEST_CASE("gateway: fetch answers at most one tile of checked entries of the verified tree, and "
          "refuses ranges outside it",
          "[actors][gateway]") {
    fixture f;
    f.start();
    auto first_tile = f.fetch(here, 0, actors::max_fetch_entries);
    REQUIRE(first_tile.value);
    CHECK(first_tile.value->first_index == 0);
    CHECK(first_tile.value->epoch == 3);
    CHECK(first_tile.value->checkpoint.empty()); // the asker checks against its own tree
    REQUIRE(first_tile.value->entries.size() == actors::max_fetch_entries);
    for (std::uint64_t i = 0; i < actors::max_fetch_entries; ++i)
        CHECK(first_tile.value->entries[i] == entry_bytes(i));
    auto tail = f.fetch(here, 256, 44);
    REQUIRE(tail.value);
    CHECK(tail.value->entries.size() == 44);
    CHECK(tail.value->entries.back() == entry_bytes(299));

    struct range {
        const char* what;
        std::uint64_t first, count;
    };
    for (const auto& r : std::vector<range>{
             {"no entries", 10, 0},
             {"more than a tile", 0, actors::max_fetch_entries + 1},
             {"from the tree's size", stored_entries, 1},
             {"past the tree's end", 299, 2},
             {"a count that wraps around", 10, std::numeric_limits<std::uint64_t>::max()},
             {"a first index that wraps around", std::numeric_limits<std::uint64_t>::max(), 2},
         }) {
        INFO(r.what);
        check_refused(f.fetch(here, r.first, r.count), actors::errc::gap,
                      "not in the tree of size 300");
    }

    // An entry the disk changed is never served: the fetch fails instead.
    auto db = f.store->env().database("entries");
    REQUIRE(db.ok());
    bytes key;
    put_u64_be(key, 7);
    {
        auto txn = storage::transaction::begin(f.store->env(), false);
        REQUIRE(txn.ok());
        REQUIRE(txn->put(*db, key, entry_bytes(8)).ok());
        REQUIRE(txn->commit().ok());
    }
    // The whole entry tile is held damaged from then on; the next one is served.
    check_refused(f.fetch(here, 0, 8), actors::errc::storage_failure, "entry at index 7");
    check_refused(f.fetch(here, 200, 8), actors::errc::storage_failure, "damaged");
    check_let_through(f.fetch(here, 256, 8));
}

TEST_CASE("gateway: with the TLS front's peer directory, a message is let through only from a "
          "node that a connection named and whose role may send it",
          "[actors][gateway][hardening]") {
    fixture f;
    const auto replica_a = other_node(1), witness_w1 = other_node(2), leader_b = other_node(3),
               unnamed = other_node(4);
    f.authenticate({{replica_a, "replica-a"}, {witness_w1, "w1"}, {leader_b, "leader-b"}});
    f.config.replicas = {"replica-a"};
    f.config.log_nodes = {"leader-b"};
    f.run_inner_actors();
    f.start();
    std::size_t refused = 0;
    auto refuses = [&](auto reply, const std::string& says) {
        check_refused(reply, actors::errc::forbidden, says);
        ++refused;
    };

    SECTION("a replica joins with a replica of its own node, and may not ask for cosignatures") {
        check_let_through(f.join(replica_a, f.actor_on(replica_a)));
        CHECK(f.handed->joins.size() == 1);
        refuses(f.join(replica_a, f.actor_on(f.sys->node())),
                "a join for a replica on another node");
        refuses(f.join(replica_a, f.actor_on(leader_b)), "a join for a replica on another node");
        refuses(f.add(replica_a),
                "node 'replica-a' may not ask for a cosignature: its role in the topology does "
                "not allow it");
        check_let_through(f.sign(replica_a, "clerk-token", "town/clerk"));
        check_let_through(f.gossip(replica_a));
        check_let_through(f.fetch(replica_a, 0, 1));
        check_let_through(f.status(replica_a));
        CHECK(f.handed->total() == 3);
    }
    SECTION("a witness gossips and may neither join nor ask for cosignatures") {
        refuses(f.join(witness_w1, f.actor_on(witness_w1)), "node 'w1' may not join as a replica");
        refuses(f.add(witness_w1), "node 'w1' may not ask for a cosignature");
        check_let_through(f.gossip(witness_w1));
        CHECK(f.handed->total() == 1);
    }
    SECTION("a node that may lead asks for cosignatures, and may not join") {
        check_let_through(f.add(leader_b));
        refuses(f.join(leader_b, f.actor_on(leader_b)), "node 'leader-b' may not join");
        CHECK(f.handed->total() == 1);
    }
    SECTION("a node no connection named may send nothing") {
        const std::string says = "from a node no authenticated connection named";
        refuses(f.join(unnamed, f.actor_on(unnamed)), says);
        refuses(f.sign(unnamed, "admin-token", "town/clerk"), says);
        refuses(f.add(unnamed), says);
        refuses(f.gossip(unnamed), says);
        refuses(f.fetch(unnamed, 0, 1), says);
        CHECK(f.handed->total() == 0);
    }
    SECTION("this node's own actors may send anything") {
        check_let_through(f.join(here, f.actor_on(f.sys->node())));
        check_let_through(f.add(here));
        check_let_through(f.sign(here, "admin-token", "town/clerk"));
        check_let_through(f.gossip(here));
        CHECK(f.handed->total() == 4);
    }
    SECTION("an anonymous join is refused") {
        caf::anon_send(f.gateway, atoms::join_atom_v, f.actor_on(f.sys->node()));
        f.sched->run();
        CHECK(f.handed->joins.empty());
        REQUIRE(f.refusals.size() == 1);
        CHECK(f.refusals[0] == "gateway: refused: an anonymous join as a replica is refused");
        refused = 1;
    }
    // Each refusal was told to the directory, for the log and the metrics.
    CHECK(f.refusals.size() == refused);
    for (const auto& line : f.refusals)
        CHECK_THAT(line, Catch::StartsWith("gateway: refused: "));
}

TEST_CASE("gateway: a status request from a node no connection named is refused like any other "
          "message",
          "[actors][gateway][hardening]") {
    // It was answered to anyone with the node's name, role, epoch and size.
    fixture f;
    f.authenticate({});
    f.start();
    check_refused(f.status(other_node(4)), actors::errc::forbidden,
                  "from a node no authenticated connection named");
}

} // namespace civic_gateway_test
