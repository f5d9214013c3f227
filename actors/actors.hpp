// Every actor interface of Civic Attest and the one CAF type ID block that
// registers the messages they exchange. Each node registers this block in its
// actor_system_config (see system.hpp); CAF atoms are at most 10 characters.
//
// Actors are written as functions over a state struct. Everything an actor does
// must run under the deterministic scheduler: time only from self->clock(), no
// threads or sleeps, randomness only from a seeded source.
#pragma once

#include <caf/type_id.hpp>

#include <cstdint>

CAF_BEGIN_TYPE_ID_BLOCK(civic_attest, caf::first_custom_type_id)

/// Liveness probe: any actor answers `ping` with `pong` (supervision, tests).
CAF_ADD_ATOM(civic_attest, civic::atoms, ping_atom, "ping")
CAF_ADD_ATOM(civic_attest, civic::atoms, pong_atom, "pong")

CAF_END_TYPE_ID_BLOCK(civic_attest)
