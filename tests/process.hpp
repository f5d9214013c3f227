// Tests that run the real civic-attest binary: child processes, a blocking
// HTTP client with deadlines, and the checks on what nodes answered.
//
// Declarations only: the client's Boost.Beast code is compiled once, in
// process.cpp, rather than in every process test (it was most of their
// compile time).
#pragma once

#include "protocol/checkpoint.hpp"
#include "protocol/note.hpp"
#include "support.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <sys/wait.h>
#include <utility>
#include <vector>

namespace civic::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

/// Starts `args` with stdout and stderr appended to `log`; returns the pid.
/// With `out`, stdout goes there instead.
pid_t spawn(const std::vector<std::string>& args, const std::string& log,
            const std::string& out = {});

/// Runs `args` to the end; its exit status (-1 if it did not exit normally).
int run_to_end(const std::vector<std::string>& args, const std::string& log,
               const std::string& out = {});

/// One child process (a node); SIGKILLed and reaped when the test ends, however it ends.
struct node_process {
    pid_t pid = -1;
    std::string log;
    node_process() = default;
    node_process(const node_process&) = delete;
    node_process& operator=(const node_process&) = delete;
    ~node_process() { kill_now(); }
    /// SIGKILL and reap; the wait status, or -1 if there was no process.
    int kill_now();
    /// Whether the process has ended on its own (it is reaped if so).
    bool exited();
};

/// The HTTP methods the process tests use.
enum class verb { get, post, put, delete_ };

/// One HTTP response, as the process tests read it.
struct http_response {
    unsigned status = 0;
    std::string content;
    /// Header fields in the order received; names as sent.
    std::vector<std::pair<std::string, std::string>> headers;

    unsigned result_int() const { return status; }
    const std::string& body() const { return content; }
    /// The first field named `name` (case-insensitive), or "" if there is none.
    std::string header(std::string_view name) const;
    bool has_header(std::string_view name) const;
};

/// A blocking HTTP/1.1 client on one keep-alive connection, with a deadline on
/// every operation (a sync Beast read has none, and a wedged node must fail the
/// test rather than hang it). Any failure drops the connection; the next call
/// reconnects, to whatever port the current node listens on.
class connection {
public:
    connection();
    ~connection();
    connection(connection&&) noexcept;
    connection& operator=(connection&&) noexcept;

    /// The response, or nothing if connecting, writing or reading failed or
    /// took longer than `timeout`.
    std::optional<http_response> call(std::uint16_t port, verb method, const std::string& target,
                                      std::string body = "",
                                      const std::string& authorization = "",
                                      std::chrono::milliseconds timeout = 15s);

private:
    struct state;
    std::unique_ptr<state> state_;
};

/// A TCP port nothing listens on right now, on 127.0.0.1, drawn at random below
/// the kernel's ephemeral range (32768 and up): a node's outgoing connections and
/// loopback listeners take ephemeral ports, which must never be a port a topology
/// gave to a node that has not started yet. Never the same port twice in one
/// test program: nothing listens on a port until its node starts, so two draws
/// for one topology could otherwise coincide.
std::uint16_t free_port();

/// The HTTP port of a node once its log says it listens (0 while it does not yet).
std::uint16_t listening_port(const std::string& log);

/// A JSON array of base64 hashes.
result<std::vector<hash>> decode_hashes(const json& list);

/// Parses a signed checkpoint and checks it is this log's, signed by its key.
result<checkpoint> open_checkpoint(const std::string& text, const note::verifier& log_key,
                                   const std::string& origin);

} // namespace civic::test
