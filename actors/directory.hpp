// A node's directory: the current handle of each of its actors by name. The
// supervisor writes it whenever it (re)starts a child; the gateway, the HTTP
// side and factories of later children read it, so whoever depends on an actor
// finds the new handle after a restart instead of holding a dead one.
#pragma once

#include <caf/actor.hpp>

#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>

namespace civic::actors {

class directory {
public:
    void set(const std::string& name, caf::actor handle) {
        std::unique_lock lock(mutex_);
        entries_[name] = std::move(handle);
    }
    /// The handle, or an invalid one when no such actor runs.
    caf::actor get(const std::string& name) const {
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
