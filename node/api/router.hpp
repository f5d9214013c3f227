// Dispatches requests by path and method over one table of routes: 404 for a
// path no route has, 405 (with Allow) for a method a path does not take, 400
// for a target that cannot be decoded one way only (node/http/target.hpp).
#pragma once

#include "node/http/server.hpp"
#include "node/http/target.hpp"

#include <functional>
#include <string>
#include <vector>

namespace civic::node::api {

/// A request as its handler sees it: the decoded target, and what the
/// pattern's '*' matched (empty for a pattern without one).
struct call {
    const http_request& request;
    const request_target& target;
    std::string wildcard;
};

using handler = std::function<void(const call&, http_respond)>;

class router {
public:
    /// `not_found`: the start of a 404's message ("no such endpoint").
    explicit router(std::string not_found) : not_found_(std::move(not_found)) {}

    /// Adds a route. `pattern` is a path, or a path with one '*' that matches
    /// one or more characters, '/' included (identity names hold slashes).
    /// The first route in table order whose pattern and method match runs.
    void add(std::vector<std::string> methods, std::string pattern, handler run);

    void dispatch(const http_request& request, http_respond respond) const;

private:
    struct route {
        std::vector<std::string> methods;
        std::string prefix; // before the '*', or the whole path
        std::string suffix; // after the '*'
        bool wildcard = false;
        handler run;
    };
    /// Whether `path` matches `r`, with what the '*' matched in `star`.
    static bool matches(const route& r, const std::string& path, std::string& star);

    std::string not_found_;
    std::vector<route> routes_;
};

} // namespace civic::node::api
