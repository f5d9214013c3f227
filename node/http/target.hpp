// A request target (RFC 9112 origin-form: path and query), split and decoded
// strictly: what cannot be read one way only is refused, not guessed at.
#pragma once

#include "protocol/result.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace civic::node {

struct request_target {
    /// The path, with %XX decoded only where it stands for an unreserved
    /// character (RFC 3986 2.3): "%2F" stays three characters, so a decoded
    /// path never has a '/' the client did not send as one.
    std::string path;
    /// The query's parameters, fully decoded ('+' is a space). Each name once.
    std::map<std::string, std::string> query;

    /// The parameter's value, or nothing.
    std::optional<std::string> param(const std::string& name) const {
        auto it = query.find(name);
        if (it == query.end()) return std::nullopt;
        return it->second;
    }
};

/// At most this many query parameters: no API takes more than three.
constexpr std::size_t max_query_params = 16;

/// Splits and decodes a target. Refuses one that does not start with '/', has
/// a malformed %XX, a control byte, a parameter twice or too many parameters.
result<request_target> parse_target(std::string_view raw);

/// Decodes every %XX (and '+' as a space when `plus_is_space`); refuses a
/// malformed escape and a decoded control byte.
result<std::string> percent_decode(std::string_view text, bool plus_is_space);

} // namespace civic::node
