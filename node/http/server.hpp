// A small HTTP/1.1 server on Boost.Beast: its own I/O threads (never CAF's),
// keep-alive, bounded header and body sizes, deadlines for a request's header and
// for the whole request (a request that does not arrive in time gets a 408), a
// bounded number of connections in total and per client address (idle keep-alive
// connections give way when the server is full), accept errors that back off, and
// strict message framing (an unknown Transfer-Encoding is refused, never guessed).
// Handlers are asynchronous: they answer exactly once, from any thread, so a handler
// can wait on an actor without blocking a thread.
#pragma once

#include "protocol/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace civic::node {

struct http_request {
    std::string method;
    std::string target; // path and query, as sent
    std::string body;
    std::string authorization;
};

struct http_response {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

/// {"error": code, "message": text} with the given status.
http_response json_error(unsigned status, const std::string& code, const std::string& message);

using http_respond = std::function<void(http_response)>;
using http_handler = std::function<void(const http_request&, http_respond)>;

struct http_options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0; // 0: any free port
    unsigned threads = 2;
    std::size_t max_body = 64 * 1024;
    std::size_t max_header = 8 * 1024;
    /// From a request's first byte to the end of its header (at most request_timeout):
    /// a client that trickles its header holds a connection no longer than this.
    std::chrono::milliseconds header_timeout{5000};
    std::chrono::milliseconds request_timeout{10000}; // read, handle and write one request
    /// How long a keep-alive connection may wait for its next request.
    std::chrono::milliseconds idle_timeout{10000};
    /// Open connections in all. 0: sized from the process's descriptor limit at
    /// start() (connection_budget in connection_book.hpp).
    std::size_t max_connections = 0;
    /// Open connections from one client address (an IPv6 client: its /64). Over it, a
    /// new connection gets a 503 and is closed. Behind a reverse proxy, raise it.
    /// At most half of max_connections (start() lowers it), so that one address
    /// never holds them all.
    std::size_t max_connections_per_address = 256;
    /// Called with a short line for what an operator should know (accept errors and
    /// their back-off, connections refused when full), from an I/O thread. Rate-limited.
    std::function<void(const std::string&)> on_warning;
    /// Called once per connection refused or evicted, with the reason
    /// ("full", "per_address", "evicted_idle"), from an I/O thread.
    std::function<void(const char* reason)> on_connection_refused;
    /// Called once per answer (target as sent, empty when the request never
    /// parsed; status; time since the request was read), from an I/O thread.
    std::function<void(const std::string& target, unsigned status, std::chrono::microseconds)>
        on_response;
};

class http_server {
public:
    http_server(http_options options, http_handler handler);
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    /// Binds and starts the I/O threads.
    status start();
    /// The port bound (useful with port 0).
    std::uint16_t port() const;
    /// The connection limits in force (after start(): max_connections resolved).
    const http_options& options() const;
    /// Connections open now.
    std::size_t connections() const;
    /// accept() calls that failed (each followed by a back-off).
    std::uint64_t accept_errors() const;
    /// Stops accepting, closes connections, joins the threads.
    void stop();

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

} // namespace civic::node
