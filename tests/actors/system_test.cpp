// Our actor system configuration (actors/system.hpp): every message type of
// our type ID block can cross a node boundary, deterministic mode puts the
// scheduler and the network on virtual time, and the BASP heartbeat, timeouts
// and worker settings are the ones asked for. CAF itself is not under test.
#include "actors/actors.hpp"
#include "actors/system.hpp"

#include <caf/all.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/test_multiplexer.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace civic;
using namespace std::chrono_literals;

namespace civic_system_test {

/// The names of the types of our block that the system cannot make from their
/// name, as a peer's message is read: empty when every one is registered.
template <std::size_t... Is>
std::vector<std::string> unregistered(const caf::actor_system& sys, std::index_sequence<Is...>) {
    constexpr auto first = caf::id_block::civic_attest::begin;
    std::vector<std::string> out;
    for (std::string name : {std::string(caf::type_name_by_id<first + Is>::value)...})
        if (!sys.types().make_value(name)) out.push_back(name);
    return out;
}

TEST_CASE("system config: every type of our type ID block is registered and a message of them "
          "survives the wire format",
          "[actors][system]") {
    actors::system_config cfg({/*deterministic=*/true});
    caf::actor_system sys(cfg);
    constexpr auto count = caf::id_block::civic_attest::end - caf::id_block::civic_attest::begin;
    STATIC_REQUIRE(count == 16); // a type added to the block is added to this test too
    CHECK(unregistered(sys, std::make_index_sequence<count>{}).empty());

    // What a replica sends its leader's gateway, serialized as BASP does.
    actors::gossip_message sent{"replica-a",
                                {"checkpoint one\n", "checkpoint two\n"},
                                {{"ours\n", "theirs\n", bytes(32, 7), bytes(64, 9), "w1"}}};
    auto message = caf::make_message(atoms::gossip_atom_v, sent);
    std::vector<char> buffer;
    caf::binary_serializer sink{sys, buffer};
    REQUIRE_FALSE(sink(message));
    caf::message read;
    caf::binary_deserializer source{sys, buffer};
    REQUIRE_FALSE(source(read));
    REQUIRE(read.match_elements<atoms::gossip_atom, actors::gossip_message>());
    const auto& got = read.get_as<actors::gossip_message>(1);
    CHECK(got.from == sent.from);
    CHECK(got.checkpoints == sent.checkpoints);
    REQUIRE(got.evidence.size() == 1);
    CHECK(got.evidence[0].root_at_smaller == sent.evidence[0].root_at_smaller);
    CHECK(got.evidence[0].proof == sent.evidence[0].proof);
    CHECK(got.evidence[0].shown_by == "w1");
}

TEST_CASE("system config: deterministic mode runs the scheduler and the network on virtual time",
          "[actors][system]") {
    actors::system_config cfg({/*deterministic=*/true});
    caf::actor_system sys(cfg);
    auto* sched = dynamic_cast<caf::scheduler::test_coordinator*>(&sys.scheduler());
    REQUIRE(sched != nullptr);
    REQUIRE(sys.has_middleman());
    CHECK(dynamic_cast<caf::io::network::test_multiplexer*>(&sys.middleman().backend()) != nullptr);
    CHECK(caf::get_or(cfg, "middleman.workers", std::size_t{99}) == 0);
    // Time moves only when the test moves it.
    auto start = sched->clock().now();
    sched->run();
    CHECK(sched->clock().now() == start);
    sched->advance_time(5s);
    CHECK(sched->clock().now() - start == caf::timespan{5s});
}

TEST_CASE("system config: heartbeats, the connection timeout and the worker settings are set as "
          "asked, and the real scheduler is used outside deterministic mode",
          "[actors][system]") {
    SECTION("the defaults: heartbeats every second, a 5 s connection timeout") {
        actors::system_config cfg;
        CHECK(caf::get_or(cfg, "middleman.heartbeat-interval", caf::timespan{0}) ==
              caf::timespan{1s});
        CHECK(caf::get_or(cfg, "middleman.connection-timeout", caf::timespan{0}) ==
              caf::timespan{5s});
        CHECK(caf::get_or(cfg, "work-stealing.moderate-poll-attempts", std::size_t{99}) == 0);
        CHECK_FALSE(caf::get_if<std::size_t>(&cfg, "scheduler.max-threads"));
    }
    SECTION("chosen values, on a system with real threads") {
        actors::system_options options;
        options.heartbeat_interval = 250ms;
        options.connection_timeout = 1500ms;
        options.worker_threads = 1;
        options.moderate_poll_attempts = 7;
        actors::system_config cfg(options);
        CHECK(caf::get_or(cfg, "middleman.heartbeat-interval", caf::timespan{0}) ==
              caf::timespan{250ms});
        CHECK(caf::get_or(cfg, "middleman.connection-timeout", caf::timespan{0}) ==
              caf::timespan{1500ms});
        CHECK(caf::get_or(cfg, "work-stealing.moderate-poll-attempts", std::size_t{0}) == 7);
        CHECK(caf::get_or(cfg, "scheduler.max-threads", std::size_t{0}) == 1);
        caf::actor_system sys(cfg);
        CHECK(dynamic_cast<caf::scheduler::test_coordinator*>(&sys.scheduler()) == nullptr);
        CHECK(sys.scheduler().num_workers() == 1);
        CHECK(dynamic_cast<caf::io::network::test_multiplexer*>(&sys.middleman().backend()) ==
              nullptr);
        CHECK_FALSE(sys.has_openssl_manager()); // no CA: no TLS module
    }
}

TEST_CASE("system config: with a CA, the TLS module is loaded with the node's certificate, key "
          "and CA",
          "[actors][system]") {
    actors::system_options options; // on real threads: the TLS module needs the real network
    options.worker_threads = 1;
    options.tls_certificate = "/nowhere/node.pem";
    options.tls_key = "/nowhere/node.key";
    options.tls_ca = "/nowhere/ca.pem";
    actors::system_config cfg(options);
    CHECK(cfg.openssl_certificate == options.tls_certificate);
    CHECK(cfg.openssl_key == options.tls_key);
    CHECK(cfg.openssl_cafile == options.tls_ca);
    caf::actor_system sys(cfg);
    CHECK(sys.has_openssl_manager());
}

} // namespace civic_system_test
