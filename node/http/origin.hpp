// Where a node sends its own HTTP requests: an http:// or https:// URL taken
// apart (scheme, host, port, path prefix). Pure: the fuzzers compile it alone.
#pragma once

#include "protocol/result.hpp"

#include <string>

namespace civic::node {

/// "http://host[:port][/prefix]" or "https://...": where requests go.
struct http_origin {
    bool tls = false;
    std::string host;   // without brackets for an IPv6 literal
    std::string port;   // decimal; the scheme's default when the URL has none
    std::string prefix; // path before each request's own (no trailing '/'), may be empty
    /// The URL again, for logs.
    std::string url() const;
};

/// Parses an http:// or https:// URL without query or fragment.
result<http_origin> parse_http_origin(const std::string& url);

} // namespace civic::node
