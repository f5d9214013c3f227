#include "node/api/witnessed.hpp"

#include "node/api/handlers.hpp"

#include <algorithm>
#include <limits>

namespace civic::node::api {

void witnessed_waiter::wait(std::uint64_t index, std::chrono::steady_clock::time_point deadline,
                            http_response fallback, http_respond respond) {
    bool full = false, start_poll = false;
    {
        std::lock_guard lock(mutex_);
        full = waiting_.size() >= max_waiting;
        if (!full) {
            waiting_.push_back({index, deadline, std::move(fallback), std::move(respond)});
            start_poll = !std::exchange(polling_, true);
        }
    }
    // Too many waiting: the log-signed answer at once, as at a deadline.
    if (full) return respond(std::move(fallback));
    // The leader's collector starts a round for it at once: the request's
    // flag went with it to the leader's ledger, which said so at the commit.
    if (start_poll) poll();
}

std::size_t witnessed_waiter::waiting() const {
    std::lock_guard lock(mutex_);
    return waiting_.size();
}

void witnessed_waiter::poll() {
    auto covered = [this](const std::string& text) { answer(text); };
    auto failed = [this](const failure&) { answer(std::nullopt); };
    if (!ops_.facts().collecting && ops_.facts().leading) {
        // A leader without a collector now (it restarts): what gossip knows.
        return ops_.checkpoint(checkpoint_source::gossiped, covered, failed);
    }
    // The leader's collector holds the poll until a witnessed checkpoint
    // covers the first who waits, or until the first deadline (a replica
    // asks its leader's through its uplink, and builds the bundle against
    // its own tree, which must hold that checkpoint).
    std::uint64_t size = std::numeric_limits<std::uint64_t>::max();
    auto first_deadline = std::chrono::steady_clock::time_point::max();
    {
        std::lock_guard lock(mutex_);
        for (const auto& w : waiting_) {
            size = std::min(size, w.index + 1);
            first_deadline = std::min(first_deadline, w.deadline);
        }
    }
    auto now = ops_.now();
    auto until_deadline =
        first_deadline > now
            ? std::chrono::duration_cast<std::chrono::milliseconds>(first_deadline - now)
            : std::chrono::milliseconds(0);
    auto max_wait = std::clamp(until_deadline + std::chrono::milliseconds(1),
                               std::chrono::milliseconds(1), max_poll_wait);
    ops_.await_witnessed(size, max_wait, covered, failed);
}

void witnessed_waiter::answer(const std::optional<std::string>& checkpoint) {
    std::vector<waiting_request> waits;
    {
        std::lock_guard lock(mutex_);
        waits.swap(waiting_);
    }
    auto now = ops_.now();
    std::vector<waiting_request> still;
    std::size_t answered = 0;
    for (auto& w : waits) {
        if (checkpoint) {
            auto j = bundle_json(ops_, w.index, *checkpoint);
            if (j && !j->contains("error") && (*j)["quorum"] == true) {
                w.respond(json_ok(*j));
                ++answered;
                continue;
            }
        }
        if (now >= w.deadline) {
            w.respond(std::move(w.fallback));
            ++answered;
            continue;
        }
        still.push_back(std::move(w));
    }
    std::size_t left = 0;
    {
        std::lock_guard lock(mutex_);
        // Requests that came meanwhile are already in waiting_.
        for (auto& w : still)
            waiting_.push_back(std::move(w));
        left = waiting_.size();
        if (left == 0) polling_ = false;
    }
    ops_.witnessed_polled(left);
    if (left == 0) return;
    // The collector held the poll: ask again at once. A poll that answered
    // nobody (a failure, a checkpoint no bundle could use) waits a little, so
    // that it never spins.
    if (ops_.facts().collecting && checkpoint && answered > 0) return poll();
    ops_.after(poll_interval, [this] { poll(); });
}

} // namespace civic::node::api
