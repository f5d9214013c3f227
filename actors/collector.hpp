// The collector actor (see collector_actor in actors.hpp): the leader's side of
// C2SP tlog-witness, over the network's own connections.
#pragma once

#include "actors/actors.hpp"
#include "actors/peer_link.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/policy.hpp"
#include "storage/ledger_store.hpp"

#include <caf/io/middleman_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace civic::actors {

/// Where a witness of the policy listens: its node's gateway (`name`: its
/// name in the policy).
using witness_endpoint = peer_endpoint;

struct collector_config {
    /// The policy: its witnesses' keys check cosignatures, its quorum says when
    /// a checkpoint is witnessed. Witnesses neither in `endpoints` nor in
    /// `outside` are not asked and count as not cosigning.
    std::shared_ptr<const policy> rules;
    std::vector<witness_endpoint> endpoints;
    /// Witnesses outside the network, asked over tlog-witness HTTP through an
    /// actor `spawn_outside` makes for each (linked to the collector: they end
    /// together). Each has at most one request out at a time.
    std::vector<outside_witness_spec> outside;
    std::function<outside_witness_actor(caf::actor_system&, const outside_witness_spec&)>
        spawn_outside;
    /// The longest a witness's Retry-After holds it back (a 429 or 503 saying
    /// a day is taken as this).
    std::chrono::milliseconds max_retry_after{600000};
    std::chrono::milliseconds interval{1000};        // cadence: at most one round per tick
    std::chrono::milliseconds witness_timeout{5000}; // per request to one witness
    std::chrono::milliseconds grace{200};            // for late cosignatures after the quorum
    /// Rounds asked for at once (a round started for witnessed requests while
    /// others still wait for their quorum): each witness gets its requests in
    /// order, each from the size the one before it leaves.
    std::size_t max_rounds_in_flight = 4;
    /// Requests waiting for a witnessed checkpoint (`poll`), answered at the
    /// latest when their wait ends.
    std::size_t max_awaiting = 256;
    link_timing timing; // connecting to witnesses, and the backoff after a failure
    std::uint64_t seed = 1;
    /// Witnesses reached and lost, and those that fail to cosign (the first
    /// failure in a row, then every power of two, and their recovery).
    log::logger_ptr log = log::logger::none();
    /// Metrics hooks, called on the collector's thread; must be quick.
    std::function<void(const std::string& witness, std::chrono::microseconds latency, bool ok)>
        on_answer;
    /// A witness's view after each of its requests ended (metrics: its
    /// cosigned size, latest cosignature's time, 429s and 503s).
    std::function<void(const witness_link&)> on_witness_view;
    /// Each round, once published: its time to quorum (nothing without one)
    /// and the published checkpoint with its cosignatures.
    std::function<void(std::optional<std::chrono::microseconds> time_to_quorum,
                       const std::string& published)>
        on_round;
    /// A newer checkpoint met the quorum (at that moment, before late
    /// cosignatures): what witnessed answers are given.
    std::function<void(const std::string& witnessed)> on_witnessed;
};

struct collector_state {
    static inline const char* name = "collector";
    using time_point = caf::actor_clock::time_point;

    struct link : peer_link {
        std::size_t policy_index = 0;
        std::shared_ptr<const note::verifier> verifier;
        witness_link view;
        std::uint32_t failed_in_a_row = 0; // requests: how often it is logged
        std::size_t in_flight = 0;         // requests out to it
        /// The size it holds once every request out to it is cosigned: where
        /// the next one starts (its known size when none is out).
        std::uint64_t sent_size = 0;
        /// Outside witnesses: the HTTP side, always there (it reports
        /// failures per request); `gateway` stays empty.
        outside_witness_actor outside;
        std::size_t max_in_flight = 0; // max_rounds_in_flight, or 1 outside
        /// Not asked before this (a 429 or 503 with its Retry-After, its pace,
        /// or the backoff after an outside witness could not be reached).
        time_point not_before{};
        /// `not_before` is the witness's own limit (Retry-After or pace), which
        /// rounds wait for; not a backoff after failures, which they do not.
        bool limited_by_witness = false;
        std::uint32_t throttled_in_a_row = 0;
        /// A witness that limits this log's requests (a 429 again within
        /// a minute of the last): the spacing its Retry-After showed, kept
        /// between requests so that its allowance is spent on cosignatures,
        /// not refusals; eased every pace_probe answers.
        std::chrono::milliseconds pace{0};
        std::uint32_t paced_answers = 0;
        std::optional<time_point> last_too_many; // its last 429
    };
    struct round_state {
        std::uint64_t id = 0;
        checkpoint body;
        std::string log_note; // the checkpoint as the log signed it
        time_point started{};
        std::vector<std::optional<note::signature>> cosignatures; // per link
        std::vector<bool> waiting;                                // per link: a request out
        std::vector<bool> retried;                                // per link: after a 409
        std::vector<bool> asked;                                  // per link: a request sent
        std::optional<time_point> quorum_at;
    };

    collector_config config;
    std::shared_ptr<storage::ledger_store> store; // consistency proofs
    caf::io::middleman_actor middleman;
    ledger_actor ledger;
    /// A `poll` for a witnessed checkpoint of at least `size`.
    struct awaiting {
        std::uint64_t size = 0;
        caf::typed_response_promise<std::string> promise;
    };

    std::vector<link> links;
    std::deque<round_state> rounds; // asked for, oldest first
    std::uint64_t next_round = 1;
    /// The largest size witnessed requests wait for; a round starts at once
    /// for it (within max_rounds_in_flight) instead of at the next tick.
    std::uint64_t demand = 0;
    bool asking_ledger = false;                       // for a round on demand
    /// Rounds on demand are spaced by a quarter of the recent time to quorum
    /// (at most 20 ms) plus 2 ms: one round then covers every commit of that
    /// while, instead of a round per commit (each costs every witness a
    /// verification, a signature and an fsync), and a witnessed answer waits
    /// at most that much longer.
    std::optional<time_point> last_demand_round;
    bool demand_timer = false;      // a round on demand waits for its spacing
    double recent_ttq_us = 0;       // moving average of the time to quorum
    std::map<std::uint64_t, awaiting> awaiting_polls; // by id
    std::uint64_t next_poll = 1;
    std::uint64_t witnessed_size = 0;
    std::uint64_t demand_rounds = 0; // rounds started on demand since start
    std::string published;           // the checkpoint with its cosignatures
    std::uint64_t published_size = 0;
    bool published_quorum = false;
    std::vector<std::string> published_cosigners;
    std::string witnessed; // the newest published checkpoint that met the quorum
    std::uint64_t rounds_finished = 0, quorum_rounds = 0;
    std::deque<std::uint64_t> time_to_quorum_us; // the latest rounds', bounded
    std::minstd_rand jitter;
};

using collector_pointer = collector_actor::stateful_pointer<collector_state>;

/// Starts connecting to every witness and ticking at once.
collector_actor::behavior_type collector(collector_pointer self, collector_config config,
                                         std::shared_ptr<storage::ledger_store> store,
                                         caf::io::middleman_actor middleman, ledger_actor ledger);

} // namespace civic::actors
