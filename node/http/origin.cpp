#include "node/http/origin.hpp"

#include "protocol/bytes.hpp"

namespace civic::node {

std::string http_origin::url() const {
    auto h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return std::string(tls ? "https://" : "http://") + h + ":" + port + prefix;
}

result<http_origin> parse_http_origin(const std::string& url) {
    http_origin o;
    std::string rest;
    if (url.rfind("https://", 0) == 0) {
        o.tls = true;
        rest = url.substr(8);
    } else if (url.rfind("http://", 0) == 0) {
        rest = url.substr(7);
    } else {
        return make_error("the URL must start with http:// or https://");
    }
    if (rest.find_first_of("?#") != std::string::npos)
        return make_error("the URL must have no query or fragment");
    if (rest.find_first_of(" \t\r\n") != std::string::npos)
        return make_error("the URL must have no white space");
    auto slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    o.prefix = slash == std::string::npos ? "" : rest.substr(slash);
    while (!o.prefix.empty() && o.prefix.back() == '/')
        o.prefix.pop_back();
    if (authority.find('@') != std::string::npos)
        return make_error("the URL must have no user information");
    std::string port;
    if (!authority.empty() && authority[0] == '[') {
        auto close = authority.find(']');
        if (close == std::string::npos) return make_error("the URL's IPv6 address has no ']'");
        o.host = authority.substr(1, close - 1);
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') return make_error("the URL has text after its IPv6 address");
            port = after.substr(1);
        }
    } else {
        auto colon = authority.rfind(':');
        o.host = authority.substr(0, colon);
        if (colon != std::string::npos) port = authority.substr(colon + 1);
    }
    if (o.host.empty()) return make_error("the URL has no host");
    bool bracketed = !authority.empty() && authority[0] == '[';
    if (bracketed && o.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos)
        return make_error("the URL's IPv6 address holds more than hex digits, ':' and '.'");
    if (!bracketed && o.host.find_first_of(":[]") != std::string::npos)
        return make_error("the URL's host holds ':', '[' or ']' (an IPv6 address goes in [])");
    for (char c : o.host)
        if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) == 0x7f)
            return make_error("the URL's host holds a control byte");
    if (port.empty()) {
        o.port = o.tls ? "443" : "80";
    } else {
        auto n = parse_decimal(port, 65535);
        if (!n || *n == 0) return make_error("the URL's port must be 1 to 65535");
        o.port = std::to_string(*n);
    }
    return o;
}

} // namespace civic::node
