// Where `civic-attest audit` reads a log: the C2SP tlog-tiles read API over
// HTTP (http://host:port[/prefix]), or a static tlog-tiles directory (a
// mirror: DIR/checkpoint, DIR/tile/...). Only GETs of the spec's paths, every
// body bounded before it is read.
#pragma once

#include "protocol/result.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace civic::node::audit {

struct fetch_limits {
    std::chrono::milliseconds timeout{10000}; // per request, connection to last byte
    unsigned attempts = 3;                    // transport failures and 5xx are retried
    std::chrono::milliseconds first_backoff{200};
};

/// What a log source has read so far.
struct fetch_counts {
    std::uint64_t resources = 0; // answered requests, or files read
    std::uint64_t bytes = 0;
};

class log_source {
public:
    virtual ~log_source() = default;
    /// The resource at `path` ("checkpoint", "tile/0/x001/234"): its bytes,
    /// nothing when the log does not have it (404, no such file), or an error
    /// when it cannot be read or holds more than `max_bytes`. Errors name the
    /// URL or file.
    virtual result<std::optional<std::string>> fetch(const std::string& path,
                                                     std::size_t max_bytes) = 0;
    /// The full URL or file name of `path`, for messages.
    virtual std::string locate(const std::string& path) const = 0;
    const fetch_counts& counts() const { return counts_; }

protected:
    fetch_counts counts_;
};

/// `where` is http://HOST:PORT[/PREFIX] or a directory; errors say which it is not.
result<std::unique_ptr<log_source>> open_log_source(const std::string& where,
                                                    const fetch_limits& limits);

} // namespace civic::node::audit
