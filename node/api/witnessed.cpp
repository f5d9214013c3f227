#include "node/api/witnessed.hpp"

#include "node/api/handlers.hpp"

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
    if (start_poll) poll();
}

std::size_t witnessed_waiter::waiting() const {
    std::lock_guard lock(mutex_);
    return waiting_.size();
}

void witnessed_waiter::poll() {
    auto covered = [this](const std::string& text) { answer(text); };
    auto failed = [this](const failure&) { answer(std::nullopt); };
    // A leader's collector knows the newest checkpoint that met the quorum; a
    // replica learns of it through gossip.
    auto source =
        ops_.facts().collecting ? checkpoint_source::witnessed : checkpoint_source::gossiped;
    ops_.checkpoint(source, covered, failed);
}

void witnessed_waiter::answer(const std::optional<std::string>& checkpoint) {
    std::vector<waiting_request> waits;
    {
        std::lock_guard lock(mutex_);
        waits.swap(waiting_);
    }
    auto now = ops_.now();
    std::vector<waiting_request> still;
    for (auto& w : waits) {
        if (checkpoint) {
            auto j = bundle_json(ops_, w.index, *checkpoint);
            if (j && !j->contains("error") && (*j)["quorum"] == true) {
                w.respond(json_ok(*j));
                continue;
            }
        }
        if (now >= w.deadline) {
            w.respond(std::move(w.fallback));
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
    if (left > 0) ops_.after(poll_interval, [this] { poll(); });
}

} // namespace civic::node::api
