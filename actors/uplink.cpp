#include "actors/uplink.hpp"

#include "actors/backoff.hpp"
#include "actors/errors.hpp"

#include <caf/actor_cast.hpp>
#include <caf/result.hpp>

#include <algorithm>

namespace civic::actors {

std::chrono::milliseconds uplink_backoff(const uplink_config& config, std::uint32_t failures,
                                         std::minstd_rand& jitter) {
    return backoff_delay(config.backoff_initial, config.backoff_max, failures, jitter);
}

namespace {

void retry_later(uplink_pointer self) {
    auto& st = self->state;
    st.connecting = false;
    ++st.failures;
    self->delayed_send(self, uplink_backoff(st.config, st.failures, st.jitter), atoms::tick_atom_v);
}

void schedule_poll(uplink_pointer self) {
    auto& st = self->state;
    if (st.poll_scheduled) return; // one chain of polls, across rejoins
    st.poll_scheduled = true;
    self->delayed_send(self, st.config.poll_interval, atoms::poll_atom_v);
}

void poll(uplink_pointer self) {
    auto& st = self->state;
    st.poll_scheduled = false;
    if (!st.joined) return; // the chain ends; a new join starts another
    self->request(st.leader, st.config.connect_timeout, atoms::status_atom_v)
        .then(
            [self](const node_status& s) {
                self->state.leader_size = s.size;
                self->state.polled_at = self->clock().now();
            },
            [](caf::error&) {}); // a dead leader shows up as a down message
    schedule_poll(self);
}

/// Fails every forwarded request still waiting (the leader is gone).
void fail_forwards(uplink_pointer self, const std::string& why) {
    auto waiting = std::move(self->state.forwards);
    self->state.forwards.clear();
    for (auto& [id, f] : waiting)
        f.promise.deliver(make_error(errc::unavailable, why));
}

void schedule_expiry(uplink_pointer self) {
    auto& st = self->state;
    if (st.expiry_scheduled || st.forwards.empty()) return;
    st.expiry_scheduled = true;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        st.forwards.begin()->second.deadline - self->clock().now());
    self->delayed_send(self, std::max(wait, std::chrono::milliseconds(1)), atoms::expire_atom_v);
}

void expire_forwards(uplink_pointer self) {
    auto& st = self->state;
    st.expiry_scheduled = false;
    auto now = self->clock().now();
    while (!st.forwards.empty() && st.forwards.begin()->second.deadline <= now) {
        auto promise = std::move(st.forwards.begin()->second.promise);
        st.forwards.erase(st.forwards.begin());
        promise.deliver(make_error(errc::unavailable, "the leader did not answer in time"));
    }
    schedule_expiry(self);
}

/// Forwards a request the leader answers with a receipt (a sign request, or an
/// entry its owner signed), with the forward's own deadline.
template <class Atom, class Request>
caf::result<append_receipt> forward(uplink_pointer self, Atom atom, Request& request) {
    auto& st = self->state;
    if (!st.joined) return make_error(errc::unavailable, "the leader is not reachable now");
    if (st.forwards.size() >= st.config.max_forwards)
        return make_error(errc::overloaded, "too many requests waiting for the leader");
    auto id = st.next_forward++;
    auto promise = self->make_response_promise<append_receipt>();
    st.forwards.emplace(
        id, uplink_state::forward{self->clock().now() + st.config.forward_timeout, promise});
    auto settle = [self, id](auto&& outcome) {
        auto it = self->state.forwards.find(id);
        if (it == self->state.forwards.end()) return; // expired, or the leader went away
        auto p = std::move(it->second.promise);
        self->state.forwards.erase(it);
        p.deliver(std::move(outcome));
    };
    // The forward's own deadline bounds CAF's handler too: with an infinite one,
    // a leader that stays connected but never answers would leave one handler
    // per expired forward, beyond max_forwards (expire_forwards answers first).
    self->request(st.leader, st.config.forward_timeout + std::chrono::milliseconds(1), atom,
                  std::move(request))
        .then([settle](append_receipt& r) { settle(std::move(r)); },
              [settle](caf::error& e) { settle(std::move(e)); });
    schedule_expiry(self);
    return promise;
}

void joined(uplink_pointer self, gateway_actor leader, const node_status& status) {
    auto& st = self->state;
    st.connecting = false;
    st.joined = true;
    st.failures = 0;
    st.leader = std::move(leader);
    st.leader_name = status.name;
    st.leader_size = status.size;
    st.polled_at = self->clock().now();
    st.config.log->info("uplink", "joined the leader",
                        {{"leader", status.name},
                         {"epoch", status.epoch},
                         {"leader_size", status.size},
                         {"failed_attempts", st.attempts_failed}});
    st.attempts_failed = 0;
    // Across nodes a lost link arrives as a down message (remote_link_unreachable,
    // found by heartbeats).
    self->monitor(st.leader);
    schedule_poll(self);
}

void try_candidate(uplink_pointer self);

/// Remembers why the last attempt at `host:port` failed (for /api/status: what
/// an operator asks first when a replica does not join), and tries the next.
void failed_at(uplink_pointer self, const std::string& host, std::uint16_t port,
               const std::string& why) {
    auto& st = self->state;
    st.last_failure = host + ":" + std::to_string(port) + ": " + why;
    // The first failure in a row, then every power of two of them: a leader
    // that stays away fills no disk.
    auto n = ++st.attempts_failed;
    if ((n & (n - 1)) == 0)
        st.config.log->warn(
            "uplink", "cannot join a leader",
            {{"at", host + ":" + std::to_string(port)}, {"why", why}, {"failed_attempts", n}});
    try_candidate(self);
}

/// Tries the next candidate; after a whole round without a leader, backs off.
void try_candidate(uplink_pointer self) {
    auto& st = self->state;
    if (st.round_left == 0 || st.config.candidates.empty()) return retry_later(self);
    --st.round_left;
    const auto [host, port] =
        st.config.candidates[st.next_candidate++ % st.config.candidates.size()];
    auto timeout = st.config.connect_timeout;
    auto failed = [self, host = host, port = port](const std::string& what) {
        return [self, host, port, what](caf::error& e) {
            failed_at(self, host, port, what + ": " + message_of(e));
        };
    };
    self->request(st.middleman, timeout, caf::connect_atom::value, host, port)
        .then(
            [self, timeout, failed](const caf::node_id&, caf::strong_actor_ptr& ptr,
                                    const std::set<std::string>&) {
                if (!ptr) return try_candidate(self);
                auto gateway = caf::actor_cast<gateway_actor>(std::move(ptr));
                self->request(gateway, timeout, atoms::status_atom_v)
                    .then(
                        [self, gateway, timeout, failed](const node_status& status) {
                            auto& s = self->state;
                            if (!status.leading || status.epoch < s.config.epoch)
                                return try_candidate(self); // a replica, or a deposed leader
                            s.config.epoch = status.epoch;
                            self->request(gateway, timeout, atoms::join_atom_v,
                                          caf::actor_cast<caf::actor>(s.replica))
                                .then([self, gateway,
                                       status](std::uint64_t) { joined(self, gateway, status); },
                                      failed("join"));
                        },
                        failed("status"));
            },
            failed("connect"));
}

void connect(uplink_pointer self) {
    auto& st = self->state;
    if (st.joined || st.connecting) return;
    st.connecting = true;
    st.round_left = st.config.candidates.size();
    try_candidate(self);
}

} // namespace

uplink_actor::behavior_type uplink(uplink_pointer self, uplink_config config,
                                   caf::io::middleman_actor middleman, replica_actor replica) {
    auto& st = self->state;
    st.config = std::move(config);
    st.middleman = std::move(middleman);
    st.replica = std::move(replica);
    st.jitter.seed(static_cast<std::minstd_rand::result_type>(st.config.seed % 2147483647 + 1));
    // A node supervises its replica and uplink rest-for-one: when the replica
    // restarts, so does this uplink, and it joins with the new replica.
    self->set_down_handler([self](caf::down_msg& msg) {
        auto& s = self->state;
        if (!s.joined || msg.source != s.leader.address()) return;
        s.joined = false;
        s.leader = nullptr;
        s.config.log->warn("uplink", "lost the connection to the leader",
                           {{"leader", s.leader_name},
                            {"reason", message_of(msg.reason)},
                            {"forwards_failed", s.forwards.size()}});
        fail_forwards(self, "lost the connection to the leader");
        retry_later(self); // after a first, short backoff: the leader may be restarting
    });
    connect(self);
    return {
        [self](atoms::sign_atom, forwarded_sign& fs) {
            return forward(self, atoms::sign_atom_v, fs);
        },
        [self](atoms::append_atom, forwarded_entry& fe) {
            return forward(self, atoms::append_atom_v, fe);
        },
        [self](atoms::poll_atom, std::uint64_t size,
               std::uint32_t max_wait_ms) -> caf::result<std::string> {
            auto& s = self->state;
            if (!s.joined) return make_error(errc::unavailable, "the leader is not reachable now");
            // The leader holds the poll up to max_wait; a second more for the
            // way there and back, so a leader that went away fails it in time.
            auto timeout = std::chrono::milliseconds(max_wait_ms) + std::chrono::seconds(1);
            auto promise = self->make_response_promise<std::string>();
            self->request(s.leader, timeout, atoms::poll_atom_v, size, max_wait_ms)
                .then([promise](std::string& text) mutable { promise.deliver(std::move(text)); },
                      [promise](caf::error& e) mutable { promise.deliver(std::move(e)); });
            return promise;
        },
        [self](atoms::status_atom) {
            auto& s = self->state;
            auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(self->clock().now() -
                                                                             s.polled_at);
            return link_status{s.joined, s.leader_name, s.leader_size,
                               s.joined ? static_cast<std::uint64_t>(ago.count()) : 0,
                               s.last_failure};
        },
        [self](atoms::fetch_atom, std::uint64_t first,
               std::uint64_t count) -> caf::delegated<replicated_batch> {
            auto& s = self->state;
            if (!s.joined) {
                auto rp = self->make_response_promise<replicated_batch>();
                rp.deliver(make_error(errc::unavailable, "the leader is not reachable now"));
                return {};
            }
            // Delegated: the leader answers the asker, who keeps the deadline.
            return self->delegate(s.leader, atoms::fetch_atom_v, first, count);
        },
        [self](atoms::tick_atom) { connect(self); },
        [self](atoms::poll_atom) { poll(self); },
        [self](atoms::expire_atom) { expire_forwards(self); },
    };
}

} // namespace civic::actors
