// A node's directory: the current handle of each of its actors. The supervisor
// writes it whenever it (re)starts a child; the gateway, the HTTP side and
// factories of later children read it, so whoever depends on an actor finds
// the new handle after a restart instead of holding a dead one.
//
// Actors are found by their slot (below): the name the supervisor starts the
// child under and its typed interface, together. A misspelt slot does not
// compile, and what comes back is already the actor's typed handle.
#pragma once

#include "actors/actors.hpp"

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>

#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>

namespace civic::actors {

/// A child of a node's supervision tree: its name and interface.
template <class Handle>
struct actor_slot {
    using handle_type = Handle;
    const char* name;
};

/// Every actor a node's tree may run (node/node_tree.cpp starts them by these names).
namespace slots {
inline constexpr actor_slot<committer_actor> committer{"committer"};
inline constexpr actor_slot<ledger_actor> ledger{"ledger"};
inline constexpr actor_slot<signer_actor> signer{"signer"};
inline constexpr actor_slot<collector_actor> collector{"collector"};
inline constexpr actor_slot<replica_actor> replica{"replica"};
inline constexpr actor_slot<uplink_actor> uplink{"uplink"};
inline constexpr actor_slot<scrubber_actor> scrubber{"scrubber"};
inline constexpr actor_slot<witness_writer_actor> witness_writer{"witness-writer"};
inline constexpr actor_slot<witness_actor> witness{"witness"};
inline constexpr actor_slot<witness_writer_actor> gossip_writer{"gossip-writer"};
inline constexpr actor_slot<gossip_actor> gossip{"gossip"};
} // namespace slots

class directory {
public:
    /// By name: the supervisor's report of a (re)started child.
    void set(const std::string& name, caf::actor handle) {
        std::unique_lock lock(mutex_);
        entries_[name] = std::move(handle);
    }
    template <class Handle>
    void set(actor_slot<Handle> slot, const Handle& handle) {
        set(slot.name, caf::actor_cast<caf::actor>(handle));
    }
    /// The slot's current handle, or an invalid one when it does not run.
    template <class Handle>
    Handle get(actor_slot<Handle> slot) const {
        return caf::actor_cast<Handle>(find(slot.name));
    }
    /// By name, untyped: for what names any child (an operator's drill, the
    /// simulator's faults). An invalid handle when no such actor runs.
    caf::actor find(const std::string& name) const {
        std::shared_lock lock(mutex_);
        auto it = entries_.find(name);
        return it == entries_.end() ? caf::actor{} : it->second;
    }
    void clear() {
        std::unique_lock lock(mutex_);
        entries_.clear();
    }

private:
    mutable std::shared_mutex mutex_;
    std::map<std::string, caf::actor> entries_;
};

} // namespace civic::actors
