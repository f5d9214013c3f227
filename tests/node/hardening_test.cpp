// Attacks on a real node process: what a client with no credentials can do to
// it with connections, under a lowered descriptor limit.
#include "process.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace civic;
using namespace civic::test;

namespace {

const std::string binary = CIVIC_ATTEST_BINARY;

/// A TCP connection from `from` to 127.0.0.1:port, or -1.
int connect_from(const char* from, std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, from, &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(port);
    remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

/// One GET on a new connection from `from`: the status line's code, or 0 when no
/// answer came within `timeout`.
int get_from(const char* from, std::uint16_t port, const std::string& target,
             std::chrono::milliseconds timeout, std::string* body = nullptr) {
    int fd = connect_from(from, port);
    if (fd < 0) return 0;
    auto request = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
        ::close(fd);
        return 0;
    }
    std::string answer;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<char, 4096> buf{};
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        auto n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        answer.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (answer.rfind("HTTP/1.1 ", 0) != 0 || answer.size() < 12) return 0;
    if (body) *body = answer.substr(std::min(answer.size(), answer.find("\r\n\r\n") + 4));
    return std::stoi(answer.substr(9, 3));
}

/// Starts `serve` on a fresh data directory with the descriptor limit (soft and
/// hard) set to `descriptors`, and waits until it listens.
std::uint16_t start_limited_node(node_process& node, const temp_dir& dir, int descriptors) {
    const std::string data = dir / "data";
    REQUIRE(run_to_end({binary, "init", "--data", data, "--origin", "hardening.test/log"},
                       dir / "init.log") == 0);
    node.log = dir / "serve.log";
    node.pid = spawn({"/bin/sh", "-c",
                      "ulimit -n " + std::to_string(descriptors) +
                          " && exec \"$0\" serve --data \"$1\" --listen 127.0.0.1:0",
                      binary, data},
                     node.log);
    REQUIRE(node.pid > 0);
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (true) {
        INFO(read_file(node.log));
        REQUIRE_FALSE(node.exited());
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        if (auto port = listening_port(node.log)) return port;
        std::this_thread::sleep_for(10ms);
    }
}

/// This process's own descriptor limit, raised for the flood it makes.
void raise_own_descriptor_limit() {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
}

} // namespace

TEST_CASE("a node with 256 descriptors serves another address at once while one address "
          "floods its HTTP port with slow connections",
          "[hardening]") {
    raise_own_descriptor_limit();
    temp_dir dir("hardening-http");
    node_process node;
    auto port = start_limited_node(node, dir, 256);
    INFO(read_file(node.log));
    // The node sized its caps from the limit it was given, and says so.
    CHECK(read_file(node.log).find("descriptor limit 256 (hard 256); HTTP connections: at most "
                                   "64, 32 per client address") != std::string::npos);
    REQUIRE(get_from("127.0.0.2", port, "/healthz", 5s) == 200);

    // The flood: up to 1,000 connections from 127.0.0.1, each with half a request
    // header; those the node closes are opened again, for 4 s.
    std::atomic<bool> flooding{true};
    std::atomic<std::size_t> opened{0};
    std::thread flood([&] {
        std::vector<int> held;
        const std::string partial = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        auto until = std::chrono::steady_clock::now() + 4s;
        while (std::chrono::steady_clock::now() < until) {
            while (held.size() < 1000) {
                int fd = connect_from("127.0.0.1", port);
                if (fd < 0) break;
                ::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
                held.push_back(fd);
                ++opened;
            }
            // Drop what the node has answered (503) or closed; keep the rest.
            std::vector<pollfd> polls;
            for (int fd : held)
                polls.push_back({fd, POLLIN, 0});
            ::poll(polls.data(), polls.size(), 50);
            held.clear();
            for (const auto& p : polls) {
                if (p.revents != 0)
                    ::close(p.fd);
                else
                    held.push_back(p.fd);
            }
        }
        for (int fd : held)
            ::close(fd);
        flooding = false;
    });
    // Probes from another address while the flood lasts.
    std::this_thread::sleep_for(300ms);
    int probes = 0, answered = 0;
    std::chrono::milliseconds slowest{0};
    while (flooding && probes < 20) {
        auto began = std::chrono::steady_clock::now();
        if (get_from("127.0.0.2", port, "/healthz", 2s) == 200) ++answered;
        slowest = std::max(slowest, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - began));
        ++probes;
        std::this_thread::sleep_for(100ms);
    }
    flood.join();
    INFO("flood connections opened: " << opened << "; probes " << probes << ", answered "
                                      << answered << ", slowest " << slowest.count() << " ms");
    CHECK(opened > 1000); // the node kept turning the flood away
    CHECK(probes >= 10);
    CHECK(answered == probes);
    CHECK_FALSE(node.exited());

    std::string metrics;
    REQUIRE(get_from("127.0.0.2", port, "/metrics", 5s, &metrics) == 200);
    CHECK(metrics.find("civic_http_connections_refused_total{reason=\"per_address\"} 0") ==
          std::string::npos);
    CHECK(metrics.find("civic_http_connections_refused_total{reason=\"per_address\"}") !=
          std::string::npos);
    // The node said why it turned connections away, once a second at most.
    CHECK(read_file(node.log).find("too many connections from 127.0.0.1 (at most 32)") !=
          std::string::npos);
}
