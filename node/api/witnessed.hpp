// One waiter for every "witnessed": true request (as tessera has one waiter
// for integration): all that wait share one poll, not one each. On a leader
// the poll is held by its collector until a witnessed checkpoint covers the
// first who waits (answered at the quorum, not at the next poll); on a
// replica it reads gossip's newest checkpoint every 100 ms.
#pragma once

#include "node/api/operations.hpp"
#include "node/http/server.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

namespace civic::node::api {

class witnessed_waiter {
public:
    static constexpr std::size_t max_waiting = 65536;
    static constexpr std::chrono::milliseconds poll_interval{100};
    /// The longest the collector holds one poll (deadlines end sooner).
    static constexpr std::chrono::milliseconds max_poll_wait{1000};

    explicit witnessed_waiter(operations& ops) : ops_(ops) {}

    /// Answers with the entry's bundle once a checkpoint that covers `index`
    /// meets the witness quorum, or at `deadline` with `fallback` (the
    /// log-signed answer, "quorum": false); at once with `fallback` when
    /// max_waiting already wait.
    void wait(std::uint64_t index, std::chrono::steady_clock::time_point deadline,
              http_response fallback, http_respond respond);

    std::size_t waiting() const;

private:
    struct waiting_request {
        std::uint64_t index = 0;
        std::chrono::steady_clock::time_point deadline;
        http_response fallback;
        http_respond respond;
    };
    /// One round: asks for the witnessed checkpoint, answers what it covers
    /// and what has expired, and runs again while any still wait.
    void poll();
    void answer(const std::optional<std::string>& checkpoint);

    operations& ops_;
    mutable std::mutex mutex_;
    std::vector<waiting_request> waiting_; // guarded by mutex_
    bool polling_ = false;                 // guarded by mutex_
};

} // namespace civic::node::api
