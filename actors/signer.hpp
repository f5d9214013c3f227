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

/// Identity signing keys (locked, wiped memory), by identity name.
using key_ring = std::map<std::string, std::shared_ptr<const ed25519::secret_key>>;

struct signer_config {
    /// Unix time = this offset + the actor clock: wall-clock timestamps that stay
    /// deterministic under the simulator's virtual clock.
    std::chrono::milliseconds unix_offset{0};
    /// How long the signer waits for the ledger on registry changes.
    std::chrono::milliseconds ledger_timeout{30000};
};

struct signer_state {
    static inline const char* name = "signer";
    key_ring keys;
    signer_config config;
    ledger_actor ledger;
};

/// The offset that turns the actor clock into Unix time on this machine, now.
std::chrono::milliseconds unix_offset_now();

signer_actor::behavior_type signer(signer_actor::stateful_pointer<signer_state> self, key_ring keys,
                                   signer_config config, ledger_actor ledger);

} // namespace civic::actors
