// A blocking HTTP/1.1 client that keeps one connection to one server open
// between requests (keep-alive), over plain TCP or TLS. For a node's own calls
// to services outside its network (outside witnesses): TLS checks the server's
// certificate against the system's roots (or a CA file) and its name, and every
// exchange has a deadline. Not thread-safe: one owner (an actor of its own).
#pragma once

#include "node/http/origin.hpp"
#include "protocol/result.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace civic::node {

struct session_reply {
    unsigned status = 0;
    std::string content_type;
    std::string retry_after; // the header as sent, or empty
    std::string body;
};

struct session_options {
    /// PEM file of CA certificates trusted instead of the system's (tests, a
    /// private PKI); empty: the system's default roots.
    std::string ca_file;
    std::size_t body_limit = 64 * 1024;
};

class http_session {
public:
    explicit http_session(http_origin origin, session_options options = {});
    ~http_session();
    http_session(const http_session&) = delete;
    http_session& operator=(const http_session&) = delete;

    /// Sends one request to prefix + `path` within `timeout` (connecting, if no
    /// connection is open, counts) and reads the answer. A kept connection the
    /// server closed meanwhile is reopened once. Errors: no connection, TLS,
    /// timeout, a malformed or too large answer; the connection is then closed.
    result<session_reply> call(const std::string& method, const std::string& path,
                               const std::string& body, const std::string& content_type,
                               std::chrono::milliseconds timeout);

    const http_origin& origin() const { return origin_; }
    /// Connections opened so far (keep-alive keeps this at one while it works).
    std::uint64_t connections_opened() const;

private:
    struct impl;
    http_origin origin_;
    std::unique_ptr<impl> impl_;
};

} // namespace civic::node
