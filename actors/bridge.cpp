#include "actors/bridge.hpp"

#include <algorithm>

namespace civic::actors {

namespace {

/// How often a bridge looks for expired requests: a tenth of the timeout, so a
/// request fails between 1x and 1.1x its timeout.
std::chrono::milliseconds tick_interval(const bridge_state& st) {
    return std::max(std::chrono::milliseconds(1), st.timeout / 10);
}

void schedule_tick(bridge_pointer self) {
    if (self->state.tick_scheduled || self->state.pending.empty()) return;
    self->state.tick_scheduled = true;
    self->delayed_send(self, tick_interval(self->state), atoms::tick_atom_v);
}

} // namespace

void bridge_track(bridge_pointer self, std::uint64_t id, std::function<void()> expire) {
    self->state.pending.emplace(
        id, bridge_state::waiting{self->clock().now() + self->state.timeout, std::move(expire)});
    schedule_tick(self);
}

bridge_actor::behavior_type bridge(bridge_pointer self, std::chrono::milliseconds timeout) {
    self->state.timeout = timeout;
    return {
        [self](bridge_job& job) { job.run(self); },
        [self](atoms::tick_atom) {
            auto& st = self->state;
            st.tick_scheduled = false;
            auto now = self->clock().now();
            while (!st.pending.empty() && st.pending.begin()->second.deadline <= now) {
                auto expire = std::move(st.pending.begin()->second.expire);
                st.pending.erase(st.pending.begin());
                expire();
            }
            schedule_tick(self);
        },
    };
}

} // namespace civic::actors
