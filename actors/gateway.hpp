// The gateway actor (see gateway_actor in actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "actors/directory.hpp"
#include "storage/ledger_store.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>
#include <string>

namespace civic::actors {

struct gateway_config {
    std::string node_name;
    bool leading = false;
    std::uint64_t epoch = 0;
};

struct gateway_state {
    static inline const char* name = "gateway";
    gateway_config config;
    std::shared_ptr<storage::ledger_store>
        store;                               // tokens, durable size; none on a witness-only node
    std::shared_ptr<const directory> actors; // "ledger", "signer", "witness"
};

using gateway_pointer = gateway_actor::stateful_pointer<gateway_state>;

gateway_actor::behavior_type gateway(gateway_pointer self, gateway_config config,
                                     std::shared_ptr<storage::ledger_store> store,
                                     std::shared_ptr<const directory> actors);

} // namespace civic::actors
