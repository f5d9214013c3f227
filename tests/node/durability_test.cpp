// What a power loss needs, against the real binary under strace: an identity's
// key file and its directory entry are on the disk before the commit that
// registers the identity starts. A power loss can strike between any two
// system calls; a key file that was only written, or whose name was not yet
// synced in its directory, could vanish while its registration survives.
#include "process.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

using namespace civic;
using namespace civic::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* durability_origin = "durability.civic-attest.test/log";

/// One traced system call that matters here, in the order strace saw it.
struct traced_call {
    std::size_t started = 0;  // line of its start
    std::size_t finished = 0; // line of its end (the same line when not interrupted)
    std::string line;         // its start line
};

/// Reads `strace -f -y` output: each call's start and end line. A call other
/// threads interrupted is a "<unfinished ...>" line and, later, a "resumed"
/// line from the same thread.
std::vector<traced_call> read_trace(const std::string& text) {
    std::vector<traced_call> calls;
    std::map<std::string, std::size_t> open_by_thread;
    std::istringstream in(text);
    std::string line;
    for (std::size_t n = 0; std::getline(in, line); ++n) {
        auto space = line.find(' ');
        if (space == std::string::npos) continue;
        auto thread = line.substr(0, space);
        if (line.find("resumed>") != std::string::npos) {
            if (auto it = open_by_thread.find(thread); it != open_by_thread.end()) {
                calls[it->second].finished = n;
                open_by_thread.erase(it);
            }
            continue;
        }
        calls.push_back({n, n, line});
        if (line.find("<unfinished ...>") != std::string::npos)
            open_by_thread[thread] = calls.size() - 1;
    }
    return calls;
}

} // namespace

TEST_CASE("an identity's key file and its directory entry are synced before the commit that "
          "registers it starts",
          "[crash][durability]") {
    const std::string binary = CIVIC_ATTEST_BINARY;
    temp_dir dir("durability");
    const std::string data = dir / "data";
    REQUIRE(run_to_end({binary, "init", "--data", data, "--origin", durability_origin},
                       dir / "init.log") == 0);
    const std::string trace = dir / "trace.txt";
    node_process node;
    node.log = dir / "serve.log";
    node.pid = spawn({"/usr/bin/strace", "-f", "-y", "-qq", "-e", "trace=openat,fsync,fdatasync", "-o",
                      trace, binary, "serve", "--data", data, "--listen", "127.0.0.1:0"},
                     node.log);
    REQUIRE(node.pid > 0);
    std::uint16_t port = 0;
    for (auto until = std::chrono::steady_clock::now() + 30s;
         !port && std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(20ms))
        port = listening_port(node.log);
    INFO(read_file(node.log));
    REQUIRE(port != 0); // no strace (scripts/setup.sh installs it) fails here

    auto token = read_file(data + "/admin.token");
    connection client;
    auto res = client.call(port, verb::post, "/api/identities", R"({"identity":"power/clerk"})",
                           "Bearer " + token.substr(0, token.find('\n')), 20s);
    REQUIRE(res);
    REQUIRE(res->result_int() == 200);
    // The node is the first thread strace names; killed first, for a node whose
    // tracer dies would run on untraced.
    auto text = read_file(trace);
    const auto node_pid = std::stol(text.substr(0, text.find(' ')));
    REQUIRE(node_pid > 0);
    ::kill(static_cast<pid_t>(node_pid), SIGKILL);
    for (int i = 0; i < 200 && !node.exited(); ++i)
        std::this_thread::sleep_for(10ms); // strace ends with its tracee
    node.kill_now();
    auto calls = read_trace(read_file(trace));
    INFO(read_file(trace).substr(0, 20000));

    const std::string keys_dir = "<" + data + "/keys>";
    std::optional<std::size_t> key_opened, key_synced, dir_synced, commit_started;
    std::string key_path;
    for (const auto& c : calls) {
        const auto& l = c.line;
        if (!key_opened && l.find("openat(") != std::string::npos &&
            l.find(data + "/keys/") != std::string::npos &&
            l.find("O_CREAT") != std::string::npos && l.find(".key\"") != std::string::npos) {
            key_opened = c.started;
            auto from = l.find(data + "/keys/");
            key_path = l.substr(from, l.find('"', from) - from);
            continue;
        }
        if (!key_opened) continue;
        if (!key_synced && l.find("fsync(") != std::string::npos &&
            l.find("<" + key_path + ">") != std::string::npos)
            key_synced = c.finished;
        if (!dir_synced && l.find("fsync(") != std::string::npos &&
            l.find(keys_dir) != std::string::npos)
            dir_synced = c.finished;
        if (!commit_started && l.find("fdatasync(") != std::string::npos &&
            l.find("/ledger/data.mdb>") != std::string::npos)
            commit_started = c.started;
    }
    REQUIRE(key_opened);
    INFO("key file " << key_path);
    REQUIRE(key_synced);
    REQUIRE(dir_synced);
    REQUIRE(commit_started);
    CHECK(*key_synced < *dir_synced);
    CHECK(*dir_synced < *commit_started);
}
