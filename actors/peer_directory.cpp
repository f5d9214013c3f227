#include "actors/peer_directory.hpp"

#include <caf/binary_serializer.hpp>

#include <vector>

namespace civic::actors {

std::string serialized_node_id(const caf::node_id& node) {
    std::vector<char> buffer;
    caf::binary_serializer sink{nullptr, buffer};
    if (sink(node)) return {}; // an error: no node id we could have bound
    return std::string(buffer.begin(), buffer.end());
}

bool peer_directory::bind(const std::string& node_id, const std::string& name) {
    std::lock_guard lock(mutex_);
    auto& b = bindings_[node_id];
    if (b.connections > 0 && b.name != name) return false;
    b.name = name;
    ++b.connections;
    return true;
}

void peer_directory::release(const std::string& node_id) {
    std::lock_guard lock(mutex_);
    auto it = bindings_.find(node_id);
    if (it == bindings_.end() || it->second.connections == 0 || --it->second.connections > 0)
        return;
    let_go_.push_back(node_id);
    while (let_go_.size() > max_let_go) {
        auto oldest = bindings_.find(let_go_.front());
        if (oldest != bindings_.end() && oldest->second.connections == 0) bindings_.erase(oldest);
        let_go_.pop_front();
    }
}

std::optional<std::string> peer_directory::name_of(const caf::node_id& node) const {
    auto key = serialized_node_id(node);
    std::lock_guard lock(mutex_);
    auto it = bindings_.find(key);
    if (it == bindings_.end()) return std::nullopt;
    return it->second.name;
}

std::size_t peer_directory::size() const {
    std::lock_guard lock(mutex_);
    return bindings_.size();
}

std::string sender_refusal(const peer_directory* peers, const caf::strong_actor_ptr& sender,
                           const caf::node_id& here, const std::set<std::string>* allowed,
                           const std::string& what) {
    if (!peers) return {};
    if (!sender) return allowed ? "an anonymous " + what + " is refused" : std::string();
    if (sender->node() == here) return {};
    auto name = peers->name_of(sender->node());
    if (!name) return "a " + what + " from a node no authenticated connection named";
    if (allowed && allowed->count(*name) == 0)
        return "node '" + *name + "' may not " + what +
               ": its role in the topology does not allow it";
    return {};
}

} // namespace civic::actors
