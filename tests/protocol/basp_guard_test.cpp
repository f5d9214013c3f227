// What a peer may send on the peer port: BASP frames held to the node that
// connected (protocol/basp_guard.hpp). Frames are built here as CAF 0.17.6
// writes them (header and node id layout checked against a real CAF node in
// tests/node: the cluster tests run every connection through the guard).
#include "protocol/basp_guard.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

using namespace civic;

namespace {

using frame_bytes = std::vector<std::uint8_t>;

void put_be(frame_bytes& out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i)
        out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

frame_bytes node_id(std::uint32_t pid, std::uint8_t host_seed = 1,
                    std::uint64_t tag = basp::default_node_id_tag) {
    frame_bytes out;
    put_be(out, tag, 8);
    put_be(out, pid, 4);
    for (std::uint8_t i = 0; i < 20; ++i)
        out.push_back(static_cast<std::uint8_t>(host_seed + i));
    return out;
}

frame_bytes frame(basp::operation op, const frame_bytes& payload, std::uint8_t flags = 0,
                 std::uint64_t dest_actor = 9, std::uint64_t message_id = 7) {
    frame_bytes out;
    out.push_back(static_cast<std::uint8_t>(op));
    out.push_back(0);
    out.push_back(0);
    out.push_back(flags);
    put_be(out, payload.size(), 4);
    put_be(out, message_id, 8); // operation data
    put_be(out, 42, 8);         // source actor
    put_be(out, dest_actor, 8);
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

frame_bytes operator+(frame_bytes a, const frame_bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// The guard's verdict on `stream` fed in pieces of `piece` bytes.
/// The guard's verdict on `stream` fed in pieces of `piece` bytes; `passed`
/// gets what it let through.
std::string verdict(const frame_bytes& stream, std::size_t piece,
                    std::optional<std::string>* node = nullptr,
                    basp::receiver_check may_receive = {}, std::string* passed = nullptr) {
    basp::stream_guard guard(1 << 16, std::move(may_receive));
    std::string out;
    for (std::size_t at = 0; at < stream.size(); at += piece) {
        auto n = std::min(piece, stream.size() - at);
        if (auto s = guard.feed(stream.data() + at, n, out); !s) return s.message();
    }
    if (node) *node = guard.peer_node();
    if (passed) *passed = out;
    return "ok";
}

std::string text(const frame_bytes& b) { return std::string(b.begin(), b.end()); }

const frame_bytes peer = node_id(1000);
const frame_bytes other = node_id(1001);
const frame_bytes app_ids = {0x01, 0x07, 'c', 'i', 'v', 'i', 'c', '-', 'a', 0, 0, 0, 0, 0, 0, 0, 5, 0};

} // namespace

TEST_CASE("basp guard: a peer's own traffic passes whole and names its node, however it is cut",
          "[protocol][basp][hardening]") {
    auto stream = frame(basp::operation::server_handshake, peer + app_ids) +
                  frame(basp::operation::direct_message, {0, 1, 2, 3}) +
                  frame(basp::operation::heartbeat, {}) +
                  frame(basp::operation::client_handshake, peer, 0x02) +
                  frame(basp::operation::routed_message, peer + other + frame_bytes{9, 9}) +
                  frame(basp::operation::monitor_message, peer + other) +
                  frame(basp::operation::down_message, peer + other + frame_bytes{0});
    for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{32}, stream.size()}) {
        std::optional<std::string> node;
        std::string passed;
        INFO("pieces of " << piece);
        CHECK(verdict(stream, piece, &node, {}, &passed) == "ok");
        CHECK(passed == text(stream)); // unchanged
        REQUIRE(node);
        CHECK(*node == std::string(peer.begin(), peer.end()));
    }
}

TEST_CASE("basp guard: no peer speaks for another node", "[protocol][basp][hardening]") {
    auto hello = frame(basp::operation::client_handshake, peer);
    CHECK_THAT(verdict(hello + frame(basp::operation::routed_message, other + peer), 5),
               Catch::Contains("routed message speaks for another node"));
    CHECK_THAT(verdict(hello + frame(basp::operation::down_message, other + peer + frame_bytes{0}),
                       3),
               Catch::Contains("down message speaks for another node"));
    CHECK_THAT(verdict(hello + frame(basp::operation::monitor_message, other + peer), 64),
               Catch::Contains("monitor message speaks for another node"));
    CHECK_THAT(verdict(hello + frame(basp::operation::client_handshake, other, 0x02), 1),
               Catch::Contains("second handshake names another node"));
}

TEST_CASE("basp guard: a stream that does not begin with a handshake, or frames it cannot read, "
          "are refused",
          "[protocol][basp][hardening]") {
    CHECK_THAT(verdict(frame(basp::operation::direct_message, {1, 2, 3}), 4),
               Catch::Contains("first frame is a direct message, not a handshake"));
    CHECK_THAT(verdict(frame(basp::operation::routed_message, peer + other), 4),
               Catch::Contains("first frame is a routed message"));
    auto unknown = frame(basp::operation::heartbeat, {});
    unknown[0] = 7;
    CHECK_THAT(verdict(unknown, 1), Catch::Contains("unknown operation 7"));
    CHECK_THAT(verdict(frame(basp::operation::client_handshake, frame_bytes(10, 0)), 1),
               Catch::Contains("cannot name its node"));
    CHECK_THAT(verdict(frame(basp::operation::client_handshake, node_id(1, 1, 0xf)), 2),
               Catch::Contains("not made of pid and host id"));
    // A frame that announces more than the cap is refused at its header.
    auto huge = frame(basp::operation::client_handshake, peer);
    huge[4] = 0x7f;
    CHECK_THAT(verdict(huge, 32), Catch::Contains("at most 65536"));

    // Once refused, always refused: nothing more passes.
    basp::stream_guard guard(1 << 16);
    std::string out;
    auto bad = frame(basp::operation::direct_message, {});
    CHECK_FALSE(guard.feed(bad.data(), bad.size(), out));
    auto good = frame(basp::operation::client_handshake, peer);
    CHECK_FALSE(guard.feed(good.data(), good.size(), out));
    CHECK(out.empty());
    CHECK_FALSE(guard.peer_node());
}

TEST_CASE("basp guard: messages other than responses reach only the actors a node exposes, "
          "the rest are left out",
          "[protocol][basp][hardening]") {
    // This node exposes actor 9 (say, its gateway) and the named actor 77.
    auto exposed = [](std::uint64_t dest, bool named) { return named ? dest == 77 : dest == 9; };
    auto hello = frame(basp::operation::client_handshake, peer);
    auto to = [](std::uint64_t dest, std::uint8_t flags = 0, std::uint64_t id = 7) {
        return frame(basp::operation::direct_message, {1, 2}, flags, dest, id);
    };
    // A response goes to whoever asked (CAF drops one nobody waits for).
    auto response = to(5, 0, basp::response_flag | 7);
    auto kept = hello + to(9) + response + to(77, basp::named_receiver_flag);
    auto stream = hello + to(9) + to(5) + response + to(77, basp::named_receiver_flag) +
                  to(9, basp::named_receiver_flag) +
                  frame(basp::operation::routed_message, peer + other, 0, 5);
    for (std::size_t piece : {std::size_t{1}, std::size_t{3}, stream.size()}) {
        INFO("pieces of " << piece);
        std::string passed;
        CHECK(verdict(stream, piece, nullptr, exposed, &passed) == "ok");
        CHECK(passed == text(kept));
    }
    basp::stream_guard guard(1 << 16, exposed);
    std::string out;
    REQUIRE(guard.feed(stream.data(), stream.size(), out));
    CHECK(guard.dropped() == 3);
    CHECK(guard.last_dropped_receiver() == 5);
    // Without a check, every receiver.
    std::string passed;
    CHECK(verdict(stream, 4, nullptr, {}, &passed) == "ok");
    CHECK(passed == text(stream));
}

TEST_CASE("basp guard: an answer to what this node asked a peer's named actor gets through",
          "[protocol][basp][hardening]") {
    // What this node's CAF sent: a handshake, then a question to the peer's
    // SpawnServ from its helper, actor 31.
    basp::outgoing_watch watch;
    auto question = frame(basp::operation::client_handshake, other) +
                    frame(basp::operation::direct_message, {1, 2, 3}, basp::named_receiver_flag, 99);
    question[question.size() - 3 - 32 + 16 + 7] = 31; // source actor 31
    for (auto b : question)
        watch.feed(&b, 1);
    CHECK(watch.asked(31));
    CHECK_FALSE(watch.asked(42));
    CHECK_FALSE(watch.asked(0));
}

TEST_CASE("basp guard: a response passes only for a request that went to that peer, and once",
          "[protocol][basp][hardening]") {
    // This node's actor 31 asked the peer request 5; nothing else.
    basp::outgoing_watch watch;
    auto asked = frame(basp::operation::client_handshake, other) +
                 frame(basp::operation::direct_message, {1}, 0, 9, 5);
    asked[asked.size() - 1 - 32 + 16 + 7] = 31; // source actor 31
    watch.feed(asked.data(), asked.size());
    CHECK(watch.pending() == 1);

    basp::stream_guard guard(1 << 16, {}, [&watch](std::uint64_t dest, std::uint64_t request) {
        return watch.answer(dest, request);
    });
    auto answer = [](std::uint64_t dest, std::uint64_t request) {
        return frame(basp::operation::direct_message, {7}, 0, dest, basp::response_flag | request);
    };
    auto hello = frame(basp::operation::server_handshake, peer + app_ids);
    auto stream = hello + answer(31, 5) + answer(31, 5) + answer(31, 6) + answer(32, 5);
    std::string out;
    REQUIRE(guard.feed(stream.data(), stream.size(), out));
    CHECK(out == text(hello + answer(31, 5))); // the first answer alone
    CHECK(guard.dropped() == 3);
    CHECK(watch.pending() == 0);
}
