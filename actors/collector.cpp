#include "actors/collector.hpp"

#include "actors/backoff.hpp"
#include "actors/errors.hpp"
#include "protocol/assert.hpp"
#include "protocol/cosignature.hpp"
#include "protocol/tiles.hpp"

#include <caf/actor_cast.hpp>

#include <algorithm>

namespace civic::actors {
namespace {

constexpr std::size_t max_quorum_samples = 256;
/// The longest a `poll` is held (the HTTP side asks again).
constexpr std::chrono::milliseconds max_poll_wait{10000};
/// A witness's pace (the spacing its 429s showed) eases after this many
/// cosignatures, and is at most a minute (a longer Retry-After holds it back
/// once, it does not set the pace).
constexpr std::uint32_t pace_probe = 8;
constexpr std::chrono::seconds pace_memory{60}; // 429s this close together set a pace
constexpr std::chrono::milliseconds::rep max_pace = 60000;
/// The spacing of rounds on demand (see collector_state::last_demand_round):
/// at least this, and at most the maximum plus this (a time to quorum made
/// long by a throttled or failing witness must not hold witnessed answers).
constexpr std::chrono::microseconds demand_spacing_floor{2000};
constexpr std::chrono::microseconds max_demand_spacing{20000};

using time_point = collector_state::time_point;

std::uint64_t micros(caf::timespan d) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    return us > 0 ? static_cast<std::uint64_t>(us) : 0;
}

void finish_round(collector_pointer self, std::uint64_t id);
void maybe_start_on_demand(collector_pointer self);

std::vector<collector_state::link>& collector_links(collector_pointer self) {
    return self->state.links;
}

void connect(collector_pointer self, std::size_t i) {
    connect_link(self, collector_links, self->state.config.timing, i,
                 [self](std::size_t up) { self->state.links[up].view.connected = true; });
}

collector_state::round_state* find_round(collector_state& st, std::uint64_t id) {
    for (auto& r : st.rounds)
        if (r.id == id) return &r;
    return nullptr;
}

/// Rounds still short of their quorum (those past it only wait for late
/// cosignatures and hold nothing up).
std::size_t rounds_without_quorum(const collector_state& st) {
    return static_cast<std::size_t>(
        std::count_if(st.rounds.begin(), st.rounds.end(),
                      [](const collector_state::round_state& r) { return !r.quorum_at; }));
}

/// The largest size asked for, in flight or published.
std::uint64_t newest_asked_size(const collector_state& st) {
    std::uint64_t size = st.published_size;
    for (const auto& r : st.rounds)
        size = std::max(size, r.body.size);
    return size;
}

/// Whether the cosignatures gathered so far meet the policy's quorum.
bool quorum_met(const collector_state& st, const collector_state::round_state& r) {
    std::vector<bool> cosigned(st.config.rules->witnesses.size(), false);
    for (std::size_t i = 0; i < st.links.size(); ++i)
        if (r.cosignatures[i]) cosigned[st.links[i].policy_index] = true;
    return st.config.rules->quorum_met(cosigned);
}

/// The round's checkpoint with the cosignatures it has.
std::string with_cosignatures(const collector_state::round_state& r) {
    auto n = note::parse(r.log_note);
    CIVIC_ASSERT(n); // a round starts only from a checkpoint that parsed
    for (const auto& c : r.cosignatures)
        if (c) n->signatures.push_back(*c);
    return note::serialize(*n);
}

/// Answers the polls a witnessed checkpoint of `size` covers.
void answer_polls(collector_state& st) {
    for (auto it = st.awaiting_polls.begin(); it != st.awaiting_polls.end();) {
        if (it->second.size > st.witnessed_size) {
            ++it;
            continue;
        }
        it->second.promise.deliver(st.witnessed);
        it = st.awaiting_polls.erase(it);
    }
}

/// The round met its quorum: it is what witnessed answers get from now on
/// (late cosignatures join what is published, not what was answered).
void announce_witnessed(collector_pointer self, const collector_state::round_state& r) {
    auto& st = self->state;
    if (r.body.size <= st.witnessed_size && !st.witnessed.empty()) return;
    st.witnessed = with_cosignatures(r);
    st.witnessed_size = r.body.size;
    answer_polls(st);
    if (st.config.on_witnessed) st.config.on_witnessed(st.witnessed);
}

void check_round(collector_pointer self, std::uint64_t id);

/// Whether round `r` waits for witness `l`, which said when to ask again (a
/// 429 or 503): when that time is still to come, and soon enough in the
/// round's life.
bool waits_for_allowance(const collector_state& st, const collector_state::round_state& r,
                         const collector_state::link& l, time_point now) {
    return l.limited_by_witness && now < l.not_before &&
           l.not_before <= r.started + st.config.witness_timeout;
}

/// After a witness's answer: every round may be done (one may have waited for
/// that witness to have room).
void check_rounds(collector_pointer self) {
    std::vector<std::uint64_t> ids;
    for (const auto& r : self->state.rounds)
        ids.push_back(r.id);
    for (auto id : ids)
        check_round(self, id);
}

/// After any answer: notes the quorum, and ends the round when nothing is out,
/// or arms the grace timer for late cosignatures.
void check_round(collector_pointer self, std::uint64_t id) {
    auto& st = self->state;
    auto* r = find_round(st, id);
    if (!r) return;
    auto now = self->clock().now();
    // Out: a request for this round, or (short of the quorum) a witness not
    // yet asked because it is busy with an earlier round, or held back by its
    // Retry-After for a while yet: it is asked once it answers or may be asked
    // (catch_up), and the round waits for it.
    bool outstanding = false;
    for (std::size_t i = 0; i < st.links.size(); ++i)
        outstanding =
            outstanding || r->waiting[i] ||
            (!r->quorum_at && !r->asked[i] &&
             (st.links[i].in_flight > 0 || waits_for_allowance(st, *r, st.links[i], now)));
    if (!r->quorum_at && quorum_met(st, *r)) {
        r->quorum_at = self->clock().now();
        announce_witnessed(self, *r);
        if (outstanding) self->delayed_send(self, st.config.grace, atoms::flush_atom_v, id);
        // Room for the next round: witnessed requests need not wait for late ones.
        maybe_start_on_demand(self);
        r = find_round(st, id);
        if (!r) return;
    }
    if (!outstanding) finish_round(self, id);
}

/// A witness that did not cosign: counted, and logged the first time in a row
/// and then every power of two of them (a witness that stays down would
/// otherwise write a line a round).
void failed(collector_pointer self, std::size_t i, std::chrono::microseconds latency,
            const std::string& why) {
    auto& l = self->state.links[i];
    ++l.view.failures;
    l.view.last_error = why;
    auto n = ++l.failed_in_a_row;
    if ((n & (n - 1)) == 0)
        self->state.config.log->warn("collector", "a witness did not cosign",
                                     {{"witness", l.endpoint.name},
                                      {"why", why},
                                      {"after_ms", latency.count() / 1000},
                                      {"failed_in_a_row", n}});
    if (self->state.config.on_answer) self->state.config.on_answer(l.endpoint.name, latency, false);
}

void ask_witness(collector_pointer self, collector_state::round_state& r, std::size_t i,
                 std::uint64_t old_size);

/// Whether link `i` may get another request now: reachable, below its limit
/// of requests out, and not held back by a Retry-After or a backoff.
bool askable(collector_pointer self, const collector_state::link& l) {
    return (l.gateway || l.outside) && l.in_flight < l.max_in_flight &&
           self->clock().now() >= l.not_before;
}

/// Where link `i`'s next request starts.
std::uint64_t next_old_size(const collector_state::link& l) {
    return l.in_flight == 0 ? l.view.known_size : l.sent_size;
}

/// A witness that has room again (an answer came) gets the newest round still
/// short of its quorum that it was not asked for: with one request at a time
/// (outside witnesses), it would otherwise miss every round that started while
/// it was busy.
void catch_up(collector_pointer self, std::size_t i) {
    auto& st = self->state;
    if (!askable(self, st.links[i])) return;
    for (auto it = st.rounds.rbegin(); it != st.rounds.rend(); ++it) {
        if (it->quorum_at) continue;
        if (!it->asked[i] && it->body.size > next_old_size(st.links[i]))
            ask_witness(self, *it, i, next_old_size(st.links[i]));
        return; // only the newest: it covers the older ones
    }
}

/// Link `i` may be asked again after `wait`, by the witness's own limit: the
/// rounds short of their quorum wait for it, and it is asked then.
void ask_again_after(collector_pointer self, std::size_t i, std::chrono::milliseconds wait) {
    auto& l = self->state.links[i];
    l.not_before = self->clock().now() + wait;
    l.limited_by_witness = true;
    self->delayed_send(self, wait, atoms::tick_atom_v, static_cast<std::uint64_t>(i));
}

/// After a cosignature from a witness that limits this log: the next request
/// waits out the pace, which eases by a quarter every pace_probe answers
/// (the allowance may have grown) and ends below a tenth of a second.
void keep_pace(collector_pointer self, std::size_t i, time_point sent) {
    auto& l = self->state.links[i];
    if (l.pace.count() == 0) return;
    if (++l.paced_answers % pace_probe == 0) {
        l.pace = l.pace * 3 / 4;
        if (l.pace < std::chrono::milliseconds(100)) l.pace = std::chrono::milliseconds(0);
    }
    auto next = sent + l.pace;
    auto now = self->clock().now();
    if (next > now)
        ask_again_after(self, i, std::chrono::duration_cast<std::chrono::milliseconds>(next - now));
}

/// A 429 (`too_many`) or 503: not asked again before its Retry-After (capped),
/// or a backoff that grows while it keeps saying so.
void hold_back(collector_pointer self, std::size_t i, bool too_many, std::uint32_t retry_after_s) {
    auto& st = self->state;
    auto& l = st.links[i];
    ++l.view.throttled;
    auto n = ++l.throttled_in_a_row;
    auto wait = retry_after_s > 0 ? std::chrono::milliseconds(std::chrono::seconds(retry_after_s))
                                  : backoff_delay(st.config.timing.backoff_initial,
                                                  st.config.timing.backoff_max, n, st.jitter);
    wait = std::min(wait, st.config.max_retry_after);
    // 429s that recur are the witness's limit for this log: keep to the
    // spacing from now on, wider when it refuses even that (Retry-After rounds
    // up to whole seconds and tells when the next request is allowed, not the
    // rate). One 429 alone (a burst, a restart) only holds it back; a 503 is a
    // passing state of the witness, not a rate.
    auto now = self->clock().now();
    if (too_many) {
        if (l.last_too_many && now - *l.last_too_many < pace_memory) {
            auto wider = l.pace * 3 / 2;
            l.pace = std::min(std::max(wider, wait), std::chrono::milliseconds(max_pace));
            l.paced_answers = 0;
        }
        l.last_too_many = now;
    }
    ask_again_after(self, i, wait);
}

/// A request to a witness ended: where its next one starts.
void request_ended(collector_state::link& l, bool cosigned, std::uint64_t size) {
    CIVIC_ASSERT_LT(0u, l.in_flight);
    --l.in_flight;
    if (cosigned) l.view.known_size = std::max(l.view.known_size, size);
    // A failure breaks the chain of what is out: start again from what it holds.
    if (l.in_flight == 0 || !cosigned) l.sent_size = l.view.known_size;
}

void on_answer(collector_pointer self, std::uint64_t id, std::size_t i, std::uint64_t size,
               time_point sent, cosign_answer& a) {
    auto& st = self->state;
    auto& l = st.links[i];
    auto latency =
        std::chrono::duration_cast<std::chrono::microseconds>(self->clock().now() - sent);
    l.view.last_latency_us = micros(latency);
    auto* r = find_round(st, id);
    if (r) r->waiting[i] = false;
    if (a.status == 200) {
        // The body is signature lines for the checkpoint: checked with this
        // witness's key alone (anything else in it is ignored, as the spec says).
        std::optional<note::signature> mine;
        if (r) {
            auto text = r->body.text();
            auto n = note::parse(text + "\n" + a.body);
            if (n) {
                // The first line by this witness's key counts (verified once).
                for (const auto& sig : n->signatures)
                    if (sig.name == l.verifier->name() && sig.key_id == l.verifier->key_id()) {
                        if (l.verifier->verify(text, sig.data)) mine = sig;
                        break;
                    }
            }
        }
        if (r && !mine) {
            request_ended(l, false, size);
            failed(self, i, latency, "its answer holds no valid cosignature by its key");
        } else {
            request_ended(l, true, size);
            l.failures = 0;
            if (l.failed_in_a_row > 0)
                st.config.log->info(
                    "collector", "a witness cosigns again",
                    {{"witness", l.endpoint.name}, {"failed_in_a_row", l.failed_in_a_row}});
            l.failed_in_a_row = 0;
            l.throttled_in_a_row = 0;
            l.view.last_error.clear();
            ++l.view.cosigned;
            if (mine) {
                auto ts = cosignature::decode(mine->data);
                if (ts) l.view.last_cosignature_time = ts->timestamp;
            }
            if (st.config.on_answer) st.config.on_answer(l.endpoint.name, latency, true);
            if (r) r->cosignatures[i] = std::move(mine);
            keep_pace(self, i, sent);
        }
    } else if (a.status == 409 && a.size_body) {
        // The witness holds another size: retry once from it (at start every
        // witness is asked from 0, and this is how the collector learns it).
        auto reported = std::strtoull(a.body.c_str(), nullptr, 10);
        l.view.known_size = reported;
        request_ended(l, false, size);
        if (r && !r->retried[i] && reported <= size) {
            r->retried[i] = true;
            return ask_witness(self, *r, i, reported);
        }
        failed(self, i, latency,
               "it holds size " + std::to_string(reported) + ", beyond this checkpoint's " +
                   std::to_string(size));
    } else {
        request_ended(l, false, size);
        if (a.status == 429 || a.status == 503) {
            hold_back(self, i, a.status == 429, a.retry_after_s);
            if (r) r->asked[i] = false; // asked again when it allows (the round may wait)
        }
        auto body = a.body.substr(0, 200); // a witness's words: bounded, escaped in the log
        while (!body.empty() && body.back() == '\n')
            body.pop_back();
        failed(self, i, latency, "refused with " + std::to_string(a.status) + ": " + body);
    }
    if (st.config.on_witness_view) st.config.on_witness_view(l.view);
    catch_up(self, i);
    check_rounds(self);
}

void ask_witness(collector_pointer self, collector_state::round_state& r, std::size_t i,
                 std::uint64_t old_size) {
    auto& st = self->state;
    auto& l = st.links[i];
    auto size = r.body.size;
    cosign_request request{old_size, {}, r.log_note};
    if (old_size > size) // it cosigned more than this log holds
        return failed(self, i, {},
                      "it cosigned size " + std::to_string(old_size) + ", more than this log's " +
                          std::to_string(size));
    if (old_size > 0 && old_size < size) {
        auto proof = tiles::consistency_proof(*st.store, old_size, size);
        if (!proof) return failed(self, i, {}, "no consistency proof: " + proof.message());
        for (const auto& h : *proof)
            request.proof.insert(request.proof.end(), h.begin(), h.end());
    }
    r.waiting[i] = true;
    r.asked[i] = true;
    ++l.in_flight;
    l.sent_size = size;
    auto id = r.id;
    auto sent = self->clock().now();
    auto on_error = [self, id, i, size, sent](caf::error& e) {
        auto& s = self->state;
        auto& link = s.links[i];
        request_ended(link, false, size);
        // An outside witness that cannot be reached is not asked again at
        // once (a network witness reconnects through its link instead).
        if (link.outside) {
            link.not_before =
                self->clock().now() + backoff_delay(s.config.timing.backoff_initial,
                                                    s.config.timing.backoff_max,
                                                    link.failed_in_a_row + 1, s.jitter);
            link.limited_by_witness = false; // rounds do not wait for it
        }
        failed(self, i,
               std::chrono::duration_cast<std::chrono::microseconds>(self->clock().now() - sent),
               e == caf::sec::request_timeout ? std::string("timed out") : message_of(e));
        if (auto* round = find_round(s, id)) round->waiting[i] = false;
        if (s.config.on_witness_view) s.config.on_witness_view(link.view);
        catch_up(self, i);
        check_rounds(self);
    };
    auto on_reply = [self, id, i, size, sent](cosign_answer& a) {
        on_answer(self, id, i, size, sent, a);
    };
    if (l.outside)
        self->request(l.outside, st.config.witness_timeout, atoms::add_atom_v, std::move(request))
            .then(on_reply, on_error);
    else
        self->request(l.gateway, st.config.witness_timeout, atoms::add_atom_v, std::move(request))
            .then(on_reply, on_error);
}

void start_round(collector_pointer self, const std::string& log_note) {
    auto& st = self->state;
    if (rounds_without_quorum(st) >= st.config.max_rounds_in_flight) return;
    // Not while a witness is being (re)connected, or has failed only once: it
    // would miss the round for a blip (see the down handler). A witness that
    // keeps failing does not hold rounds up.
    if (std::any_of(st.links.begin(), st.links.end(), [](const collector_state::link& l) {
            return !l.gateway && !l.outside && (l.connecting || l.failures < 2);
        }))
        return;
    auto parsed = parse_signed_checkpoint(log_note);
    if (!parsed || parsed->body.size == 0) return;
    if (!st.rounds.empty()) {
        // Beside rounds in flight: only for a larger tree.
        if (parsed->body.size <= newest_asked_size(st)) return;
    } else if (!st.published.empty() && parsed->body.size <= st.published_size &&
               (st.published_quorum || parsed->body.size < st.published_size)) {
        return; // a round when the tree grew, or when the last one lacked the quorum
    }
    // Too many rounds past their quorum still waiting for late cosignatures:
    // the oldest is published as it is.
    if (st.rounds.size() >= 2 * st.config.max_rounds_in_flight)
        for (auto& old : st.rounds)
            if (old.quorum_at) {
                finish_round(self, old.id);
                break;
            }
    collector_state::round_state r;
    r.id = st.next_round++;
    r.body = parsed->body;
    r.log_note = log_note;
    r.started = self->clock().now();
    r.cosignatures.resize(st.links.size());
    r.waiting.assign(st.links.size(), false);
    r.retried.assign(st.links.size(), false);
    r.asked.assign(st.links.size(), false);
    st.rounds.push_back(std::move(r));
    auto& round = st.rounds.back();
    auto id = round.id;
    for (std::size_t i = 0; i < st.links.size(); ++i) {
        // At most its limit of requests out; a witness still busy with that
        // many is asked once it answers (catch_up), or in a later round.
        if (askable(self, st.links[i])) ask_witness(self, round, i, next_old_size(st.links[i]));
    }
    check_round(self, id);
}

/// Witnessed requests wait for more than is asked for: a round now (the
/// ledger's newest checkpoint covers them, it answered them), if there is room.
void maybe_start_on_demand(collector_pointer self) {
    auto& st = self->state;
    if (st.asking_ledger || !st.ledger) return;
    if (st.demand <= std::max(st.witnessed_size, newest_asked_size(st))) return;
    if (rounds_without_quorum(st) >= st.config.max_rounds_in_flight) return;
    auto now = self->clock().now();
    auto quarter = std::chrono::microseconds(static_cast<std::int64_t>(st.recent_ttq_us / 4));
    auto spacing = std::min(quarter, max_demand_spacing) + demand_spacing_floor;
    if (st.last_demand_round && now < *st.last_demand_round + spacing) {
        if (!st.demand_timer) {
            st.demand_timer = true;
            self->delayed_send(self, *st.last_demand_round + spacing - now, atoms::poll_atom_v,
                               st.demand);
        }
        return;
    }
    st.demand_timer = false;
    st.last_demand_round = now;
    st.asking_ledger = true;
    self->request(st.ledger, st.config.witness_timeout, atoms::checkpt_atom_v)
        .then(
            [self](std::string& text) {
                self->state.asking_ledger = false;
                auto before = self->state.next_round;
                start_round(self, text);
                if (self->state.next_round != before) ++self->state.demand_rounds;
            },
            [self](caf::error&) { self->state.asking_ledger = false; });
}

void finish_round(collector_pointer self, std::uint64_t id) {
    auto& st = self->state;
    auto it = std::find_if(st.rounds.begin(), st.rounds.end(),
                           [id](const collector_state::round_state& r) { return r.id == id; });
    if (it == st.rounds.end()) return;
    auto r = std::move(*it);
    st.rounds.erase(it);
    bool met = r.quorum_at.has_value();
    ++st.rounds_finished;
    std::optional<std::chrono::microseconds> ttq;
    if (met) {
        ++st.quorum_rounds;
        ttq = std::chrono::duration_cast<std::chrono::microseconds>(*r.quorum_at - r.started);
        st.time_to_quorum_us.push_back(static_cast<std::uint64_t>(ttq->count()));
        auto sample = static_cast<double>(ttq->count());
        st.recent_ttq_us = st.recent_ttq_us == 0 ? sample : 0.9 * st.recent_ttq_us + 0.1 * sample;
        if (st.time_to_quorum_us.size() > max_quorum_samples) st.time_to_quorum_us.pop_front();
    }
    // Rounds may end out of order (a grace timer, a timeout): never publish
    // an older checkpoint over a newer one.
    if (r.body.size >= st.published_size || st.published.empty()) {
        st.published = with_cosignatures(r);
        st.published_size = r.body.size;
        st.published_quorum = met;
        st.published_cosigners.clear();
        for (std::size_t i = 0; i < r.cosignatures.size(); ++i)
            if (r.cosignatures[i]) st.published_cosigners.push_back(st.links[i].endpoint.name);
        if (met && r.body.size >= st.witnessed_size) {
            st.witnessed = st.published; // with the late cosignatures too
            st.witnessed_size = r.body.size;
        }
    }
    if (st.config.on_round) st.config.on_round(ttq, st.published);
    // A round without its quorum does not start another on demand at once
    // (the witnesses are down or refuse): the cadence retries.
    if (met) maybe_start_on_demand(self);
}

void tick(collector_pointer self) {
    auto& st = self->state;
    self->delayed_send(self, st.config.interval, atoms::tick_atom_v);
    auto now = self->clock().now();
    for (std::size_t i = 0; i < st.links.size(); ++i)
        if (!st.links[i].gateway && !st.links[i].outside && now >= st.links[i].retry_at)
            connect(self, i);
    if (!st.rounds.empty() || !st.ledger) return;
    self->request(st.ledger, st.config.witness_timeout, atoms::checkpt_atom_v)
        .then([self](std::string& text) { start_round(self, text); },
              [](caf::error&) {}); // no checkpoint yet, or the ledger restarts
}

/// A link to the policy's witness `name`, its key checking cosignatures
/// (nothing if the policy has no such witness or its key is unusable).
std::optional<collector_state::link> policy_link(const policy& rules, const std::string& name) {
    for (std::size_t p = 0; p < rules.witnesses.size(); ++p) {
        if (rules.witnesses[p].name != name) continue;
        auto v = note::make_verifier(rules.witnesses[p].key);
        if (!v) return std::nullopt;
        collector_state::link l;
        l.endpoint.name = name;
        l.policy_index = p;
        l.verifier = std::shared_ptr<const note::verifier>(std::move(*v));
        l.view.name = name;
        return l;
    }
    return std::nullopt;
}

std::uint64_t percentile(std::vector<std::uint64_t> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(k, v.size() - 1)];
}

} // namespace

collector_actor::behavior_type collector(collector_pointer self, collector_config config,
                                         std::shared_ptr<storage::ledger_store> store,
                                         caf::io::middleman_actor middleman, ledger_actor ledger) {
    auto& st = self->state;
    st.config = std::move(config);
    st.store = std::move(store);
    st.middleman = std::move(middleman);
    st.ledger = std::move(ledger);
    st.jitter.seed(static_cast<std::minstd_rand::result_type>(st.config.seed % 2147483647 + 1));
    for (const auto& e : st.config.endpoints) {
        auto l = policy_link(*st.config.rules, e.name);
        if (!l) continue;
        l->endpoint = e;
        l->max_in_flight = st.config.max_rounds_in_flight;
        st.links.push_back(std::move(*l));
    }
    for (const auto& o : st.config.outside) {
        auto l = st.config.spawn_outside ? policy_link(*st.config.rules, o.name) : std::nullopt;
        if (!l) continue;
        l->outside = st.config.spawn_outside(self->system(), o);
        self->link_to(l->outside); // it ends with the collector
        l->view.url = o.url;
        l->view.connected = true;
        // In order, one at a time: a witness answers a pipelined request only
        // once it holds the one before.
        l->max_in_flight = 1;
        st.links.push_back(std::move(*l));
    }
    self->set_down_handler([self](caf::down_msg& msg) {
        link_down(
            self, collector_links, self->state.config.timing, msg,
            [self](std::size_t i) { self->state.links[i].view.connected = false; },
            [self](std::size_t up) { self->state.links[up].view.connected = true; });
    });
    for (std::size_t i = 0; i < st.links.size(); ++i)
        if (!st.links[i].outside) connect(self, i);
    self->send(self, atoms::tick_atom_v);
    return {
        [self](atoms::tick_atom, std::uint64_t i) {
            if (i >= self->state.links.size()) return;
            catch_up(self, static_cast<std::size_t>(i));
            check_rounds(self);
        },
        [self](atoms::checkpt_atom) -> caf::result<std::string> {
            if (self->state.published.empty())
                return make_error(errc::no_checkpoint, "no witnessed checkpoint yet");
            return self->state.published;
        },
        [self](atoms::checkpt_atom, bool quorum_only) -> caf::result<std::string> {
            const auto& text = quorum_only ? self->state.witnessed : self->state.published;
            if (text.empty()) return make_error(errc::no_checkpoint, "no witnessed checkpoint yet");
            return text;
        },
        [self](atoms::status_atom) {
            auto& s = self->state;
            collector_status out;
            out.published_size = s.published_size;
            out.quorum = s.published_quorum;
            out.cosigners = s.published_cosigners;
            out.rounds = s.rounds_finished;
            out.demand_rounds = s.demand_rounds;
            out.quorum_rounds = s.quorum_rounds;
            std::vector<std::uint64_t> samples(s.time_to_quorum_us.begin(),
                                               s.time_to_quorum_us.end());
            out.time_to_quorum_p50_us = percentile(samples, 0.5);
            out.time_to_quorum_p95_us = percentile(samples, 0.95);
            for (const auto& l : s.links)
                out.witnesses.push_back(l.view);
            return out;
        },
        [self](atoms::tick_atom) { tick(self); },
        [self](atoms::flush_atom, std::uint64_t id) { finish_round(self, id); },
        [self](atoms::poll_atom, std::uint64_t size) {
            auto& s = self->state;
            s.demand = std::max(s.demand, size);
            maybe_start_on_demand(self);
        },
        [self](atoms::poll_atom, std::uint64_t size,
               std::uint32_t max_wait_ms) -> caf::result<std::string> {
            auto& s = self->state;
            if (s.witnessed_size >= size && !s.witnessed.empty()) return s.witnessed;
            s.demand = std::max(s.demand, size);
            maybe_start_on_demand(self);
            if (max_wait_ms == 0 || s.awaiting_polls.size() >= s.config.max_awaiting) {
                if (s.witnessed.empty())
                    return make_error(errc::no_checkpoint, "no witnessed checkpoint yet");
                return s.witnessed;
            }
            auto id = s.next_poll++;
            auto promise = self->make_response_promise<std::string>();
            s.awaiting_polls.emplace(id, collector_state::awaiting{size, promise});
            auto wait = std::min(std::chrono::milliseconds(max_wait_ms), max_poll_wait);
            self->delayed_send(self, wait, atoms::expire_atom_v, id);
            return promise;
        },
        [self](atoms::expire_atom, std::uint64_t id) {
            auto& s = self->state;
            auto it = s.awaiting_polls.find(id);
            if (it == s.awaiting_polls.end()) return;
            if (s.witnessed.empty())
                it->second.promise.deliver(
                    make_error(errc::no_checkpoint, "no witnessed checkpoint yet"));
            else
                it->second.promise.deliver(s.witnessed);
            s.awaiting_polls.erase(it);
        },
    };
}

} // namespace civic::actors
