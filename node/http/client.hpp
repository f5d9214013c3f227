// A minimal blocking HTTP/1.1 client for the CLI (plain http://host:port).
#pragma once

#include "node/http/server.hpp"

#include <string>

namespace civic::node {

struct http_endpoint {
    std::string host;
    std::string port;
};

/// Parses "http://host:port" (https is not supported by this client).
result<http_endpoint> parse_server_url(const std::string& url);

/// Largest response body http_call reads unless told otherwise.
constexpr std::size_t default_response_limit = 16 * 1024 * 1024;

/// Sends one request and returns the response; errors are connection failures
/// and a response body larger than `body_limit`.
result<http_response> http_call(const http_endpoint& server, const std::string& method,
                                const std::string& target, const std::string& body,
                                const std::string& authorization, std::chrono::milliseconds timeout,
                                std::size_t body_limit = default_response_limit);

} // namespace civic::node
