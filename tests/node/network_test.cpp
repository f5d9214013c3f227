// Nodes over CAF's network layer with TLS (caf::openssl): a leader publishes
// its ledger, a replica on another actor system connects with a certificate
// from the network's CA, joins, and holds every batch before appends are
// answered. Peers without such a certificate cannot connect.
#include "actors/committer.hpp"
#include "actors/directory.hpp"
#include "actors/gateway.hpp"
#include "actors/ledger.hpp"
#include "actors/replica.hpp"
#include "actors/system.hpp"
#include "actors/uplink.hpp"
#include "node/config/certs.hpp"
#include "node/config/topology.hpp"
#include "process.hpp"
#include "protocol/entry.hpp"
#include "support.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>
#include <catch2/catch.hpp>

#include <thread>
#include <unistd.h>

using namespace civic;
using namespace std::chrono_literals;

namespace {

const std::string origin = "network.test/log";

const std::string topology_text = R"(origin: network.test/log
regions:
  - name: here
nodes:
  - name: leader
    region: here
    caf_port: 7001
    http_port: 8001
    roles: [leader]
    data: leader
    log_key: leader.key
  - name: replica
    region: here
    caf_port: 7002
    http_port: 8002
    roles: [replica]
    data: replica
  - name: stranger
    region: here
    caf_port: 7003
    http_port: 8003
    roles: [replica]
    data: stranger
)";

/// One node's actor system, with TLS material from `certs` for `name`.
std::unique_ptr<caf::actor_system> node_system(std::unique_ptr<actors::system_config>& cfg,
                                               const std::string& certs, const std::string& name,
                                               const std::string& ca) {
    actors::system_options o;
    o.tls_certificate = certs + "/" + name + ".crt";
    o.tls_key = certs + "/" + name + ".key";
    o.tls_ca = ca;
    o.heartbeat_interval = 200ms;
    o.connection_timeout = 2s;
    cfg = std::make_unique<actors::system_config>(o);
    return std::make_unique<caf::actor_system>(*cfg);
}

std::shared_ptr<storage::ledger_store> open_store(const std::string& dir) {
    std::filesystem::create_directories(dir);
    return std::shared_ptr<storage::ledger_store>(std::move(*storage::ledger_store::open({dir})));
}

bytes make_entry(const ed25519::secret_key& key, std::uint64_t n) {
    entry e;
    e.kind = n == 0 ? entry_kind::identity_registration : entry_kind::statement;
    e.timestamp_ms = 1795000000000 + n;
    e.identity = "clerk";
    e.public_key = key.public_key_bytes();
    if (n > 0) e.content_hash = sha256(byte_view("doc " + std::to_string(n)));
    e.sign(key);
    return e.encode();
}

} // namespace

namespace {

/// A leader on its own actor system, published over TLS on `port`.
struct leader_node {
    std::unique_ptr<actors::system_config> cfg;
    std::unique_ptr<caf::actor_system> sys;
    actors::committer_actor committer;
    actors::ledger_actor ledger;
    actors::gateway_actor gateway; // what is published: peers see nothing else

    std::uint16_t port = 0; // where it is published

    /// `at` 0: any free port.
    leader_node(const std::string& certs, std::shared_ptr<storage::ledger_store> store,
                std::uint16_t at) {
        sys = node_system(cfg, certs, "leader", certs + "/ca.crt");
        auto log =
            std::make_shared<const note::ed25519_signer>(origin, test::key_for("network-log"));
        actors::ledger_config config;
        config.origin = origin;
        config.replica_acks = 1;
        committer = sys->spawn<caf::detached>(actors::committer, store);
        ledger = sys->spawn(actors::ledger, config, store, log, committer);
        auto directory = std::make_shared<actors::directory>();
        directory->set("ledger", caf::actor_cast<caf::actor>(ledger));
        actors::gateway_config gateway_config;
        gateway_config.node_name = "leader";
        gateway_config.leading = true;
        gateway = sys->spawn(actors::gateway, std::move(gateway_config), store,
                             std::shared_ptr<const actors::directory>(directory));
        auto published = caf::openssl::publish(gateway, at, "127.0.0.1", true);
        REQUIRE(static_cast<bool>(published));
        port = *published;
    }
    ~leader_node() {
        caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(ledger, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(committer, caf::exit_reason::user_shutdown);
        gateway = nullptr;
        ledger = nullptr;
        committer = nullptr;
        sys.reset();
    }
    bool append(const bytes& raw) {
        caf::scoped_actor self{*sys};
        bool answered = false;
        self->request(ledger, 10s, atoms::append_atom_v, raw)
            .receive([&](const actors::append_receipt&) { answered = true; }, [](caf::error&) {});
        return answered;
    }
};

/// A replica on its own actor system, with its own store.
struct replica_node {
    std::unique_ptr<actors::system_config> cfg;
    std::unique_ptr<caf::actor_system> sys;
    std::shared_ptr<storage::ledger_store> store;
    actors::committer_actor committer;
    actors::replica_actor replica;

    replica_node(const std::string& certs, const std::string& dir) {
        sys = node_system(cfg, certs, "replica", certs + "/ca.crt");
        store = open_store(dir);
        committer = sys->spawn<caf::detached>(actors::committer, store);
        actors::replica_config config;
        config.origin = origin;
        note::ed25519_signer log{origin, test::key_for("network-log")};
        replica = sys->spawn(actors::replica, config, store, log.verifier_key(), committer);
    }
    ~replica_node() {
        caf::anon_send_exit(replica, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(committer, caf::exit_reason::user_shutdown);
        replica = nullptr;
        committer = nullptr;
        sys.reset();
    }
};

/// Asks the uplink whether it is joined until it says `want` (or 10 s pass).
bool wait_joined(caf::actor_system& sys, const actors::uplink_actor& up, bool want) {
    caf::scoped_actor self{sys};
    for (int i = 0; i < 200; ++i) {
        bool joined = !want;
        self->request(up, 1s, atoms::status_atom_v)
            .receive([&](const actors::link_status& s) { joined = s.joined; }, [](caf::error&) {});
        if (joined == want) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

} // namespace

TEST_CASE("network: a replica joins a leader over TLS and holds every answered batch, and a "
          "peer from another CA cannot connect",
          "[network]") {
    test::temp_dir dir("network");
    auto t = node::parse_topology(topology_text, "network.yaml");
    REQUIRE(t.ok());
    auto certs = (dir / "certs");
    auto other_certs = (dir / "other-certs");
    REQUIRE(node::make_network_certs(*t, certs).ok());
    REQUIRE(node::make_network_certs(*t, other_certs).ok());

    auto leader_store = open_store(dir / "leader");
    leader_node leader(certs, leader_store, 0);
    auto port = leader.port;

    // The replica, on its own actor system: connects, joins.
    replica_node rep(certs, dir / "replica");
    auto remote_gateway =
        caf::openssl::remote_actor<actors::gateway_actor>(*rep.sys, "127.0.0.1", port);
    INFO((remote_gateway ? "" : rep.sys->render(remote_gateway.error())));
    REQUIRE(static_cast<bool>(remote_gateway));
    {
        caf::scoped_actor self{*rep.sys};
        bool joined = false;
        std::string why;
        self->request(*remote_gateway, 10s, atoms::join_atom_v,
                      caf::actor_cast<caf::actor>(rep.replica))
            .receive([&](std::uint64_t) { joined = true; },
                     [&](caf::error& e) { why = rep.sys->render(e); });
        INFO(why);
        REQUIRE(joined);
    }

    // Appends on the leader are answered once the remote replica holds them.
    auto clerk = test::key_for("network-clerk");
    for (std::uint64_t n = 0; n < 20; ++n) {
        REQUIRE(leader.append(make_entry(clerk, n)));
        CHECK(rep.store->stored_size() >= n + 1);
    }
    CHECK(rep.store->stored_size() == 20);
    CHECK(**rep.store->latest_checkpoint() == **leader_store->latest_checkpoint());

    // A node whose certificate another CA signed is refused; so is one that trusts
    // only that other CA.
    {
        std::unique_ptr<actors::system_config> cfg;
        auto stranger = node_system(cfg, other_certs, "stranger", other_certs + "/ca.crt");
        auto refused =
            caf::openssl::remote_actor<actors::gateway_actor>(*stranger, "127.0.0.1", port);
        CHECK_FALSE(static_cast<bool>(refused));
    }
    {
        std::unique_ptr<actors::system_config> cfg;
        auto mixed = node_system(cfg, other_certs, "stranger", certs + "/ca.crt");
        auto refused = caf::openssl::remote_actor<actors::gateway_actor>(*mixed, "127.0.0.1", port);
        CHECK_FALSE(static_cast<bool>(refused));
    }

    {
        // And a node with no TLS at all (plain BASP).
        actors::system_config cfg(actors::system_options{});
        caf::actor_system plain(cfg);
        auto refused = plain.middleman().remote_actor<actors::gateway_actor>("127.0.0.1", port);
        CHECK_FALSE(static_cast<bool>(refused));
    }

    remote_gateway = caf::error{}; // drop the proxy before the actor systems go
}

TEST_CASE("network: a replica's uplink retries until the leader is up, joins, and rejoins a "
          "restarted leader",
          "[network]") {
    test::temp_dir dir("uplink");
    auto t = node::parse_topology(topology_text, "network.yaml");
    REQUIRE(t.ok());
    auto certs = (dir / "certs");
    REQUIRE(node::make_network_certs(*t, certs).ok());
    auto port = test::free_port();

    // The replica first, while no leader listens.
    replica_node rep(certs, dir / "replica");
    actors::uplink_config up_config;
    up_config.candidates = {{"127.0.0.1", port}};
    up_config.backoff_initial = 20ms;
    up_config.backoff_max = 200ms;
    up_config.connect_timeout = 2s;
    up_config.seed = 7;
    auto up = rep.sys->spawn(actors::uplink, up_config, rep.sys->openssl_manager().actor_handle(),
                             rep.replica);
    std::this_thread::sleep_for(300ms);
    CHECK(wait_joined(*rep.sys, up, false));

    auto leader_store = open_store(dir / "leader");
    auto clerk = test::key_for("network-clerk");
    {
        leader_node leader(certs, leader_store, port);
        REQUIRE(wait_joined(*rep.sys, up, true));
        for (std::uint64_t n = 0; n < 5; ++n)
            REQUIRE(leader.append(make_entry(clerk, n)));
        CHECK(rep.store->stored_size() == 5);
    } // the leader goes away...
    REQUIRE(wait_joined(*rep.sys, up, false));
    {
        leader_node leader(certs, leader_store, port); // ...and comes back on its store
        REQUIRE(wait_joined(*rep.sys, up, true));
        for (std::uint64_t n = 5; n < 10; ++n)
            REQUIRE(leader.append(make_entry(clerk, n)));
        CHECK(rep.store->stored_size() == 10);
        CHECK(**rep.store->latest_checkpoint() == **leader_store->latest_checkpoint());
    }

    caf::anon_send_exit(up, caf::exit_reason::user_shutdown);
    up = nullptr;
}

TEST_CASE("uplink: backoff doubles up to its cap, with jitter from the seed", "[network]") {
    actors::uplink_config c;
    c.backoff_initial = 100ms;
    c.backoff_max = 1000ms;
    std::minstd_rand a(7), b(7);
    for (std::uint32_t failures = 1; failures < 40; ++failures) {
        auto d = actors::uplink_backoff(c, failures, a);
        auto base =
            std::min<std::int64_t>(100LL << std::min<std::uint32_t>(failures - 1, 30), 1000);
        CHECK(d.count() >= base / 2);
        CHECK(d.count() <= std::min<std::int64_t>(base * 3 / 2, 1000));
        CHECK(d == actors::uplink_backoff(c, failures, b)); // same seed, same delays
    }
}
