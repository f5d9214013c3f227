// The gateway actor (see gateway_actor in actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "actors/directory.hpp"
#include "actors/log.hpp"
#include "actors/peer_directory.hpp"
#include "storage/ledger_store.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>
#include <set>
#include <string>

namespace civic::actors {

struct gateway_config {
    std::string node_name;
    bool leading = false;
    std::uint64_t epoch = 0;
    /// Who sent a message, as the peer port's TLS front authenticated it. With
    /// it, a message from a remote node that no authenticated connection named
    /// is refused, and so is one its role may not send. Without it (the
    /// simulator, in-process tests) every sender is taken for a node of the
    /// network.
    std::shared_ptr<const peer_directory> peers;
    std::set<std::string> replicas;            ///< may join as replicas
    std::set<std::string> log_nodes;           ///< may lead: may ask for cosignatures
    log::logger_ptr log = log::logger::none(); ///< replicas that join
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
