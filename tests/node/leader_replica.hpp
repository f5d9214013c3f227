// A leader and one replica in this process, joined over CAF without TLS (TLS
// is covered by the network tests): what the service and log tests start from.
#pragma once

#include "node/service/service.hpp"
#include "process.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace civic::test {

struct leader_and_replica {
    node::init_result made; // the leader's data directory: log key, admin token
    std::unique_ptr<node::service> leader;
    std::unique_ptr<node::service> replica;

    using adjust = std::function<void(node::service_options&)>;

    /// Starts both under `dir` ("leader", "replica"); `leader_options` and
    /// `replica_options` set what a test needs before each starts.
    leader_and_replica(const std::filesystem::path& dir, const std::string& origin,
                       const adjust& leader_options = {}, const adjust& replica_options = {}) {
        auto initialised = node::init_data_dir(dir / "leader", origin);
        REQUIRE(initialised.ok());
        made = *initialised;
        node::service_options lo;
        lo.data_dir = dir / "leader";
        lo.network.node_name = "leader";
        lo.network.insecure_dev = true;
        lo.network.caf_port = free_port();
        if (leader_options) leader_options(lo);
        leader = start(lo);

        REQUIRE(node::init_replica_dir(dir / "replica", origin).ok());
        node::service_options ro;
        ro.data_dir = dir / "replica";
        ro.network.node_name = "replica";
        ro.network.leading = false;
        ro.network.insecure_dev = true;
        ro.network.leader_candidates = {{"127.0.0.1", leader->caf_port()}};
        ro.network.log_vkey = made.log_vkey;
        if (replica_options) replica_options(ro);
        replica = start(ro);
    }

private:
    static std::unique_ptr<node::service> start(const node::service_options& options) {
        auto started = node::service::start(options);
        INFO(options.network.node_name << ": " << (started ? "" : started.message()));
        REQUIRE(started.ok());
        return std::move(*started);
    }
};

} // namespace civic::test
