// The signer actor (see signer_actor in actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "protocol/ed25519.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace civic::actors {

/// Identity signing keys (locked, wiped memory); shared only to hand it to the actor.
using key_ring = std::map<std::string, ed25519::secret_key>;

struct signer_state {
    static inline const char* name = "signer";
    std::shared_ptr<const key_ring> keys;
    /// Unix time = this offset + the actor clock: wall-clock timestamps that stay
    /// deterministic under the simulator's virtual clock.
    std::chrono::milliseconds unix_offset{0};
};

/// The offset that turns the actor clock into Unix time on this machine, now.
std::chrono::milliseconds unix_offset_now();

signer_actor::behavior_type signer(signer_actor::stateful_pointer<signer_state> self,
                                   std::shared_ptr<const key_ring> keys,
                                   std::chrono::milliseconds unix_offset);

} // namespace civic::actors
