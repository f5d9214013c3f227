#include "node/sim/outside.hpp"

#include "actors/errors.hpp"
#include "actors/witness.hpp"
#include "node/sim/invariants.hpp"
#include "node/sim/network.hpp"
#include "node/sim/report.hpp"
#include "node/sim/setup.hpp"
#include "protocol/assert.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <deque>

namespace civic::node::sim {
namespace {

/// A witness's HTTP server closes a kept connection left idle this long.
constexpr auto idle_close = std::chrono::seconds(60);
/// Requests an asker holds while one is out (the collector sends one at a time).
constexpr std::size_t max_waiting = 16;

/// The asking side, on the node: what the process's HTTP client does (one
/// request at a time over a kept connection, a timeout on each), with the
/// simulated network in place of the socket.
struct asker_state {
    static inline const char* name = "simulated-outside-witness";
    struct waiting {
        actors::cosign_request request;
        caf::typed_response_promise<actors::cosign_answer> promise;
    };
    std::deque<waiting> queue; // the first is out when `out` is set
    std::uint64_t out = 0;     // its exchange's number
    bool connected = false;
    caf::actor_clock::time_point last_answer{};
};

using asker_pointer = actors::simulated_outside_witness_actor::stateful_pointer<asker_state>;

struct asker_config {
    outside_witnesses* model = nullptr;
    std::size_t witness = 0;
    std::string region; // the asking node's
    sim_duration timeout{0};
};

void send_next(asker_pointer self, const asker_config& config) {
    auto& st = self->state;
    if (st.queue.empty() || st.out != 0) return;
    bool fresh = !st.connected || self->clock().now() - st.last_answer > idle_close;
    auto [id, back] =
        config.model->send(config.witness, config.region, fresh, st.queue.front().request);
    st.out = id;
    // The answer is looked at when it is due, or at the timeout if sooner.
    self->delayed_send(self, std::min(config.timeout, back), atoms::add_atom_v, id);
}

actors::simulated_outside_witness_actor::behavior_type asker(asker_pointer self,
                                                             asker_config config) {
    return {
        [self, config](atoms::add_atom,
                       actors::cosign_request& request) -> caf::result<actors::cosign_answer> {
            auto& st = self->state;
            if (st.queue.size() >= max_waiting)
                return actors::make_error(actors::errc::unavailable,
                                          "too many requests wait for this witness");
            auto promise = self->make_response_promise<actors::cosign_answer>();
            st.queue.push_back({std::move(request), promise});
            send_next(self, config);
            return promise;
        },
        [self, config](atoms::add_atom, std::uint64_t id) {
            auto& st = self->state;
            if (id != st.out || st.queue.empty()) return;
            auto answer = config.model->collect(id);
            auto done = std::move(st.queue.front());
            st.queue.pop_front();
            st.out = 0;
            if (answer) {
                st.connected = true;
                st.last_answer = self->clock().now();
                done.promise.deliver(std::move(*answer));
            } else {
                st.connected = false; // a failed exchange leaves no connection to reuse
                done.promise.deliver(actors::make_error(
                    actors::errc::unavailable, "no answer within " +
                                                   std::to_string(config.timeout.count() / 1000) +
                                                   " ms (simulated HTTP exchange)"));
            }
            send_next(self, config);
        },
    };
}

} // namespace

status outside_witnesses::start() {
    CIVIC_TRY(logs_.add(setup_.log_vkey));
    for (const auto& m : setup_.outside) {
        modelled_witness w;
        w.model = m;
        w.key = std::make_unique<note::cosigner>(outside_witness_key(setup_.seed, m.name));
        witnesses_.push_back(std::move(w));
    }
    return {};
}

actors::outside_witness_actor outside_witnesses::spawn(caf::actor_system& sys,
                                                       const actors::outside_witness_spec& spec,
                                                       const std::string& region,
                                                       sim_duration timeout) {
    auto it = std::find_if(witnesses_.begin(), witnesses_.end(),
                           [&](const modelled_witness& w) { return w.model.name == spec.name; });
    // The setup refused a policy with an outside witness it cannot place.
    CIVIC_ASSERT(it != witnesses_.end());
    asker_config config{this, static_cast<std::size_t>(it - witnesses_.begin()), region, timeout};
    return sys.spawn(asker, std::move(config));
}

sim_duration outside_witnesses::service_time(const modelled_witness& w) {
    return sim_duration(
        static_cast<std::int64_t>(w.model.service_ms * 1000.0 * (0.5 + random_.unit())));
}

std::pair<std::uint64_t, sim_duration> outside_witnesses::send(std::size_t witness,
                                                               const std::string& region,
                                                               bool fresh,
                                                               actors::cosign_request request) {
    CIVIC_ASSERT(witness < witnesses_.size());
    // Exchanges whose asker died are never collected: the oldest give way.
    while (exchanges_.size() >= max_outside_exchanges)
        exchanges_.erase(exchanges_.begin());
    auto id = next_exchange_++;
    auto& x = exchanges_[id];
    const auto& w = witnesses_[witness];
    const auto& there = w.model.region;
    report_.outside_request();
    if (net_.heal_time(region, there)) { // no connection, no request: the timeout
        x.back = time_point::max();
        return {id, sim_duration::max()};
    }
    sim_duration out{0};
    int set_up_trips = fresh ? (w.model.tls ? 2 : 1) : 0; // TCP, then TLS 1.3
    for (int i = 0; i < set_up_trips; ++i)
        out += net_.one_way(region, there) + net_.one_way(there, region);
    out += net_.one_way(region, there) + service_time(w);
    auto back = out + net_.one_way(there, region);
    auto now = clock_.now();
    x.back = now + back;
    // The witness decides when the request reaches it (and persists before it
    // answers): its state changes even if the asker has given up by then.
    clock_.at(now + out, [this, id, witness, region, request = std::move(request)] {
        auto& at = witnesses_[witness];
        // Cut off meanwhile: the request never arrives, and the asker times out.
        if (net_.heal_time(region, at.model.region)) return;
        auto answer = decide(at, request);
        if (auto it = exchanges_.find(id); it != exchanges_.end())
            it->second.answer = std::move(answer);
    });
    return {id, back};
}

std::optional<actors::cosign_answer> outside_witnesses::collect(std::uint64_t id) {
    auto it = exchanges_.find(id);
    if (it == exchanges_.end()) return std::nullopt;
    auto x = std::move(it->second);
    exchanges_.erase(it);
    if (!x.answer || x.back > clock_.now()) return std::nullopt;
    return std::move(*x.answer);
}

actors::cosign_answer outside_witnesses::decide(modelled_witness& w,
                                                const actors::cosign_request& request) {
    witness::add_checkpoint_request req;
    req.old_size = request.old_size;
    auto proof = witness::proof_from_bytes(request.proof);
    CIVIC_ASSERT(proof); // the collector's own proof
    req.proof = std::move(*proof);
    req.checkpoint = request.checkpoint;
    auto v = witness::check_add_checkpoint(req, logs_, w.latest);
    auto unix_ms = sim_epoch_unix + std::chrono::duration_cast<std::chrono::milliseconds>(
                                        clock_.now().time_since_epoch());
    if (v.signed_by_log) {
        auto seconds = std::chrono::duration<double>(clock_.now().time_since_epoch()).count();
        if (auto wait = w.allowance.spend(w.model.qpd, seconds); wait > 0) {
            report_.outside_throttled();
            return {429, false,
                    "this log may make " + std::to_string(w.model.qpd) +
                        " add-checkpoint requests a day; ask again in " + std::to_string(wait) +
                        " s\n",
                    wait};
        }
    }
    if (v.result != witness::outcome::cosign) return actors::refusal(v);
    auto timestamp = static_cast<std::uint64_t>(unix_ms.count() / 1000);
    auto cosignature = w.key->cosign(v.body->text(), timestamp);
    w.latest = witness::cosigned_state{v.body->size, v.body->root, request.checkpoint};
    if (checks_.witness_cosigned(w.model.name, request.checkpoint))
        report_.witness_timestamp(timestamp);
    return {200, false, note::signature_line(cosignature)};
}

} // namespace civic::node::sim
