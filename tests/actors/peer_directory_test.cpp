// The peer directory: which remote CAF node is which node of the topology, as
// the peer port's TLS front bound them, and the sender check built on it.
#include "actors/peer_directory.hpp"
#include "actors/system.hpp"
#include "protocol/basp_guard.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <unistd.h>

using namespace civic;

namespace civic_peer_directory_test {

std::uint64_t big_endian(const std::string& bytes, std::size_t at, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i)
        v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return v;
}

TEST_CASE("peer directory: a CAF node id serializes as the BASP guard reads it",
          "[actors][basp][hardening]") {
    actors::system_config cfg({/*deterministic=*/true});
    caf::actor_system sys(cfg);
    auto bytes = actors::serialized_node_id(sys.node());
    // The layout protocol/basp_guard.hpp expects: tag, pid, 20 bytes of host id.
    REQUIRE(bytes.size() == basp::node_id_size);
    CHECK(big_endian(bytes, 0, 8) == basp::default_node_id_tag);
    CHECK(big_endian(bytes, 8, 4) == static_cast<std::uint64_t>(::getpid())); // CAF: the pid
}

TEST_CASE("peer directory: a node id is bound to one name while a connection holds it",
          "[actors][hardening]") {
    actors::peer_directory peers;
    const std::string a(32, 'a'), b(32, 'b');
    CHECK(peers.bind(a, "replica-a"));
    CHECK_FALSE(peers.bind(a, "w1"));  // another certificate cannot take it
    CHECK(peers.bind(a, "replica-a")); // a second connection of the same node
    CHECK(peers.bind(b, "w1"));
    peers.release(a);
    CHECK_FALSE(peers.bind(a, "w1")); // one connection still holds it
    peers.release(a);
    CHECK(peers.bind(a, "w1")); // free once the last one closed
    CHECK(peers.size() == 2);
    // After its last connection, a node id keeps its name for late messages,
    // until 1,024 newer ones are let go.
    peers.release(b);
    for (int i = 0; i < 1023; ++i) {
        auto id = std::to_string(i);
        REQUIRE(peers.bind(id, "n"));
        peers.release(id);
    }
    CHECK(peers.size() == 2 + 1023);
    REQUIRE(peers.bind("last", "n"));
    peers.release("last");
    CHECK(peers.size() == 2 + 1023); // b was the oldest let go: forgotten
}

TEST_CASE("peer directory: the sender check passes this node's actors and, without a "
          "directory, everyone",
          "[actors][hardening]") {
    actors::system_config cfg({/*deterministic=*/true});
    caf::actor_system sys(cfg);
    caf::scoped_actor self{sys};
    auto local = caf::actor_cast<caf::strong_actor_ptr>(self);
    actors::peer_directory peers;
    const std::set<std::string> leaders{"leader"};
    CHECK(actors::sender_refusal(nullptr, nullptr, sys.node(), &leaders, "offer").empty());
    CHECK(actors::sender_refusal(&peers, local, sys.node(), &leaders, "offer").empty());
    CHECK(actors::sender_refusal(&peers, nullptr, sys.node(), nullptr, "gossip").empty());
    CHECK(actors::sender_refusal(&peers, nullptr, sys.node(), &leaders, "offer") ==
          "an anonymous offer is refused");
}

} // namespace civic_peer_directory_test
