// The HTTP side of an outside witness: tlog-witness add-checkpoint requests
// to its URL over one kept connection (HTTPS checked against the system's
// roots, or plain HTTP), one at a time. It blocks on the network, so it runs
// on a thread of its own (a detached actor); the collector bounds how often it
// is asked and honours what it answers (409, 429, 503 with Retry-After).
#pragma once

#include "actors/actors.hpp"
#include "node/http/session.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <string>

namespace civic::node {

struct outside_witness_options {
    /// Per request, connecting included: a little below the collector's own
    /// timeout, so the collector hears why rather than only that it timed out.
    std::chrono::milliseconds timeout{4500};
    session_options session; // body_limit, ca_file
};

/// Checks the spec's URL (http:// or https://) before anything spawns.
result<http_origin> outside_witness_origin(const actors::outside_witness_spec& spec);

/// Spawns the actor for one outside witness (detached).
actors::outside_witness_actor spawn_outside_witness(caf::actor_system& sys,
                                                    const actors::outside_witness_spec& spec,
                                                    const outside_witness_options& options);

/// The add-checkpoint answer as the collector reads it: the status, whether
/// the body is a tlog size (409 as text/x.tlog.size), and Retry-After in
/// seconds (a decimal value; an HTTP date or none: 0, the collector's backoff).
actors::cosign_answer to_cosign_answer(const session_reply& reply);

} // namespace civic::node
