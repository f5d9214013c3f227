// The committer actor: the ledger's only blocking I/O (see actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "storage/ledger_store.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <memory>

namespace civic::actors {

committer_actor::behavior_type committer(committer_actor::pointer self,
                                         std::shared_ptr<storage::ledger_store> store);

} // namespace civic::actors
