// What the service tests share: one node in-process on a fresh data directory
// (restartable, tokens for its identities), and signing through restarts.
#pragma once

#include "node/service/service.hpp"
#include "node/test_http_client.hpp"
#include "process.hpp"
#include "storage/ledger_store.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>
#include <utility>
#include <vector>

namespace civic::test::service_support {

using json = nlohmann::json;
using test::bhttp::verb;

struct node_fixture {
    test::temp_dir dir{"service"};
    node::init_result init;
    std::unique_ptr<node::service> node;
    std::string clerk_token;

    node_fixture() {
        auto made = node::init_data_dir(dir / "data", "service.test/log");
        REQUIRE(made.ok());
        init = *made;
        start();
    }
    void start() {
        node::service_options options;
        options.data_dir = dir / "data";
        options.http.max_body = 4096;
        options.http.request_timeout = std::chrono::milliseconds(1500); // slow clients: 408
        auto started = node::service::start(options);
        INFO((started ? "" : started.message()));
        REQUIRE(started.ok());
        node = std::move(*started);
    }
    void restart() {
        node->stop();
        node.reset();
        start();
    }
    std::string token_for(const std::string& identity) {
        auto store = storage::ledger_store::open({dir / "data/ledger"});
        auto token = node::make_token();
        REQUIRE((*store)->put_token(sha256(byte_view(token)), {"test", false, {identity}}).ok());
        return token;
    }
    test::client client() { return test::client(node->http_port()); }
};

inline std::string bearer(const std::string& token) { return "Bearer " + token; }

/// Signs `text` as town/clerk on the node at `port`, retrying for up to 30 s while
/// actors restart (the client sees 503 meanwhile, never a hang); records the receipt's
/// index and content hash in `acked`.
inline bool sign_through_restarts(std::uint16_t port, const std::string& authorization,
                                  const std::string& text,
                                  std::vector<std::pair<std::uint64_t, std::string>>& acked) {
    auto content = hex_encode(sha256(byte_view(text)));
    // Time, not attempts: a replica's uplink may need a whole connection
    // timeout (5 s by default) before it rejoins, on a busy machine.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < until) {
        auto res = test::client(port).send(
            verb::post, "/api/sign",
            json{{"identity", "town/clerk"}, {"content_sha256", content}}.dump(), authorization);
        if (res.result_int() == 200) {
            acked.emplace_back(json::parse(res.body())["index"].get<std::uint64_t>(), content);
            return true;
        }
        CHECK(res.result_int() == 503);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

} // namespace civic::test::service_support
