// What a listener that faces the network keeps about its connections: how many
// it holds in all and from each address, against caps sized from the descriptor
// limit, which of them may give way when it is full, and how often it may log
// and retry accepting when something goes wrong. The HTTP server and the peer
// port's TLS front share it.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace civic::node {

/// Who a connection is from, for the per-address cap: an IPv4 address (IPv4-mapped
/// IPv6 included), or the /64 of an IPv6 one (one subscriber's prefix: single IPv6
/// addresses are free to have).
using address_key = std::array<unsigned char, 9>;
address_key address_key_of(const boost::asio::ip::address& address);

/// The connection limit for a descriptor limit: half of what is left after a
/// reserve for the store, logs and the other port, at least 16, at most 16384.
std::size_t connection_budget(std::uint64_t descriptor_limit);

/// connection_budget of the process's soft descriptor limit now (1024 if unknown).
std::size_t connection_budget_now();

/// The next pause before accepting again after accept() failed (out of
/// descriptors: accepting again at once would spin): 5 ms, doubling, at most 1 s.
std::chrono::milliseconds next_accept_backoff(std::chrono::milliseconds last);

/// Passes on at most one line a second; the lines held back are counted in the
/// next one passed on. A flood must not become a flood of log lines.
class log_limiter {
public:
    explicit log_limiter(std::function<void(const std::string&)> sink = {})
        : sink_(std::move(sink)) {}
    void operator()(const std::string& line);

private:
    std::function<void(const std::string&)> sink_;
    std::mutex mutex_;
    std::chrono::steady_clock::time_point last_{};
    std::size_t held_back_ = 0;
};

/// The connections of one listener, counted against a cap in all and one per
/// address. Connections that only wait (for a request, for a handshake) stand in
/// a line, longest first: when the listener is full, the first of them gives way
/// to a newcomer rather than the newcomer being refused. Thread-safe.
///
/// `Connection` has a public member `place_in_book` of type `place`, which only
/// the book touches (under its lock).
template <class Connection>
class connection_book {
public:
    using line = std::list<std::weak_ptr<Connection>>;
    struct place {
        typename line::iterator at;
        bool standing = false;
    };
    struct admission {
        /// Why the newcomer is refused ("per_address", "full"), or null if admitted.
        const char* refusal = nullptr;
        /// The waiting connection that gives way to the newcomer: the caller closes it.
        std::shared_ptr<Connection> evicted;
    };

    /// One address may never hold every connection: at most half of them.
    void set_caps(std::size_t total, std::size_t per_address) {
        std::lock_guard lock(mutex_);
        max_total_ = std::max<std::size_t>(1, total);
        max_per_address_ =
            std::clamp<std::size_t>(per_address, 1, std::max<std::size_t>(1, max_total_ / 2));
    }
    std::size_t max_total() const {
        std::lock_guard lock(mutex_);
        return max_total_;
    }
    std::size_t max_per_address() const {
        std::lock_guard lock(mutex_);
        return max_per_address_;
    }
    std::size_t open() const {
        std::lock_guard lock(mutex_);
        return open_;
    }

    /// Counts a newcomer from `key` in, or says why not. Every admission is
    /// matched by one release(key).
    admission admit(const address_key& key) {
        admission out;
        std::lock_guard lock(mutex_);
        auto& from_there = per_address_[key];
        if (from_there >= max_per_address_) {
            out.refusal = "per_address";
        } else if (open_ >= max_total_) {
            while (!line_.empty() && !out.evicted) {
                out.evicted = line_.front().lock();
                if (out.evicted) out.evicted->place_in_book.standing = false;
                line_.pop_front();
            }
            // The evicted one still counts until it is released: briefly one over.
            if (!out.evicted) out.refusal = "full";
        }
        if (out.refusal) {
            if (from_there == 0) per_address_.erase(key);
        } else {
            ++open_;
            ++from_there;
        }
        return out;
    }

    void release(const address_key& key) {
        std::lock_guard lock(mutex_);
        --open_;
        if (auto it = per_address_.find(key); it != per_address_.end() && --it->second == 0)
            per_address_.erase(it);
    }

    /// `c` only waits from now on: it may give way to a newcomer.
    void stand_in_line(const std::shared_ptr<Connection>& c) {
        std::lock_guard lock(mutex_);
        auto& p = c->place_in_book;
        if (p.standing) return;
        p.at = line_.insert(line_.end(), c);
        p.standing = true;
    }
    /// `c` is busy (or gone) from now on: it keeps its connection.
    void leave_line(Connection& c) {
        std::lock_guard lock(mutex_);
        auto& p = c.place_in_book;
        if (p.standing) line_.erase(p.at);
        p.standing = false;
    }

private:
    mutable std::mutex mutex_;
    std::size_t max_total_ = 16;
    std::size_t max_per_address_ = 8;
    std::size_t open_ = 0;
    std::map<address_key, std::size_t> per_address_;
    line line_;
};

} // namespace civic::node
