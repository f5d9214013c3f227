#include "actors/witness.hpp"

#include "actors/errors.hpp"
#include "protocol/assert.hpp"
#include "protocol/sha256.hpp"

#include <cmath>

namespace civic::actors {
namespace {

constexpr std::uint16_t status_unavailable = 503;
constexpr std::uint16_t status_too_many_requests = 429;

/// Takes one request from a log's allowance, or says how many seconds until
/// it has one (0: allowed). Logs without a qpd are not limited.
std::uint32_t spend_allowance(witness_state& st, const witness::trusted_log& log,
                              caf::actor_clock::time_point now) {
    if (log.qpd == 0) return 0;
    auto seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
    return st.allowances[log.origin].spend(log.qpd, seconds);
}

std::string origin_hash(const std::string& origin) {
    return hex_encode(sha256(byte_view(std::string_view(origin))));
}

/// The request as the protocol layer reads it, or the 400 answer.
std::variant<witness::add_checkpoint_request, cosign_answer> to_protocol(const cosign_request& r) {
    auto proof = witness::proof_from_bytes(r.proof);
    if (!proof) return cosign_answer{400, false, proof.message()};
    if (r.checkpoint.size() > note::max_note_size)
        return cosign_answer{400, false, "the checkpoint is larger than the largest note"};
    witness::add_checkpoint_request out;
    out.old_size = r.old_size;
    out.proof = std::move(*proof);
    out.checkpoint = r.checkpoint;
    return out;
}

std::uint64_t unix_seconds(witness_pointer self) {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        self->clock().now().time_since_epoch());
    auto ms = (self->state.config.unix_offset + now).count();
    return ms > 0 ? static_cast<std::uint64_t>(ms) / 1000 : 0;
}

void run_round(witness_pointer self);

using round_requests = std::vector<witness_state::waiting_request>;

/// Up to max_round waiting requests, in arrival order.
round_requests take_round(witness_state& st) {
    auto count = std::min(st.waiting.size(), st.config.max_round);
    auto end = st.waiting.begin() + static_cast<std::ptrdiff_t>(count);
    round_requests round(std::make_move_iterator(st.waiting.begin()), std::make_move_iterator(end));
    st.waiting.erase(st.waiting.begin(), end);
    return round;
}

/// Halts go first: the requests of this round are decided as halted ones.
void take_pending_halts(witness_state& st, storage::witness_write& write) {
    for (auto& [origin, why] : st.pending_halts) {
        auto it = st.states.find(origin);
        auto rec = it != st.states.end() ? it->second : storage::cosigned_record{};
        if (rec.halted.empty()) rec.halted = why;
        write.states[origin] = std::move(rec);
    }
    st.pending_halts.clear();
}

/// The latest state of the checkpoint's log: this round's change if there is
/// one, else the durable one, else nothing.
const storage::cosigned_record* latest_state(const witness_state& st,
                                             const storage::witness_write& write,
                                             const std::string& checkpoint) {
    auto parsed = parse_signed_checkpoint(checkpoint);
    if (!parsed) return nullptr;
    if (auto changed = write.states.find(parsed->body.origin); changed != write.states.end())
        return &changed->second;
    if (auto it = st.states.find(parsed->body.origin); it != st.states.end()) return &it->second;
    return nullptr;
}

/// A fork this witness caught itself: its evidence goes into the round's write
/// and halts the log, as evidence that gossip brings does (it shows two
/// histories, so the witness stops). Returns the log's halted record.
const storage::cosigned_record* record_fork(witness_state& st, storage::witness_write& write,
                                            const witness::add_checkpoint_request& req,
                                            const witness::verdict& v,
                                            const storage::cosigned_record& latest,
                                            std::uint64_t now) {
    storage::evidence_record e;
    e.observed_unix = now;
    e.origin = v.body->origin;
    e.kind = "fork"; // the only kind a witness can prove (witness::verdict)
    e.ours = latest.checkpoint;
    e.theirs = req.checkpoint;
    e.proof = witness::proof_lines(req.proof);
    e.source = "add-checkpoint";
    st.config.log->error("witness", "caught a log showing two histories",
                         {{"origin", e.origin},
                          {"size", v.body->size},
                          {"cosigned_size", latest.size},
                          {"action", "stops cosigning for this log"}});
    auto halted = latest; // a copy: `latest` may be this round's record
    if (halted.halted.empty())
        halted.halted = "split view (" + e.kind +
                        ") caught by this witness: " + "a checkpoint of size " +
                        std::to_string(v.body->size) + " contradicts the one of size " +
                        std::to_string(latest.size) + " it cosigned";
    write.evidence.push_back(std::move(e));
    return &(write.states[v.body->origin] = std::move(halted));
}

/// Decides one request against the state the ones before it in the round
/// leave: its answer, and what it changes in `write`.
cosign_answer decide(witness_state& st, storage::witness_write& write,
                     const cosign_request& request, std::uint64_t now,
                     caf::actor_clock::time_point self_now) {
    auto parsed = to_protocol(request);
    if (auto* bad = std::get_if<cosign_answer>(&parsed)) return std::move(*bad);
    auto& req = std::get<witness::add_checkpoint_request>(parsed);
    const auto* latest = latest_state(st, write, req.checkpoint);
    std::optional<witness::cosigned_state> known;
    if (latest) known = witness::cosigned_state{latest->size, latest->root, {}};
    auto v = witness::check_add_checkpoint(req, *st.config.logs, known);
    if (st.config.test_skip_consistency_check && v.evidence) {
        v.result = witness::outcome::cosign; // the planted bug (see witness_config)
        v.evidence = false;
    }
    // Evidence first: a fork is kept even from a log beyond its allowance.
    if (v.evidence && latest) latest = record_fork(st, write, req, v, *latest, now);
    if (v.signed_by_log) {
        const auto* log = st.config.logs->find(v.body->origin);
        CIVIC_ASSERT(log != nullptr); // it verified with this log's key
        if (auto wait = spend_allowance(st, *log, self_now); wait > 0) {
            ++st.rate_limited;
            return {status_too_many_requests, false,
                    "'" + v.body->origin + "' may make " + std::to_string(log->qpd) +
                        " add-checkpoint requests a day; ask again in " + std::to_string(wait) +
                        " s\n",
                    wait};
        }
    }
    if (v.result == witness::outcome::cosign && latest && !latest->halted.empty()) {
        v.result = witness::outcome::conflict;
        v.message =
            "this witness stopped cosigning for '" + v.body->origin + "': " + latest->halted;
    }
    if (v.result != witness::outcome::cosign) {
        // A size the log did not know is how a log learns this witness's size
        // (every start): routine. Anything else is not.
        auto l = v.size_mismatch ? log::level::debug : log::level::warning;
        st.config.log->write(l, "witness", "refused a checkpoint",
                             {{"origin", v.body ? v.body->origin : std::string("-")},
                              {"status", static_cast<int>(v.result)},
                              {"why", v.size_mismatch ? "it holds another size" : v.message},
                              {"size", v.body ? v.body->size : 0}});
        return refusal(v);
    }
    const auto& cp = *v.body;
    auto text = cp.text();
    auto cosignature = st.config.key->cosign(text, now);
    note::note served{text, std::move(v.log_signatures)};
    served.signatures.push_back(cosignature);
    write.states[cp.origin] =
        storage::cosigned_record{cp.size, cp.root, req.checkpoint, {}, note::serialize(served)};
    return {200, false, note::signature_line(cosignature)};
}

/// Answers each request of a round, counting what was cosigned and refused.
void answer_round(witness_pointer self, round_requests& round, std::vector<cosign_answer>& answers,
                  std::uint64_t now) {
    auto& st = self->state;
    for (std::size_t i = 0; i < round.size(); ++i) {
        if (answers[i].status == 200) {
            ++st.cosigned;
            if (st.config.on_cosigned) st.config.on_cosigned(round[i].request.checkpoint, now);
        } else if (answers[i].status < 500) {
            ++st.refused;
        }
        round[i].promise.deliver(std::move(answers[i]));
    }
}

/// The round's write did not commit (a full disk, say): nothing of it is
/// durable, so no cosignature leaves, and the witness stays up to try again
/// with the next round.
void round_not_persisted(witness_pointer self, const storage::witness_write& write,
                         std::vector<cosign_answer>& answers, const caf::error& e) {
    for (auto& a : answers)
        if (a.status == 200)
            a = {status_unavailable, false, "the witness cannot persist now: " + message_of(e)};
    auto& s = self->state;
    std::uint64_t bytes = 0;
    for (const auto& [origin, rec] : write.states)
        bytes += origin.size() + rec.checkpoint.size();
    s.read_only.failed(e, bytes);
    // A halt must not be lost with the round: it goes first in the next one
    // (so no later request is cosigned without it), which a timer starts if no
    // request does.
    for (const auto& [origin, rec] : write.states) {
        auto durable = s.states.find(origin);
        bool halted_already = durable != s.states.end() && !durable->second.halted.empty();
        if (!rec.halted.empty() && !halted_already) s.pending_halts.emplace(origin, rec.halted);
    }
    if (!s.pending_halts.empty() && !s.halt_retry_scheduled) {
        s.halt_retry_scheduled = true;
        self->delayed_send(self, s.config.halt_retry, atoms::probe_atom_v);
    }
}

/// Commits the round's write and answers once it is durable (or refuses what
/// it would have cosigned when it is not), then runs the next round.
void commit_round(witness_pointer self, std::shared_ptr<storage::witness_write> write,
                  round_requests round, std::vector<cosign_answer> answers, std::uint64_t now) {
    auto& st = self->state;
    st.committing = true;
    auto shared_round = std::make_shared<round_requests>(std::move(round));
    auto shared_answers = std::make_shared<std::vector<cosign_answer>>(std::move(answers));
    self->request(st.writer, st.config.commit_timeout, atoms::commit_atom_v,
                  witness_write_ptr(write))
        .then(
            [self, write, shared_round, shared_answers, now](atoms::commit_atom) {
                auto& s = self->state;
                for (auto& [origin, rec] : write->states) {
                    s.states[origin] = rec;
                    s.origin_of_hash.emplace(origin_hash(origin), origin);
                }
                s.evidence += write->evidence.size();
                s.read_only.leave();
                if (s.config.after_persist) s.config.after_persist();
                s.committing = false;
                answer_round(self, *shared_round, *shared_answers, now);
                run_round(self);
            },
            [self, write, shared_round, shared_answers, now](caf::error& e) {
                if (e == caf::sec::request_timeout) {
                    // Durable or not, nobody can tell: start again from the store.
                    self->quit(make_error(errc::storage_failure,
                                          "the witness store did not commit in time"));
                    return;
                }
                round_not_persisted(self, *write, *shared_answers, e);
                self->state.committing = false;
                answer_round(self, *shared_round, *shared_answers, now);
                run_round(self);
            });
}

/// Decides the next round of waiting requests in arrival order, each against
/// the state the ones before it leave; commits the round's changes at once and
/// answers only when they are durable.
void run_round(witness_pointer self) {
    auto& st = self->state;
    while (!st.committing &&
           (!st.waiting.empty() || (!st.pending_halts.empty() && !st.halt_retry_scheduled))) {
        auto round = take_round(st);
        auto write = std::make_shared<storage::witness_write>();
        take_pending_halts(st, *write);
        std::vector<cosign_answer> answers;
        answers.reserve(round.size());
        auto now = unix_seconds(self);
        auto self_now = self->clock().now();
        for (auto& w : round)
            answers.push_back(decide(st, *write, w.request, now, self_now));
        if (write->states.empty() && write->evidence.empty()) {
            answer_round(self, round, answers, now);
            continue;
        }
        commit_round(self, std::move(write), std::move(round), std::move(answers), now);
    }
}

} // namespace

cosign_answer refusal(const witness::verdict& v) {
    if (v.size_mismatch) return {409, true, std::to_string(v.latest_size) + "\n"};
    return {static_cast<std::uint16_t>(v.result), false, v.message + "\n"};
}

witness_actor::behavior_type witness(witness_pointer self, witness_config config,
                                     std::map<std::string, storage::cosigned_record> states,
                                     std::uint64_t evidence_count, witness_writer_actor writer) {
    auto& st = self->state;
    st.config = std::move(config);
    st.states = std::move(states);
    st.evidence = evidence_count;
    st.writer = std::move(writer);
    st.read_only.configure(st.config.read_only);
    for (const auto& [origin, rec] : st.states)
        st.origin_of_hash.emplace(origin_hash(origin), origin);
    return {
        [self](atoms::add_atom, cosign_request& r) -> caf::result<cosign_answer> {
            auto& s = self->state;
            if (s.waiting.size() >= s.config.max_waiting)
                return cosign_answer{status_unavailable, false, "too many requests waiting\n"};
            auto promise = self->make_response_promise<cosign_answer>();
            s.waiting.push_back({std::move(r), promise});
            run_round(self);
            return promise;
        },
        [self](atoms::halt_atom, std::string& origin, std::string& why) {
            auto& s = self->state;
            auto it = s.states.find(origin);
            if (it != s.states.end() && !it->second.halted.empty()) return;
            s.pending_halts.emplace(std::move(origin), std::move(why));
            run_round(self);
        },
        [self](atoms::probe_atom) {
            self->state.halt_retry_scheduled = false;
            run_round(self);
        },
        [self](atoms::logs_atom, trusted_logs_ptr& logs) {
            auto& s = self->state;
            s.config.log->info("witness", "trusts a new list of logs",
                               {{"logs", s.config.logs->size()}, {"now", logs->size()}});
            s.config.logs = std::move(logs);
            // Allowances of logs that left the list go; those that stay keep theirs.
            for (auto it = s.allowances.begin(); it != s.allowances.end();)
                it = s.config.logs->find(it->first) ? std::next(it) : s.allowances.erase(it);
        },
        [self](atoms::checkpt_atom, const std::string& hash) -> caf::result<std::string> {
            auto& s = self->state;
            auto origin = s.origin_of_hash.find(hash);
            if (origin != s.origin_of_hash.end()) {
                auto rec = s.states.find(origin->second);
                if (rec != s.states.end() && !rec->second.cosigned_note.empty())
                    return rec->second.cosigned_note;
            }
            return make_error(errc::no_checkpoint, "this witness has not cosigned that log");
        },
        [self](atoms::status_atom) {
            auto& s = self->state;
            witness_status out;
            out.name = s.config.key->name();
            out.trusted_logs = s.config.logs->size();
            for (const auto& [origin, rec] : s.states) {
                out.origins.push_back(origin);
                out.sizes.push_back(rec.size);
                out.halted.push_back(rec.halted);
            }
            out.cosigned = s.cosigned;
            out.read_only_reason = s.read_only.reason();
            out.refused = s.refused;
            out.rate_limited = s.rate_limited;
            out.evidence = s.evidence;
            return out;
        },
    };
}

witness_writer_actor::behavior_type witness_writer(witness_writer_actor::pointer,
                                                   std::shared_ptr<storage::witness_store> store) {
    return {
        [store](atoms::commit_atom,
                const witness_write_ptr& write) -> caf::result<atoms::commit_atom> {
            if (auto ok = store->commit(*write); !ok) return store_write_failed(ok.err());
            return atoms::commit_atom_v;
        },
    };
}

} // namespace civic::actors
