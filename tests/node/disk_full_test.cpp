// A node whose disk fills up, against the real binary on a small tmpfs: it
// turns read-only instead of restarting (writes 503 read_only at once, reads
// answered), says so in /api/status, /metrics and one log line, and takes
// writes again by itself once there is room, with every acknowledged entry
// still there and provable. Needs root (mount); fails loudly without it unless
// the kernel refuses the mount itself (then it warns and passes).
#include "process.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <thread>
#include <vector>

using namespace civic;
using namespace civic::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* origin = "disk-full.civic-attest.test/log";

/// A tmpfs of `megabytes` mounted on `dir` for as long as it lives.
struct small_disk {
    std::string dir;
    bool mounted = false;
    int mount_errno = 0;
    small_disk(std::string where, int megabytes) : dir(std::move(where)) {
        std::filesystem::create_directories(dir);
        auto options = "size=" + std::to_string(megabytes) + "m,mode=0700";
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0)
            mounted = true;
        else
            mount_errno = errno;
    }
    ~small_disk() {
        if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
    }
    std::uint64_t available() const {
        struct statvfs fs {};
        if (::statvfs(dir.c_str(), &fs) != 0) return 0;
        return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    }
    /// Takes every free block with one file: fallocate, then page-sized writes
    /// until the file system says ENOSPC.
    bool fill(const std::string& file) {
        int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return false;
        auto room = available();
        if (room > 0) ::posix_fallocate(fd, 0, static_cast<off_t>(room));
        std::vector<char> page(4096, 'x');
        ::lseek(fd, 0, SEEK_END);
        int last = 0;
        for (int i = 0; i < 100000; ++i) {
            if (::write(fd, page.data(), page.size()) < 0) {
                last = errno;
                break;
            }
        }
        ::close(fd);
        return last == ENOSPC;
    }
};

/// Whether the small disk is mounted; fails the test when the mount failed for
/// another reason than the kernel's refusal (then it warns: the test did not run).
bool usable(const small_disk& disk) {
    if (disk.mounted) return true;
    if (disk.mount_errno == EPERM) {
        WARN("cannot mount a tmpfs here (" << std::strerror(disk.mount_errno)
                                           << "): the disk-full test did not run");
        return false;
    }
    FAIL("mount tmpfs on " << disk.dir << ": " << std::strerror(disk.mount_errno));
    return false;
}

/// One acknowledged signature: its index, entry and bundle.
struct acknowledged {
    std::uint64_t index = 0;
    std::string entry, proof;
    std::string content_sha256;
};

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

} // namespace

TEST_CASE("a full disk makes a node read-only, not a restart loop: it serves reads, says why, "
          "and takes writes again by itself once there is room",
          "[disk-full]") {
    const std::string binary = CIVIC_ATTEST_BINARY;
    temp_dir dir("disk-full");
    small_disk disk(dir / "disk", 8);
    if (!usable(disk)) return;
    const std::string data = disk.dir + "/data";
    REQUIRE(run_to_end({binary, "init", "--data", data, "--origin", origin}, dir / "init.log") ==
            0);
    auto token = read_file(data + "/admin.token");
    const std::string bearer = "Bearer " + token.substr(0, token.find('\n'));

    node_process node;
    node.log = dir / "serve.log"; // not on the small disk
    node.pid = spawn({binary, "serve", "--data", data, "--listen", "127.0.0.1:0",
                      "--no-space-retry-ms", "100", "--no-space-retry-max-ms", "400"},
                     node.log);
    REQUIRE(node.pid > 0);
    connection client;
    std::uint16_t port = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 20s;
         !port && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(10ms))
        port = listening_port(node.log);
    INFO(read_file(node.log));
    REQUIRE(port != 0);
    auto get = [&](const std::string& target) {
        auto res = client.call(port, verb::get, target);
        REQUIRE(res);
        return *res;
    };
    auto post = [&](const std::string& target, const std::string& body) {
        auto res = client.call(port, verb::post, target, body, bearer);
        REQUIRE(res);
        return *res;
    };
    REQUIRE(post("/api/identities", R"({"identity":"disk/clerk"})").result_int() == 200);
    int documents = 0;
    auto sign = [&]() {
        auto content = hex_encode(sha256(byte_view("document " + std::to_string(documents++))));
        auto res =
            post("/api/sign", json{{"identity", "disk/clerk"}, {"content_sha256", content}}.dump());
        return std::make_pair(res, content);
    };
    std::vector<acknowledged> acked;
    auto keep = [&](const http_response& res, const std::string& content) {
        auto body = json::parse(res.body());
        acked.push_back({body["index"], body["entry"], body["proof"], content});
    };
    for (int i = 0; i < 20; ++i) {
        auto [res, content] = sign();
        REQUIRE(res.result_int() == 200);
        keep(res, content);
    }

    // The disk fills up. Signing goes on from LMDB's free pages until a commit
    // needs a new one: that one is refused 503 read_only, and so is all after it.
    const std::string filler = disk.dir + "/filler";
    REQUIRE(disk.fill(filler));
    std::optional<http_response> refused;
    for (int i = 0; i < 5000 && !refused; ++i) {
        auto [res, content] = sign();
        if (res.result_int() == 200) {
            keep(res, content);
            continue;
        }
        refused = res;
    }
    REQUIRE(refused);
    INFO(refused->body());
    CHECK(refused->result_int() == 503);
    auto refusal = json::parse(refused->body());
    CHECK(refusal["error"] == "read_only");
    CHECK_THAT(refusal["message"].get<std::string>(),
               Catch::Contains("no space left on the device of " + data + "/ledger/data.mdb"));
    CHECK_FALSE(refused->header("Retry-After").empty());
    INFO(read_file(node.log));
    REQUIRE_FALSE(node.exited());

    // Refused at once, writes of every kind; the status, the metrics and one log line say why.
    auto started = std::chrono::steady_clock::now();
    auto again = sign().first;
    CHECK(std::chrono::steady_clock::now() - started < 500ms);
    CHECK(again.result_int() == 503);
    CHECK(json::parse(again.body())["error"] == "read_only");
    // However many: each one a commit that failed would be a restart, and past three
    // in 10 s the supervision tree gives up and the process exits.
    for (int i = 0; i < 10; ++i) {
        auto [res, content] = sign();
        CHECK(res.result_int() == 503);
        CHECK(json::parse(res.body())["error"] == "read_only");
    }
    std::this_thread::sleep_for(200ms);
    REQUIRE_FALSE(node.exited());
    auto registration = post("/api/identities", R"({"identity":"disk/other"})");
    CHECK(registration.result_int() == 503);
    CHECK(json::parse(registration.body())["error"] == "read_only");
    CHECK(post("/api/identities/disk/clerk/rotate", "").result_int() == 503);
    auto status = json::parse(get("/api/status").body());
    CHECK(status["writable"] == false);
    CHECK_THAT(status["read_only_reason"].get<std::string>(),
               Catch::Contains("no space left on the device of"));
    auto metrics = get("/metrics").body();
    CHECK_THAT(metrics, Catch::Contains("civic_ledger_read_only 1"));
    CHECK_THAT(metrics, Catch::Contains("civic_ledger_commit_failures_total{reason=\"no_space\"}"));
    CHECK(metrics.find("civic_ledger_commit_failures_total{reason=\"no_space\"} 0") ==
          std::string::npos);

    // Reads go on: entries, proofs, tiles, the checkpoint, verification.
    const auto size = acked.back().index + 1;
    CHECK(get("/checkpoint").result_int() == 200);
    CHECK(get("/api/entries/0").result_int() == 200);
    CHECK(get("/tile/0/000.p/" + std::to_string(size)).result_int() == 200);
    CHECK(get("/api/proof/inclusion?index=1&size=" + std::to_string(size)).result_int() == 200);
    auto verified = post("/api/verify", json{{"proof", acked.front().proof},
                                             {"content_sha256", acked.front().content_sha256}}
                                            .dump());
    CHECK(verified.result_int() == 200);
    CHECK(json::parse(verified.body())["valid"] == true);

    // Room again: writes resume by themselves, within a few probes.
    std::filesystem::remove(filler);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    bool resumed = false;
    while (!resumed && std::chrono::steady_clock::now() < deadline) {
        auto [res, content] = sign();
        if (res.result_int() == 200) {
            keep(res, content);
            resumed = true;
        } else {
            CHECK(json::parse(res.body())["error"] == "read_only");
            std::this_thread::sleep_for(20ms);
        }
    }
    auto log = read_file(node.log);
    INFO(log);
    REQUIRE(resumed);
    CHECK(post("/api/identities", R"({"identity":"disk/other"})").result_int() == 200);
    status = json::parse(get("/api/status").body());
    CHECK(status["writable"] == true);
    CHECK_FALSE(status.contains("read_only_reason"));
    CHECK_THAT(get("/metrics").body(), Catch::Contains("civic_ledger_read_only 0"));
    // One line on entering, one on leaving, however many writes were refused.
    CHECK(count_of(log, R"(msg="read-only ledger" kind=no_space)") == 1);
    CHECK(count_of(log, R"(msg="writable ledger again" read_only_ms=)") == 1);

    // Every acknowledged entry is still at its index, and its proof verifies.
    for (const auto& a : acked) {
        INFO("index " << a.index);
        auto entry = json::parse(get("/api/entries/" + std::to_string(a.index)).body());
        CHECK(entry["entry"] == a.entry);
        auto check = post("/api/verify",
                          json{{"proof", a.proof}, {"content_sha256", a.content_sha256}}.dump());
        CHECK(json::parse(check.body())["valid"] == true);
    }
    REQUIRE_FALSE(node.exited());
    ::kill(node.pid, SIGTERM);
    int wait_status = 0;
    REQUIRE(::waitpid(node.pid, &wait_status, 0) == node.pid);
    node.pid = -1;
    CHECK(WIFEXITED(wait_status));
    CHECK(WEXITSTATUS(wait_status) == 0);
    std::string fsck_log = dir / "fsck.log";
    CHECK(run_to_end({binary, "fsck", "--data", data}, fsck_log) == 0);
}

namespace {

/// A leader on the ordinary disk and one more node whose store is on a small
/// disk: its name, role and extra node fields (`node_more`); `more` is added
/// to the topology. Nodes retry a full store every 100 to 400 ms.
struct leader_and_one {
    const std::string binary = CIVIC_ATTEST_BINARY;
    const temp_dir& dir;
    const std::string name;
    std::string topology;
    std::uint16_t leader_http = free_port(), leader_peer = free_port();
    std::uint16_t other_http = free_port(), other_peer = free_port();
    node_process leader, other;
    connection client;
    std::string bearer;
    int documents = 0;

    leader_and_one(const temp_dir& d, const small_disk& disk, std::string other_name,
                   const std::string& role, const std::string& node_more, const std::string& more)
        : dir(d), name(std::move(other_name)) {
        topology = dir / "topology.yaml";
        auto node = [](const std::string& n, const std::string& r, std::uint16_t http,
                       std::uint16_t peer, const std::string& data, const std::string& fields) {
            return "  - {name: " + n + ", region: here, roles: [" + r +
                   "], http_port: " + std::to_string(http) + ", caf_port: " + std::to_string(peer) +
                   ", data: " + data + fields + "}\n";
        };
        std::ofstream(topology) << "origin: " << origin << "\ntls_dir: " << dir / "certs"
                                << "\nlog_vkey: " << dir / "log.vkey"
                                << "\npolicy_file: " << dir / "policy.txt"
                                << "\nregions:\n  - name: here\nnodes:\n"
                                << node("leader", "leader", leader_http, leader_peer,
                                        dir / "leader-data", ", log_key: " + dir / "leader.key")
                                << node(name, role, other_http, other_peer,
                                        disk.dir + "/" + name + "-data", node_more)
                                << more
                                << "replication:\n  acks: 0\n  heartbeat_ms: 200\n"
                                   "  connection_timeout_ms: 1500\n"
                                   "  reconnect_initial_ms: 50\n  reconnect_max_ms: 500\n";
        REQUIRE(run_to_end({binary, "certs", "--topology", topology}, dir / "cli.log") == 0);
        REQUIRE(run_to_end({binary, "keys", "--topology", topology}, dir / "cli.log") == 0);
    }

    void start(node_process& n, const std::string& node_name) {
        n.log = dir / (node_name + ".log");
        n.pid = spawn({binary, "node", "--topology", topology, "--name", node_name,
                       "--no-space-retry-ms", "100", "--no-space-retry-max-ms", "400"},
                      n.log);
        REQUIRE(n.pid > 0);
    }
    json status_of(std::uint16_t port) {
        auto res = client.call(port, verb::get, "/api/status", "", "", 5s);
        if (!res || res->result_int() != 200) return json{};
        return json::parse(res->body(), nullptr, false);
    }
    std::string metrics_of(std::uint16_t port) {
        auto res = client.call(port, verb::get, "/metrics", "", "", 5s);
        return res ? res->body() : std::string();
    }
    template <class Done>
    static bool wait_until(Done done, std::chrono::seconds within) {
        auto until = std::chrono::steady_clock::now() + within;
        while (std::chrono::steady_clock::now() < until) {
            if (done()) return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }
    void start_leader() {
        start(leader, "leader");
        REQUIRE(wait_until([&] { return status_of(leader_http).is_object(); }, 30s));
    }
    void start_other() {
        start(other, name);
        REQUIRE(wait_until([&] { return status_of(other_http).is_object(); }, 30s));
    }
    /// Starts both (the leader first) and registers the clerk.
    void start_both() {
        start_leader();
        start_other();
        register_clerk();
    }
    void register_clerk() {
        auto token = read_file(dir / "leader-data/admin.token");
        bearer = "Bearer " + token.substr(0, token.find('\n'));
        REQUIRE(post("/api/identities", R"({"identity":"disk/clerk"})").result_int() == 200);
    }
    http_response post(const std::string& target, const std::string& body) {
        auto res = client.call(leader_http, verb::post, target, body, bearer);
        REQUIRE(res);
        return *res;
    }
    /// Signs one more document at the leader: the status code.
    int sign() {
        auto content = hex_encode(sha256(byte_view("document " + std::to_string(documents++))));
        return post("/api/sign",
                    json{{"identity", "disk/clerk"}, {"content_sha256", content}}.dump())
            .result_int();
    }
};

} // namespace

TEST_CASE("a replica whose disk fills up turns read-only, not a restart loop, while its leader "
          "goes on, and catches up by itself once there is room",
          "[disk-full]") {
    temp_dir dir("disk-full-replica");
    small_disk disk(dir / "disk", 8);
    if (!usable(disk)) return;
    // No acknowledgements are waited for (acks: 0): the leader goes on alone.
    leader_and_one net(dir, disk, "replica-a", "replica", "", "");
    net.start_both();
    auto& replica = net.other;
    INFO(read_file(replica.log));
    REQUIRE(net.wait_until(
        [&] {
            auto s = net.status_of(net.other_http);
            return s.is_object() && s.value("/leader/joined"_json_pointer, false);
        },
        30s));
    for (int i = 0; i < 20; ++i)
        REQUIRE(net.sign() == 200);

    // The replica's disk fills up: the leader keeps signing; the replica turns
    // read-only and says why, and stays up.
    const std::string filler = disk.dir + "/filler";
    REQUIRE(disk.fill(filler));
    json replica_status;
    for (int i = 0; i < 200; ++i) {
        for (int j = 0; j < 25; ++j)
            REQUIRE(net.sign() == 200);
        replica_status = net.status_of(net.other_http);
        if (replica_status.is_object() && replica_status.value("writable", true) == false) break;
    }
    INFO(replica_status.dump());
    REQUIRE(replica_status.is_object());
    REQUIRE(replica_status.value("writable", true) == false);
    CHECK_THAT(replica_status.value("read_only_reason", ""),
               Catch::Contains("no space left on the device of"));
    std::this_thread::sleep_for(1s); // offers keep coming: none may cost a restart
    REQUIRE_FALSE(replica.exited());
    // One line, not one a commit (a restarted replica would say it again).
    CHECK(count_of(read_file(replica.log), "read-only replica") == 1);

    // Room again: the replica writes by itself and catches up with the leader.
    std::filesystem::remove(filler);
    for (int i = 0; i < 20; ++i)
        REQUIRE(net.sign() == 200);
    auto leader_status = net.status_of(net.leader_http);
    REQUIRE(leader_status.is_object());
    auto leader_size = leader_status.value("size", std::uint64_t{0});
    REQUIRE(leader_size > 0);
    CHECK(net.wait_until(
        [&] {
            auto s = net.status_of(net.other_http);
            return s.is_object() && s.value("writable", false) &&
                   s.value("size", std::uint64_t{0}) >= leader_size;
        },
        30s));
    REQUIRE_FALSE(replica.exited());
    REQUIRE_FALSE(net.leader.exited());
}

TEST_CASE("a witness whose disk fills up cosigns nothing it cannot persist, says why, stays up, "
          "and cosigns again by itself once there is room",
          "[disk-full][witness]") {
    temp_dir dir("disk-full-witness");
    small_disk disk(dir / "disk", 4);
    if (!usable(disk)) return;
    // The policy needs this one witness: the leader's checkpoints meet it only
    // while the witness persists what it cosigns.
    leader_and_one net(dir, disk, "w1", "witness", ", witness_key: " + dir / "w1.key",
                       "witnessing:\n  interval_ms: 100\n  timeout_ms: 2000\n"
                       "policy: |\n  witness w1\n  group all 1 w1\n  quorum all\n");
    // The witness's store is created, then its disk fills before its first
    // round: LMDB reuses the pages it freed, so only a store that still has
    // to grow meets a full disk at once.
    net.start_other();
    auto& witness = net.other;
    INFO(read_file(witness.log));
    const std::string filler = disk.dir + "/filler";
    REQUIRE(disk.fill(filler));
    net.start_leader();
    net.register_clerk();
    // Whether the leader's newest checkpoint is of its whole tree and has (or
    // misses) the quorum.
    auto witnessed = [&](bool quorum) {
        auto s = net.status_of(net.leader_http);
        return s.is_object() && s.contains("witnessing") &&
               s["witnessing"].value("published_size", std::uint64_t{0}) ==
                   s.value("size", std::uint64_t{1}) &&
               s["witnessing"].value("quorum", !quorum) == quorum;
    };

    // The leader signs; its checkpoints miss the quorum; the witness answers
    // 503 and says why in its status, metrics and one log line.
    json witness_status;
    REQUIRE(net.wait_until(
        [&] {
            if (net.sign() != 200) return false;
            witness_status = net.status_of(net.other_http);
            return witness_status.is_object() && witness_status.value("writable", true) == false;
        },
        30s));
    INFO(witness_status.dump());
    CHECK_THAT(witness_status.value("read_only_reason", ""),
               Catch::Contains("no space left on the device of"));
    CHECK(net.wait_until([&] { return witnessed(false); }, 30s));
    std::this_thread::sleep_for(1s); // rounds keep coming: none may cost a restart
    REQUIRE_FALSE(witness.exited());
    witness_status = net.status_of(net.other_http);
    CHECK(witness_status["logs"].empty()); // it cosigned nothing
    CHECK(witness_status.value("writable", true) == false);
    CHECK(count_of(read_file(witness.log), "read-only witness") == 1);
    CHECK_THAT(net.metrics_of(net.other_http), Catch::Contains("civic_witness_read_only 1"));

    // Room again: the next round persists and the checkpoints meet the policy.
    std::filesystem::remove(filler);
    REQUIRE(net.sign() == 200);
    CHECK(net.wait_until([&] { return witnessed(true); }, 30s));
    witness_status = net.status_of(net.other_http);
    CHECK(witness_status.value("writable", false) == true);
    REQUIRE(witness_status["logs"].size() == 1);
    CHECK(witness_status["logs"][0].value("cosigned_size", std::uint64_t{0}) > 0);
    CHECK_THAT(net.metrics_of(net.other_http), Catch::Contains("civic_witness_read_only 0"));
    REQUIRE_FALSE(witness.exited());
    REQUIRE_FALSE(net.leader.exited());
}
