#include "node/peer/outside_witness.hpp"

#include "actors/errors.hpp"
#include "protocol/assert.hpp"
#include "protocol/bytes.hpp"
#include "protocol/witness.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>

namespace civic::node {
namespace {

struct outside_witness_state {
    static inline const char* name = "outside-witness";
    std::unique_ptr<http_session> session;
    outside_witness_options options;
};

using outside_witness_pointer =
    actors::outside_witness_actor::stateful_pointer<outside_witness_state>;

/// A witness's answers are short (signature lines, a size, an error text).
constexpr std::size_t max_answer_body = 16 * 1024;

actors::outside_witness_actor::behavior_type
outside_witness(outside_witness_pointer self, http_origin origin, outside_witness_options options) {
    options.session.body_limit = std::min(options.session.body_limit, max_answer_body);
    self->state.options = options;
    self->state.session = std::make_unique<http_session>(std::move(origin), options.session);
    return {
        [self](atoms::add_atom,
               actors::cosign_request& request) -> caf::result<actors::cosign_answer> {
            witness::add_checkpoint_request body;
            body.old_size = request.old_size;
            auto proof = witness::proof_from_bytes(request.proof);
            CIVIC_ASSERT(proof); // the collector's own proof
            body.proof = std::move(*proof);
            body.checkpoint = std::move(request.checkpoint);
            auto reply =
                self->state.session->call("POST", "/add-checkpoint", witness::serialize(body),
                                          "text/plain", self->state.options.timeout);
            if (!reply) return actors::make_error(actors::errc::unavailable, reply.message());
            return to_cosign_answer(*reply);
        },
    };
}

} // namespace

result<http_origin> outside_witness_origin(const actors::outside_witness_spec& spec) {
    auto origin = parse_http_origin(spec.url);
    if (!origin)
        return make_error("witness " + spec.name + ": URL '" + spec.url + "': " + origin.message());
    return origin;
}

actors::outside_witness_actor spawn_outside_witness(caf::actor_system& sys,
                                                    const actors::outside_witness_spec& spec,
                                                    const outside_witness_options& options) {
    auto origin = outside_witness_origin(spec);
    // The node checked every URL before it started (from_topology); a bad one
    // here is a bug.
    CIVIC_ASSERT(origin);
    return sys.spawn<caf::detached>(outside_witness, std::move(*origin), options);
}

actors::cosign_answer to_cosign_answer(const session_reply& reply) {
    actors::cosign_answer a;
    a.status = static_cast<std::uint16_t>(std::min(reply.status, 999u));
    a.body = reply.body;
    auto type = reply.content_type.substr(0, reply.content_type.find(';'));
    a.size_body = reply.status == 409 && type == "text/x.tlog.size";
    if ((reply.status == 429 || reply.status == 503) && !reply.retry_after.empty()) {
        // Seconds, as a decimal; an HTTP date is left to the backoff.
        auto seconds = parse_decimal(reply.retry_after, 86400);
        if (seconds) a.retry_after_s = static_cast<std::uint32_t>(*seconds);
    }
    return a;
}

} // namespace civic::node
