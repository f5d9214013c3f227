#include "node/http/connection_book.hpp"

#include <algorithm>
#include <sys/resource.h>

namespace civic::node {

address_key address_key_of(const boost::asio::ip::address& address) {
    namespace ip = boost::asio::ip;
    address_key key{};
    if (address.is_v4() || address.to_v6().is_v4_mapped()) {
        auto v4 =
            address.is_v4() ? address.to_v4() : ip::make_address_v4(ip::v4_mapped, address.to_v6());
        auto b = v4.to_bytes();
        key[0] = 4;
        std::copy(b.begin(), b.end(), key.begin() + 1);
    } else {
        auto b = address.to_v6().to_bytes();
        key[0] = 6;
        std::copy_n(b.begin(), 8, key.begin() + 1);
    }
    return key;
}

std::size_t connection_budget(std::uint64_t descriptor_limit) {
    constexpr std::uint64_t reserve = 128; // the store, logs, the other port's own
    auto left = descriptor_limit > reserve ? descriptor_limit - reserve : 0;
    return static_cast<std::size_t>(std::clamp<std::uint64_t>(left / 2, 16, 16384));
}

std::size_t connection_budget_now() {
    rlimit limit{};
    std::uint64_t descriptors = 1024;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        descriptors = limit.rlim_cur;
    return connection_budget(descriptors);
}

std::chrono::milliseconds next_accept_backoff(std::chrono::milliseconds last) {
    return std::clamp(last * 2, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
}

void log_limiter::operator()(const std::string& line) {
    if (!sink_) return;
    auto now = std::chrono::steady_clock::now();
    std::string out;
    {
        std::lock_guard lock(mutex_);
        if (now - last_ < std::chrono::seconds(1)) {
            ++held_back_;
            return;
        }
        last_ = now;
        out = line;
        if (held_back_ > 0) out += " (" + std::to_string(held_back_) + " more since the last line)";
        held_back_ = 0;
    }
    sink_(out);
}

} // namespace civic::node
