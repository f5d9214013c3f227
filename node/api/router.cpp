#include "node/api/router.hpp"

#include "protocol/assert.hpp"

#include <algorithm>

namespace civic::node::api {

void router::add(std::vector<std::string> methods, std::string pattern, handler run) {
    CIVIC_ASSERT(!methods.empty() && !pattern.empty() && pattern.front() == '/');
    route r;
    r.methods = std::move(methods);
    auto star = pattern.find('*');
    CIVIC_ASSERT(star == std::string::npos || pattern.find('*', star + 1) == std::string::npos);
    r.wildcard = star != std::string::npos;
    r.prefix = pattern.substr(0, star);
    if (r.wildcard) r.suffix = pattern.substr(star + 1);
    r.run = std::move(run);
    routes_.push_back(std::move(r));
}

bool router::matches(const route& r, const std::string& path, std::string& star) {
    if (!r.wildcard) return path == r.prefix;
    if (path.size() <= r.prefix.size() + r.suffix.size()) return false;
    if (path.compare(0, r.prefix.size(), r.prefix) != 0) return false;
    if (path.compare(path.size() - r.suffix.size(), r.suffix.size(), r.suffix) != 0) return false;
    star = path.substr(r.prefix.size(), path.size() - r.prefix.size() - r.suffix.size());
    return true;
}

void router::dispatch(const http_request& request, http_respond respond) const {
    auto target = parse_target(request.target);
    if (!target) return respond(json_error(400, "bad_target", target.message()));
    std::vector<std::string> allowed;
    for (const auto& r : routes_) {
        std::string star;
        if (!matches(r, target->path, star)) continue;
        if (std::find(r.methods.begin(), r.methods.end(), request.method) != r.methods.end())
            return r.run(call{request, *target, std::move(star)}, std::move(respond));
        for (const auto& m : r.methods)
            if (std::find(allowed.begin(), allowed.end(), m) == allowed.end()) allowed.push_back(m);
    }
    if (allowed.empty())
        return respond(json_error(404, "not_found", not_found_ + ": " + target->path));
    std::string use, allow;
    for (std::size_t i = 0; i < allowed.size(); ++i) {
        use += (i == 0 ? "" : " or ") + allowed[i];
        allow += (i == 0 ? "" : ", ") + allowed[i];
    }
    auto r = json_error(405, "method_not_allowed", "use " + use);
    r.headers.push_back({"Allow", allow});
    respond(std::move(r));
}

} // namespace civic::node::api
