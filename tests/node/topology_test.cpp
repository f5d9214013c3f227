// Topology files: the shipped ones load, and every kind of mistake is refused
// with a message naming the file, the line and the field.
#include "node/config/certs.hpp"
#include "node/config/topology.hpp"
#include "node/system/files.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

using namespace civic;

namespace {

std::string shipped(const std::string& name) {
    return std::string(CIVIC_TOPOLOGIES_DIR) + "/" + name;
}

const std::string base = R"(origin: test.example/log
regions:
  - name: north
  - name: south
latency:
  - {from: north, to: south, ms: 20, jitter_ms: 2}
nodes:
  - name: lead
    region: north
    caf_port: 7001
    http_port: 8001
    roles: [leader]
    data: lead/data
    log_key: lead/log.key
  - name: copy
    region: south
    caf_port: 7002
    http_port: 8002
    roles: [replica]
    data: copy/data
  - name: wit
    region: south
    caf_port: 7003
    http_port: 8003
    roles: [witness]
    data: wit/data
    witness_key: wit/witness.key
policy: |
  witness wit
  quorum wit
)";

std::string with(std::string text, const std::string& from, const std::string& to) {
    auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

} // namespace

TEST_CASE("topology: the shipped topologies load", "[topology]") {
    auto local = node::load_topology(shipped("local-3region.yaml"));
    INFO((local ? "" : local.message()));
    REQUIRE(local.ok());
    CHECK(local->nodes.size() == 6);
    CHECK(local->leader()->name == "leader-eu");
    CHECK(local->replication.acks == 1);
    CHECK(local->regions.size() == 3);
    CHECK(local->find("replica-us")->may_lead);
    CHECK(local->latency("us-east", "eu-west").first == 40); // either direction
    CHECK(local->latency("eu-west", "eu-west").first == 0.5);

    auto ten = node::load_topology(shipped("multi-region-10.yaml"));
    INFO((ten ? "" : ten.message()));
    REQUIRE(ten.ok());
    std::size_t witnesses = 0;
    for (const auto& n : ten->nodes)
        witnesses += n.has(node::node_role::witness);
    CHECK(witnesses == 10);
    CHECK(ten->regions.size() == 5);

    auto single = node::load_topology(shipped("single.yaml"));
    REQUIRE(single.ok());
    CHECK(single->nodes.size() == 1);
    // The built-in copy is the file.
    CHECK(node::embedded_single_topology() == *node::read_file(shipped("single.yaml")));
    CHECK(node::parse_topology(node::embedded_single_topology(), "(built in)").ok());
}

TEST_CASE("topology: every mistake names the file, the line and the field", "[topology]") {
    REQUIRE(node::parse_topology(base, "t.yaml").ok());
    // A witness may cosign the logs of a list beside its network's.
    auto listing =
        node::parse_topology(with(base, "    witness_key: wit/witness.key",
                                  "    witness_key: wit/witness.key\n    logs: wit/logs.txt"),
                             "t.yaml");
    REQUIRE(listing.ok());
    CHECK(listing->find("wit")->witness_logs == "wit/logs.txt");
    struct bad_case {
        std::string text;
        std::string message; // a part of the expected message
    };
    const bad_case cases[] = {
        {"", "not a YAML mapping"},
        {"origin: [unclosed", "t.yaml:1: not valid YAML"},
        {with(base, "origin: test.example/log", "origin: has space"), "t.yaml:1: origin:"},
        {with(base, "origin: test.example/log\n", ""), "origin: is required"},
        {with(base, "origin:", "orign: x\norigin:"), "t.yaml:1: orign: unknown field"},
        {with(base, "  - name: south\n", "  - name: South\n"), "t.yaml:4: regions[1].name"},
        {with(base, "  - name: south\n", "  - name: north\n"), "duplicate region"},
        {with(base, "from: north, to: south, ms: 20", "from: north, to: west, ms: 20"),
         "t.yaml:6: latency[0].to: no region 'west'"},
        {with(base, "ms: 20, jitter_ms: 2", "ms: -3, jitter_ms: 2"), "latency[0].ms: must be"},
        {with(base, "  - {from: north, to: south, ms: 20, jitter_ms: 2}\n", ""),
         "no latency between regions 'north' and 'south'"},
        {with(base, "    caf_port: 7002", "    caf_port: 70000"),
         "t.yaml:17: nodes[copy].caf_port: must be a whole number from 1 to 65535 (got '70000')"},
        {with(base, "    caf_port: 7002", "    caf_port: 7001"),
         "nodes[copy].caf_port: 127.0.0.1:7001 is also lead.caf_port"},
        {with(base, "    roles: [replica]", "    roles: [replica, archivist]"),
         "t.yaml:19: nodes[copy].roles[1]: 'archivist'"},
        {with(base, "    roles: [replica]", "    roles: []"), "nodes[copy].roles: must be"},
        {with(base, "    roles: [replica]", "    roles: [leader]\n    log_key: x"),
         "exactly one node must have the leader role (found 2)"},
        {with(with(base, "    roles: [leader]", "    roles: [replica]"),
              "    log_key: lead/log.key\n", ""),
         "exactly one node must have the leader role (found 0)"},
        {with(base, "    roles: [leader]", "    roles: [replica]"),
         "t.yaml:14: nodes[lead].log_key: only the leader and may_lead replicas hold the log key"},
        {with(base, "    log_key: lead/log.key\n", ""), "nodes[lead].log_key: is required"},
        {with(base, "    data: copy/data", "    data: copy/data\n    log_key: k"),
         "only the leader and may_lead replicas hold the log key"},
        {with(base, "    data: copy/data", "    data: copy/data\n    may_lead: yes"),
         "nodes[copy].may_lead: must be true or false"},
        {with(base, "    witness_key: wit/witness.key\n", ""),
         "nodes[wit].witness_key: is required"},
        {with(base, "    region: south\n    caf_port: 7003",
              "    region: east\n    caf_port: 7003"),
         "t.yaml:22: nodes[wit].region: no region 'east'"},
        {with(base, "  - name: wit", "  - name: lead"), "duplicate node 'lead'"},
        {with(base, "    data: wit/data\n", ""), "nodes[wit].data: is required"},
        {with(base, "    http_port: 8001", "    http-port: 8001"), "unknown field"},
        {with(base, "  witness wit\n", "  witness copy\n"),
         "'witness copy' without a key must name a witness node"},
        {with(base, "  quorum wit\n", "  quorum nobody\n"), "policy:"},
        {base + "replication:\n  acks: 2\n",
         "replication.acks: must be a whole number from 0 to 1"},
        {base + "replication:\n  heartbeat_ms: 5000\n  connection_timeout_ms: 1000\n",
         "must be longer than heartbeat_ms"},
        {base + "tls_dir: [a]\n", "tls_dir: must be a string"},
        {with(base, "    data: copy/data", "    data: copy/data\n    logs: more.txt"),
         "nodes[copy].logs: only witnesses cosign other logs"},
        {with(base, "    witness_key: wit/witness.key",
              "    witness_key: wit/witness.key\n    logs: [a]"),
         "nodes[wit].logs: must be a string"},
    };
    for (const auto& bc : cases) {
        INFO(bc.text);
        auto t = node::parse_topology(bc.text, "t.yaml");
        REQUIRE_FALSE(t.ok());
        INFO(t.message());
        CHECK(t.message().find(bc.message) != std::string::npos);
    }
    CHECK_FALSE(node::load_topology("/nonexistent/topology.yaml").ok());
    CHECK_FALSE(node::parse_topology(std::string(node::max_topology_bytes + 1, '#'), "big").ok());
}

TEST_CASE("certs: one CA per network, one certificate per node, kept on a second run",
          "[topology][certs]") {
    test::temp_dir dir("certs");
    auto t = node::load_topology(shipped("local-3region.yaml"));
    REQUIRE(t.ok());
    auto out = dir / "certs";
    auto made = node::make_network_certs(*t, out);
    INFO((made ? "" : made.message()));
    REQUIRE(made.ok());
    CHECK(made->made_ca);
    CHECK(made->made.size() == 6);
    for (const auto& n : t->nodes) {
        INFO(n.name);
        CHECK(node::check_node_cert(out + "/ca.crt", out + "/" + n.name + ".crt", n.name).ok());
        CHECK((std::filesystem::status(out + "/" + n.name + ".key").permissions() &
               std::filesystem::perms::group_all) == std::filesystem::perms::none);
    }
    // The wrong name, and a certificate of another network's CA, fail.
    CHECK_FALSE(node::check_node_cert(out + "/ca.crt", out + "/replica-us.crt", "leader-eu").ok());
    auto other = dir / "other";
    REQUIRE(node::make_network_certs(*t, other).ok());
    auto foreign = node::check_node_cert(out + "/ca.crt", other + "/leader-eu.crt", "leader-eu");
    CHECK_FALSE(foreign.ok());
    CHECK(foreign.message().find("not signed by the CA") != std::string::npos);

    // A second run keeps everything; a node added later gets a certificate from the same CA.
    auto before = *node::read_file(out + "/leader-eu.crt");
    auto again = node::make_network_certs(*t, out);
    REQUIRE(again.ok());
    CHECK_FALSE(again->made_ca);
    CHECK(again->kept.size() == 6);
    CHECK(*node::read_file(out + "/leader-eu.crt") == before);
    auto grown = *t;
    grown.nodes.push_back(grown.nodes.back());
    grown.nodes.back().name = "witness-late";
    auto added = node::make_network_certs(grown, out);
    REQUIRE(added.ok());
    CHECK(added->made == std::vector<std::string>{"witness-late"});
    CHECK(node::check_node_cert(out + "/ca.crt", out + "/witness-late.crt", "witness-late").ok());
    // Half a pair is refused rather than silently re-made.
    std::filesystem::remove(out + "/witness-late.key");
    CHECK_FALSE(node::make_network_certs(grown, out).ok());
}
