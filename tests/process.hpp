// Tests that run the real civic-attest binary: child processes, a blocking
// HTTP client with deadlines, and the checks on what nodes answered.
#pragma once

#include "protocol/checkpoint.hpp"
#include "protocol/note.hpp"
#include "support.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <netinet/in.h>
#include <optional>
#include <random>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace civic::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using namespace std::chrono_literals;

/// Starts `args` with stdout and stderr appended to `log`; returns the pid.
/// With `out`, stdout goes there instead.
inline pid_t spawn(const std::vector<std::string>& args, const std::string& log,
                   const std::string& out = {}) {
    std::vector<char*> argv;
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out.empty())
        posix_spawn_file_actions_adddup2(&actions, 2, 1);
    else
        posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0600);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc == 0 ? pid : -1;
}

/// One child process (a node); SIGKILLed and reaped when the test ends, however it ends.
struct node_process {
    pid_t pid = -1;
    std::string log;
    node_process() = default;
    node_process(const node_process&) = delete;
    node_process& operator=(const node_process&) = delete;
    ~node_process() { kill_now(); }
    /// SIGKILL and reap; the wait status, or -1 if there was no process.
    int kill_now() {
        if (pid <= 0) return -1;
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        pid = -1;
        return status;
    }
    /// Whether the process has ended on its own (it is reaped if so).
    bool exited() {
        int status = 0;
        if (pid <= 0 || ::waitpid(pid, &status, WNOHANG) != pid) return false;
        pid = -1;
        return true;
    }
};

/// A blocking HTTP/1.1 client on one keep-alive connection, with a deadline on
/// every operation (a sync Beast read has none, and a wedged node must fail the
/// test rather than hang it). Any failure drops the connection; the next call
/// reconnects, to whatever port the current node listens on.
class connection {
public:
    std::optional<bhttp::response<bhttp::string_body>>
    call(std::uint16_t port, bhttp::verb verb, const std::string& target, std::string body = "",
         const std::string& authorization = "", std::chrono::milliseconds timeout = 15s) {
        if (stream_ && port != port_) stream_.reset();
        if (!stream_) {
            stream_.emplace(ioc_);
            port_ = port;
            stream_->expires_after(timeout);
            if (run([&](auto handler) {
                    stream_->async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                           handler);
                }))
                return drop();
        }
        bhttp::request<bhttp::string_body> req{verb, target, 11};
        req.set(bhttp::field::host, "127.0.0.1");
        if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
        req.body() = std::move(body);
        req.prepare_payload();
        stream_->expires_after(timeout);
        if (run([&](auto handler) { bhttp::async_write(*stream_, req, handler); })) return drop();
        bhttp::response<bhttp::string_body> res;
        stream_->expires_after(timeout);
        if (run([&](auto handler) { bhttp::async_read(*stream_, buffer_, res, handler); }))
            return drop();
        if (!res.keep_alive()) drop();
        return res;
    }

private:
    asio::io_context ioc_;
    std::optional<beast::tcp_stream> stream_;
    std::uint16_t port_ = 0;
    beast::flat_buffer buffer_;

    /// Runs one asynchronous operation to completion; true if it failed.
    template <class Start>
    bool run(Start start) {
        beast::error_code result = asio::error::would_block;
        start([&result](beast::error_code ec, auto&&...) { result = ec; });
        ioc_.restart();
        ioc_.run();
        return result.failed();
    }
    std::nullopt_t drop() {
        stream_.reset();
        buffer_.clear();
        return std::nullopt;
    }
};

/// Runs `args` to the end; its exit status (-1 if it did not exit normally).
inline int run_to_end(const std::vector<std::string>& args, const std::string& log,
                      const std::string& out = {}) {
    pid_t pid = spawn(args, log, out);
    if (pid <= 0) return -1;
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

/// A TCP port nothing listens on right now, on 127.0.0.1, drawn at random below
/// the kernel's ephemeral range (32768 and up): a node's outgoing connections and
/// loopback listeners take ephemeral ports, which must never be a port a topology
/// gave to a node that has not started yet.
inline std::uint16_t free_port() {
    static std::mt19937 draw{std::random_device{}()};
    std::uniform_int_distribution<int> below_ephemeral(10000, 32000);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        auto port = static_cast<std::uint16_t>(below_ephemeral(draw));
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(port);
        bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        if (free) return port;
    }
    return 0;
}

/// The HTTP port of a node once its log says it listens (0 while it does not yet).
inline std::uint16_t listening_port(const std::string& log) {
    auto text = read_file(log);
    constexpr std::string_view marker = "listening on ";
    auto at = text.find(marker);
    if (at == std::string::npos) return 0;
    auto end = text.find('\n', at);
    if (end == std::string::npos) return 0; // the line is still being written
    auto line = text.substr(at + marker.size(), end - at - marker.size());
    line = line.substr(0, line.find(','));  // ", peers on HOST:PORT" may follow
    auto port = parse_decimal(line.substr(line.rfind(':') + 1), 65535);
    return port ? static_cast<std::uint16_t>(*port) : 0;
}

inline result<std::vector<hash>> decode_hashes(const json& list) {
    if (!list.is_array()) return make_error("not an array");
    std::vector<hash> out;
    for (const auto& item : list) {
        if (!item.is_string()) return make_error("not a string");
        auto h = base64_decode_fixed<32>(item.get<std::string>());
        if (!h) return h.err();
        out.push_back(*h);
    }
    return out;
}

/// Parses a signed checkpoint and checks it is this log's, signed by its key.
inline result<checkpoint> open_checkpoint(const std::string& text, const note::verifier& log_key,
                                          const std::string& origin) {
    auto cp = parse_signed_checkpoint(text);
    if (!cp) return cp.err();
    if (auto opened = note::open(cp->signed_note, {&log_key}); !opened) return opened.err();
    if (cp->body.origin != origin) return make_error("origin " + cp->body.origin);
    return cp->body;
}

} // namespace civic::test
