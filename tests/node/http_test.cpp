#include "api/fake_operations.hpp"
#include "node/api/node_api.hpp"
#include "node/http/client.hpp"
#include "node/http/server.hpp"
#include "node/test_http_client.hpp"
#include "protocol/checkpoint.hpp"
#include "support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <array>
#include <mutex>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace civic;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

using test::client;

namespace {

/// Reads tiles over HTTP, as any tlog-tiles client would.
struct http_tile_reader final : tiles::tile_reader {
    std::uint16_t port;
    explicit http_tile_reader(std::uint16_t p) : port(p) {}
    status read_tiles(const std::vector<tiles::tile_id>& ids,
                      std::vector<std::vector<hash>>& out) const override {
        client c(port);
        out.clear();
        for (const auto& t : ids) {
            auto res = c.get("/" + tiles::tile_path(t));
            if (res.result_int() != 200)
                return make_error("GET " + tiles::tile_path(t) + ": " +
                                  std::to_string(res.result_int()));
            const auto& b = res.body();
            if (b.size() != std::size_t{t.width} * 32) return make_error("tile of the wrong size");
            std::vector<hash> hashes(t.width);
            for (std::size_t i = 0; i < t.width; ++i)
                std::copy_n(b.data() + 32 * i, 32, hashes[i].begin());
            out.push_back(std::move(hashes));
        }
        return {};
    }
};

} // namespace

TEST_CASE("http server: keep-alive, limits, deadline, answers from other threads", "[http]") {
    node::http_options options;
    options.max_body = 1024;
    options.request_timeout = std::chrono::milliseconds(300);
    node::http_server server(
        options, [](const node::http_request& req, node::http_respond respond) {
            if (req.target == "/never") return; // the deadline must answer
            if (req.target == "/later") {
                std::thread([respond] {
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                    respond({200, "text/plain", "later", {}});
                }).detach();
                return;
            }
            respond({200,
                     "text/plain",
                     req.method + " " + req.target + " " + std::to_string(req.body.size()),
                     {}});
        });
    REQUIRE(server.start().ok());

    client c(server.port());
    for (int i = 0; i < 3; ++i) {
        auto res = c.get("/echo" + std::to_string(i));
        CHECK(res.result_int() == 200);
        CHECK(res.body() == "GET /echo" + std::to_string(i) + " 0");
        CHECK(res.keep_alive());
    }
    CHECK(c.get("/later").body() == "later");
    auto posted = c.send(bhttp::verb::post, "/p", std::string(1000, 'x'));
    CHECK(posted.body() == "POST /p 1000");

    auto big = client(server.port()).send(bhttp::verb::post, "/p", std::string(5000, 'x'));
    CHECK(big.result_int() == 413);
    CHECK(big.body().find("\"error\":\"body_too_large\"") != std::string::npos);

    auto slow = client(server.port()).get("/never");
    CHECK(slow.result_int() == 503);
    CHECK(slow.body().find("\"error\":\"timeout\"") != std::string::npos);

    // Garbage instead of HTTP gets a 400 and the server keeps serving.
    {
        asio::io_context ioc;
        tcp::socket raw(ioc);
        raw.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
        std::string junk = "\x01\x02 not http\r\n\r\n";
        asio::write(raw, asio::buffer(junk));
        beast::flat_buffer buf;
        bhttp::response<bhttp::string_body> res;
        bhttp::read(raw, buf, res);
        CHECK(res.result_int() == 400);
    }
    // Slow clients: half a request line, or headers without the promised body,
    // then silence. Each gets a 408 within the deadline and the server keeps serving;
    // an idle keep-alive connection is closed without an answer.
    for (std::string partial :
         {std::string("GET /slo"), std::string("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                               "100\r\n\r\nonly part of it")}) {
        INFO(partial);
        asio::io_context ioc;
        tcp::socket raw(ioc);
        raw.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
        asio::write(raw, asio::buffer(partial));
        auto sent = std::chrono::steady_clock::now();
        beast::flat_buffer buf;
        bhttp::response<bhttp::string_body> res;
        bhttp::read(raw, buf, res);
        CHECK(res.result_int() == 408);
        CHECK(res.body().find("\"error\":\"request_timeout\"") != std::string::npos);
        CHECK(std::chrono::steady_clock::now() - sent < std::chrono::seconds(5));
    }
    {
        asio::io_context ioc;
        tcp::socket idle(ioc);
        idle.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
        std::array<char, 16> byte{};
        beast::error_code ec;
        auto n = idle.read_some(asio::buffer(byte), ec); // returns when the server hangs up
        CHECK(n == 0);
        CHECK(ec == asio::error::eof);
    }
    CHECK(client(server.port()).get("/still-up").result_int() == 200);
    server.stop();
}

TEST_CASE("http server: every answer reaches the response observer, with the time from the "
          "request to its answer",
          "[http]") {
    node::http_options options;
    options.max_body = 16;
    // Filled on the server's I/O thread; checked here once the server has stopped
    // (Catch2 2.x assertions are not thread-safe).
    struct observed {
        std::string target;
        unsigned status;
        std::chrono::microseconds elapsed;
    };
    std::mutex seen_mutex;
    std::vector<observed> seen;
    options.on_response = [&](const std::string& target, unsigned status,
                              std::chrono::microseconds elapsed) {
        std::lock_guard<std::mutex> lock(seen_mutex);
        seen.push_back({target, status, elapsed});
    };
    constexpr auto handler_delay = std::chrono::milliseconds(50);
    node::http_server server(
        options, [handler_delay](const node::http_request& req, node::http_respond respond) {
            if (req.target == "/slow") {
                std::thread([respond, handler_delay] {
                    std::this_thread::sleep_for(handler_delay);
                    respond({204, "text/plain", "", {}});
                }).detach();
                return;
            }
            respond({204, "text/plain", "", {}});
        });
    REQUIRE(server.start().ok());
    client c(server.port());
    CHECK(c.get("/a?x=1").result_int() == 204);
    auto asked = std::chrono::steady_clock::now();
    CHECK(c.get("/slow").result_int() == 204);
    auto slow_round_trip = std::chrono::steady_clock::now() - asked;
    CHECK(client(server.port()).send(bhttp::verb::post, "/b", std::string(100, 'x')).result_int() ==
          413);
    server.stop();
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].target == "/a?x=1");
    CHECK(seen[0].status == 204u);
    CHECK(seen[1].target == "/slow");
    CHECK(seen[2].status == 413u);
    // The time observed is the request's: at least what the handler took, at
    // most what the client waited for it.
    INFO("observed " << seen[1].elapsed.count() << " us");
    CHECK(seen[1].elapsed >= handler_delay);
    CHECK(seen[1].elapsed <= slow_round_trip);
}

TEST_CASE("tlog-tiles API: checkpoint, tiles and entry bundles from the store", "[http][tiles]") {
    test::temp_dir dir("tiles-api");
    auto store = storage::ledger_store::open({dir.path.string()});
    REQUIRE(store.ok());
    auto log = test::log_signer("tiles.test/log");
    storage::tree_state tree;
    (*store)->trust(tree); // what it serves is checked against the tree its commits make
    std::vector<bytes> all;
    // Two batches: 300 then 70000 - 300 entries (three tile levels, partial tiles at each).
    for (std::size_t n : {300u, 69700u}) {
        storage::batch b;
        b.first_index = tree.size();
        for (std::size_t i = 0; i < n; ++i) {
            auto s = "entry " + std::to_string(all.size());
            all.emplace_back(s.begin(), s.end());
            tree.append(merkle::leaf_hash(all.back()));
            b.entries.push_back(all.back());
        }
        b.tiles = tree.take_changed_tiles();
        b.range = tree.range().hashes();
        checkpoint cp{"tiles.test/log", tree.size(), tree.root(), {}};
        b.checkpoint = note::serialize(note::note{cp.text(), {log.sign(cp.text())}});
        REQUIRE((*store)->commit(b).ok());
    }
    const storage::ledger_store& s = **store;
    // The node's API over the store; damage reports come on the server's
    // threads: kept, and checked on this one.
    struct store_node final : test::fake_operations {
        const storage::ledger_store& store;
        std::mutex damage_mutex;
        std::vector<std::string> damage_seen;
        explicit store_node(const storage::ledger_store& st) : store(st) {
            node_facts.holds_ledger = true;
        }
        std::uint64_t verified_size() const override { return store.verified_size(); }
        const tiles::tile_reader& verified_tiles() const override { return store.verified_tiles(); }
        result<bytes> checked_entry_bundle(std::uint64_t tile, std::uint16_t width) const override {
            return store.checked_entry_bundle(tile, width);
        }
        result<std::optional<std::string>> latest_checkpoint() const override {
            return store.latest_checkpoint();
        }
        void report_damage(const std::string& what) override {
            std::lock_guard<std::mutex> lock(damage_mutex);
            damage_seen.push_back(what);
        }
    } ops(s);
    node::api::node_api api(ops);
    node::http_server server({}, [&](const node::http_request& req, node::http_respond respond) {
        api.handle(req, std::move(respond));
    });
    REQUIRE(server.start().ok());
    client c(server.port());

    auto cp = c.get("/checkpoint");
    REQUIRE(cp.result_int() == 200);
    CHECK(cp[bhttp::field::content_type] == "text/plain; charset=utf-8");
    auto parsed = parse_signed_checkpoint(cp.body());
    REQUIRE(parsed.ok());
    CHECK(parsed->body.size == 70000);

    // The spec's example sizes: 273 full level-0 tiles and a partial of 112, and so on.
    CHECK(c.get("/tile/0/272").body().size() == 8192);
    CHECK(c.get("/tile/0/273.p/112").body().size() == 112 * 32);
    CHECK(c.get("/tile/1/001.p/17").body().size() == 17 * 32);
    CHECK(c.get("/tile/2/000.p/1").body().size() == 32);
    auto full = c.get("/tile/0/000");
    CHECK(full[bhttp::field::content_type] == "application/octet-stream");
    CHECK(full[bhttp::field::cache_control].find("immutable") != beast::string_view::npos);
    // Partial tiles of past checkpoints are prefixes of today's: still served.
    CHECK(c.get("/tile/0/001.p/44").result_int() == 200);
    CHECK(c.get("/tile/0/273").result_int() == 404);       // not full yet
    CHECK(c.get("/tile/0/273.p/113").result_int() == 404); // wider than the tree
    CHECK(c.get("/tile/0/x001/000").result_int() == 404);
    CHECK(c.get("/tile/3/000.p/1").result_int() == 404);
    CHECK(c.get("/tile/0/01").result_int() == 400);
    CHECK(c.get("/tile/0/000.p/0").result_int() == 400);
    CHECK(c.send(bhttp::verb::post, "/checkpoint").result_int() == 405);

    // Entry bundles: uint16 big-endian lengths, then the entries, hashing to level-0 tile.
    auto bundle = c.get("/tile/entries/001");
    REQUIRE(bundle.result_int() == 200);
    const auto& b = bundle.body();
    std::size_t at = 0, count = 0;
    auto tile1 = c.get("/tile/0/001").body();
    while (at < b.size()) {
        std::size_t len = get_u16_be(reinterpret_cast<const std::uint8_t*>(b.data() + at));
        at += 2;
        auto leaf =
            merkle::leaf_hash(byte_view(reinterpret_cast<const std::uint8_t*>(b.data() + at), len));
        CHECK(std::equal(leaf.begin(), leaf.end(),
                         reinterpret_cast<const std::uint8_t*>(tile1.data() + 32 * count)));
        at += len;
        ++count;
    }
    CHECK(count == 256);
    CHECK(c.get("/tile/entries/273.p/112").result_int() == 200);

    // A client that knows only the HTTP API computes and checks a proof from the tiles.
    http_tile_reader over_http(server.port());
    auto proof = tiles::inclusion_proof(over_http, 65432, 70000);
    REQUIRE(proof.ok());
    CHECK(merkle::verify_inclusion(65432, 70000, merkle::leaf_hash(all[65432]), *proof,
                                   parsed->body.root)
              .ok());
    auto cons = tiles::consistency_proof(over_http, 300, 70000);
    REQUIRE(cons.ok());
    auto first = parse_signed_checkpoint(**s.checkpoint_at(300));
    CHECK(merkle::verify_consistency(300, 70000, *cons, first->body.root, parsed->body.root).ok());
    server.stop();
    CHECK(ops.damage_seen.empty()); // an intact store reports none
}

TEST_CASE("http client: a server that accepts and never answers fails the call at its deadline",
          "[http]") {
    // A listening socket nobody reads: the kernel completes the handshake.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    auto began = std::chrono::steady_clock::now();
    auto res = node::http_call({"127.0.0.1", std::to_string(ntohs(addr.sin_port))}, "GET",
                               "/api/status", "", "", std::chrono::milliseconds(300));
    auto took = std::chrono::steady_clock::now() - began;
    ::close(fd);
    REQUIRE_FALSE(res.ok());
    CHECK(res.message().find("no answer within the timeout") != std::string::npos);
    CHECK(took < std::chrono::seconds(3));
}
