#include "node/system/limits.hpp"

#include <sys/resource.h>

namespace civic::node {

namespace {

std::uint64_t finite(rlim_t value) {
    return value == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(value);
}

} // namespace

descriptor_limit raise_descriptor_limit() {
    descriptor_limit out;
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return out;
    out.before = out.now = finite(limit.rlim_cur);
    out.hard = finite(limit.rlim_max);
    if (limit.rlim_cur == limit.rlim_max) return out;
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    // Linux caps RLIMIT_NOFILE at fs.nr_open even when the hard limit says
    // "unlimited": fall back to a large finite value then.
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
        raised.rlim_cur = 1 << 20;
        if (raised.rlim_cur > limit.rlim_max || setrlimit(RLIMIT_NOFILE, &raised) != 0) return out;
    }
    out.now = finite(raised.rlim_cur);
    return out;
}

std::string describe(const descriptor_limit& limit) {
    auto show = [](std::uint64_t v) {
        return v == UINT64_MAX ? std::string("unlimited") : std::to_string(v);
    };
    if (limit.before == limit.now)
        return "descriptor limit " + show(limit.now) + " (hard " + show(limit.hard) + ")";
    return "descriptor limit raised from " + show(limit.before) + " to " + show(limit.now) +
           " (hard " + show(limit.hard) + ")";
}

} // namespace civic::node
