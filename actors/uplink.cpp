#include "actors/uplink.hpp"

#include <caf/actor_cast.hpp>

#include <algorithm>

namespace civic::actors {

std::chrono::milliseconds uplink_backoff(const uplink_config& config, std::uint32_t failures,
                                         std::minstd_rand& jitter) {
    auto exponent = std::min<std::uint32_t>(failures > 0 ? failures - 1 : 0, 30);
    auto base = std::min<std::int64_t>(config.backoff_initial.count() << exponent,
                                       config.backoff_max.count());
    std::uniform_real_distribution<double> factor(0.5, 1.5);
    auto delay = static_cast<std::int64_t>(static_cast<double>(base) * factor(jitter));
    return std::chrono::milliseconds(
        std::clamp<std::int64_t>(delay, 1, config.backoff_max.count()));
}

namespace {

void retry_later(uplink_pointer self) {
    auto& st = self->state;
    st.connecting = false;
    ++st.failures;
    self->delayed_send(self, uplink_backoff(st.config, st.failures, st.jitter), atoms::tick_atom_v);
}

void connect(uplink_pointer self) {
    auto& st = self->state;
    if (st.joined || st.connecting) return;
    st.connecting = true;
    self->request(st.middleman, st.config.connect_timeout, caf::connect_atom::value,
                  st.config.leader_host, st.config.leader_port)
        .then(
            [self](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
                auto& s = self->state;
                if (!ptr) return retry_later(self);
                auto leader = caf::actor_cast<ledger_actor>(std::move(ptr));
                self->request(leader, s.config.connect_timeout, atoms::join_atom_v,
                              caf::actor_cast<caf::actor>(s.replica))
                    .then(
                        [self, leader](std::uint64_t) {
                            auto& st2 = self->state;
                            st2.connecting = false;
                            st2.joined = true;
                            st2.failures = 0;
                            st2.leader = leader;
                            // Across nodes a lost link arrives as a down message
                            // (remote_link_unreachable, found by heartbeats).
                            self->monitor(leader);
                        },
                        [self](caf::error&) { retry_later(self); });
            },
            [self](caf::error&) { retry_later(self); });
}

} // namespace

uplink_actor::behavior_type uplink(uplink_pointer self, uplink_config config,
                                   caf::io::middleman_actor middleman, replica_actor replica) {
    auto& st = self->state;
    st.config = std::move(config);
    st.middleman = std::move(middleman);
    st.replica = std::move(replica);
    st.jitter.seed(static_cast<std::minstd_rand::result_type>(st.config.seed % 2147483647 + 1));
    self->set_down_handler([self](caf::down_msg& msg) {
        auto& s = self->state;
        if (!s.joined || msg.source != s.leader.address()) return;
        s.joined = false;
        s.leader = nullptr;
        retry_later(self); // after a first, short backoff: the leader may be restarting
    });
    connect(self);
    return {
        [self](atoms::tick_atom) { connect(self); },
        [self](atoms::status_atom) { return self->state.joined; },
    };
}

} // namespace civic::actors
