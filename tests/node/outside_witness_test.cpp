// A Civic Attest log cosigned by a witness outside its network: an
// independent tlog-witness (interop/gowitness, written with Go's
// golang.org/x/mod/sumdb/note and tlog) that the leader asks over HTTP, in one
// quorum with a witness node of the network (over CAF). Its 429s are honoured,
// a restart that forgot what it cosigned is met with the 409 it answers, and
// what it cosigned verifies offline against the policy.
#include "cluster_network.hpp"

#include <fstream>
#include <set>
#include <sstream>

using namespace civic;
using namespace civic::test;
using namespace civic::test::cluster;

namespace outside_witness {

/// The Go witness as a process; its stdout says its key and where it listens.
struct go_witness {
    std::string name;
    std::string seed_hex;
    std::uint16_t port = free_port();
    std::string dir;
    node_process process;
    int starts = 0;

    go_witness(std::string witness_name, std::string in_dir)
        : name(std::move(witness_name)), dir(std::move(in_dir)) {
        auto seed = sha256(byte_view("witness:" + name)); // as test::witness(name)
        seed_hex = hex_encode(byte_view(seed.data(), seed.size()));
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
    /// Its HTTPS URL with `-tls` (the certificate names "localhost" only).
    std::string https_url(const std::string& host = "localhost") const {
        return "https://" + host + ":" + std::to_string(port);
    }
    std::string vkey() const { return note::format_vkey(test::witness(name).verifier_key()); }

    /// Starts it witnessing `log_vkey`; `extra` are its flags (-busy-first...).
    void start(const std::string& log_vkey, const std::vector<std::string>& extra = {}) {
        REQUIRE(std::string(CIVIC_GOWITNESS) != ""); // scripts/setup.sh installs Go
        auto out = dir + "/" + name + "-" + std::to_string(++starts) + ".out";
        std::vector<std::string> args{
            CIVIC_GOWITNESS, "-name",   name,
            "-seed",         seed_hex,  "-log",
            log_vkey,        "-listen", "127.0.0.1:" + std::to_string(port)};
        args.insert(args.end(), extra.begin(), extra.end());
        process.pid = spawn(args, dir + "/" + name + ".log", out);
        REQUIRE(process.pid > 0);
        // Its first line is its vkey: the same key ours derives from the seed.
        auto until = std::chrono::steady_clock::now() + 20s;
        std::string text;
        while (std::chrono::steady_clock::now() < until &&
               (text = read_file(out)).find("\nlisten ") == std::string::npos) {
            REQUIRE_FALSE(process.exited());
            std::this_thread::sleep_for(20ms);
        }
        INFO(read_file(dir + "/" + name + ".log"));
        REQUIRE(text.rfind("vkey " + vkey() + "\n", 0) == 0);
    }
};

json witness_view(const json& witnessing, const std::string& name) {
    for (const auto& w : witnessing["witnesses"])
        if (w["name"] == name) return w;
    return {};
}

/// The leader's bundle for entry `index` meets the quorum and verifies
/// offline against the policy.
void check_bundle_verifies(network& net, std::uint64_t index) {
    auto bundle = json::parse(net.get("leader", "/api/bundle/" + std::to_string(index)));
    CHECK(bundle["quorum"] == true);
    std::ofstream(net.dir / "bundle.proof") << bundle["proof"].get<std::string>();
    CHECK(net.cli({"verify", "--policy", net.dir / "policy.txt", "--proof",
                   net.dir / "bundle.proof"}) == 0);
}

/// Signs one more entry at a time until the leader's published checkpoint of
/// its whole tree meets the quorum with both witnesses' cosignatures.
json wait_both(network& net, const std::string& tag) {
    return wait_cosigners(net, true, json::array({"w-net", "go-w"}), tag);
}

} // namespace outside_witness

using namespace outside_witness;

TEST_CASE("outside witness: an independent tlog-witness over HTTP and a network witness make "
          "one quorum, 429s are waited out, a 409 after its restart is retried from its size",
          "[witness][outside]") {
    temp_dir scratch("outside-witness");
    go_witness go("go-w", scratch.path.string());
    // Both must cosign (2 of 2): the log is witnessed only with the outside one.
    network net({}, 0, 0, {"w-net"}, 2, {{"go-w", go.vkey() + " " + go.url()}});
    auto log_vkey = read_file(net.dir / "log.vkey");
    log_vkey = log_vkey.substr(0, log_vkey.find('\n'));
    // Its first two add-checkpoint requests are refused with 429 (Retry-After: 1).
    go.start(log_vkey, {"-busy-first", "2", "-retry-after", "1", "-delay-ms", "20"});
    net.start("leader");
    net.start("w-net");
    net.wait_ready("leader");
    net.wait_ready("w-net");
    net.register_clerk();

    REQUIRE(sign_some(net, "leader", 5, "outside "));
    auto w = wait_both(net, "outside");
    INFO(w.dump());
    CHECK(w["quorum"] == true);
    auto view = witness_view(w, "go-w");
    CHECK(view["kind"] == "outside");
    CHECK(view["url"] == go.url());
    CHECK(view["throttled"].get<std::uint64_t>() >= 2); // both 429s seen, and waited out
    CHECK(view["cosigned_size"] == w["published_size"]);
    auto now = static_cast<std::uint64_t>(std::time(nullptr));
    CHECK(view["last_cosignature_time"].get<std::uint64_t>() + 120 >= now);
    CHECK(witness_view(w, "w-net")["kind"] == "network");

    // What the leader serves verifies offline against the policy (2 of 2).
    auto size = w["published_size"].get<std::uint64_t>();
    check_bundle_verifies(net, size - 1);

    // The Go witness's monitoring answer: the log's checkpoint with its cosignature.
    {
        connection c;
        auto origin_hash = hex_encode(sha256(byte_view(std::string_view(cluster::origin))));
        auto res = c.call(go.port, verb::get, "/" + origin_hash + "/checkpoint", "", "", 5s);
        REQUIRE(res);
        REQUIRE(res->result_int() == 200);
        auto cp = parse_signed_checkpoint(res->body());
        REQUIRE(cp);
        CHECK(cp->body.size >= size);
        CHECK(res->body().find("\xE2\x80\x94 go-w ") != std::string::npos);
    }

    // A witnessed answer: the round starts at once, both witnesses answer it.
    {
        connection c;
        auto res = c.call(net.nodes["leader"].http, verb::post, "/api/sign",
                          json{{"identity", "town/clerk"},
                               {"content_sha256", hex_encode(sha256(byte_view("witnessed")))},
                               {"witnessed", true}}
                              .dump(),
                          net.clerk_bearer, 15s);
        REQUIRE(res);
        INFO(res->body());
        REQUIRE(res->result_int() == 200);
        CHECK(json::parse(res->body())["quorum"] == true);
    }

    // Metrics name it: its cosigned size, its latest cosignature's time, its 429s.
    auto metrics = net.get("leader", "/metrics");
    CHECK(metrics.find("civic_witness_throttled_total{witness=\"go-w\"}") != std::string::npos);
    CHECK(metrics.find("civic_witness_last_cosignature_timestamp_seconds{witness=\"go-w\"}") !=
          std::string::npos);
    CHECK(metrics.find("civic_witness_requests_total{outcome=\"cosigned\",witness=\"go-w\"}") !=
          std::string::npos);

    // Keep-alive: every request so far came over one connection (the Go
    // witness logs each request's client address).
    {
        std::set<std::string> clients;
        std::istringstream lines(read_file(scratch / "go-w.log"));
        for (std::string line; std::getline(lines, line);) {
            auto at = line.find("add-checkpoint from ");
            if (at == std::string::npos) continue;
            auto from = at + std::string_view("add-checkpoint from ").size();
            clients.insert(line.substr(from, line.find(": ", from) - from)); // host:port
        }
        INFO(read_file(scratch / "go-w.log"));
        CHECK(clients.size() == 1);
    }

    // Down: no quorum, and the status says why.
    go.process.kill_now();
    REQUIRE(sign_some(net, "leader", 2, "outside down "));
    auto down = wait_witnessed(net, false);
    INFO(down.dump());
    auto down_view = witness_view(down, "go-w");
    CHECK(down_view["failures"].get<std::uint64_t>() >= 1);
    CHECK_FALSE(down_view.value("last_error", std::string()).empty());

    // Back, but it kept nothing (in memory only): it answers 409 with size 0,
    // and the leader asks again from there.
    go.start(log_vkey);
    auto back = wait_both(net, "outside back");
    INFO(back.dump());
    CHECK(back["quorum"] == true);
    CHECK(witness_view(back, "go-w")["cosigned_size"] == back["published_size"]);
    CHECK(back["published_size"].get<std::uint64_t>() > size);
    INFO(read_file(net.log_of("leader")));
    net.nodes["leader"].process.kill_now();
}

TEST_CASE("outside witness: over HTTPS the certificate must chain to outside_ca_file and name "
          "the URL's host",
          "[witness][outside]") {
    // Go witnesses serve HTTPS with certificates for "localhost". Two have
    // them from one test CA, which the topology's witnessing.outside_ca_file
    // names: the one asked as https://localhost cosigns; the one asked as
    // https://127.0.0.1 presents a certificate that does not name that host.
    // A third has its certificate from a CA of its own. The leader's TLS
    // check refuses both, so the quorum (2 of 4) holds without them.
    temp_dir scratch("outside-witness-tls");
    auto ca_dir = scratch / "ca";
    auto ca_file = scratch / "ca/ca.pem";
    std::filesystem::create_directories(ca_dir);
    go_witness good("go-tls", scratch.path.string());
    go_witness misnamed("go-misnamed", scratch.path.string());
    go_witness stranger("go-stranger", scratch.path.string());
    auto stranger_ca_dir = scratch / "stranger-ca";
    std::filesystem::create_directories(stranger_ca_dir);
    network net({}, 0, 0, {"w-net"}, 2,
                {{"go-tls", good.vkey() + " " + good.https_url()},
                 {"go-misnamed", misnamed.vkey() + " " + misnamed.https_url("127.0.0.1")},
                 {"go-stranger", stranger.vkey() + " " + stranger.https_url()}},
                ca_file);
    auto log_vkey = read_file(net.dir / "log.vkey");
    log_vkey = log_vkey.substr(0, log_vkey.find('\n'));
    good.start(log_vkey, {"-tls", ca_dir});
    misnamed.start(log_vkey, {"-tls", ca_dir});
    stranger.start(log_vkey, {"-tls", stranger_ca_dir});
    REQUIRE(std::filesystem::exists(ca_file));
    net.start("leader");
    net.start("w-net");
    net.wait_ready("leader");
    net.wait_ready("w-net");
    net.register_clerk();

    REQUIRE(sign_some(net, "leader", 3, "tls "));
    auto w = wait_cosigners(net, true, json::array({"w-net", "go-tls"}), "tls");
    INFO(w.dump());
    CHECK(w["quorum"] == true);
    auto view = witness_view(w, "go-tls");
    CHECK(view["url"] == good.https_url());
    CHECK(view["cosigned_size"] == w["published_size"]);
    CHECK(view.value("last_error", std::string()).empty());
    for (const auto* name : {"go-misnamed", "go-stranger"}) {
        INFO(name);
        auto bad = witness_view(w, name);
        CHECK(bad["cosigned_size"] == 0);
        CHECK(bad["failures"].get<std::uint64_t>() >= 1);
        CHECK_THAT(bad.value("last_error", std::string()), Catch::Contains("TLS handshake"));
        // It never saw a request: the handshake failed before any was sent.
        CHECK(read_file(scratch / (std::string(name) + ".log")).find("add-checkpoint from ") ==
              std::string::npos);
    }
    CHECK(read_file(scratch / "go-tls.log").find("add-checkpoint from ") != std::string::npos);

    // What the leader serves verifies offline against the policy.
    check_bundle_verifies(net, w["published_size"].get<std::uint64_t>() - 1);
    net.nodes["leader"].process.kill_now();
}
