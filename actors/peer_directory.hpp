// Which node of the topology each remote CAF node is: the peer port's TLS front
// binds the node id that a connection's BASP handshake names to the name in the
// certificate the connection was authenticated with (see protocol/basp_guard.hpp),
// and the gateway asks it who sent a message, to check that node's role may
// send it. A node id stays bound to one name while a connection that named it
// is open; after the last one closed it is still known by that name (messages
// that came over the connection may still be on their way through CAF) until
// another certificate binds it or 1,024 newer ones are let go.
#pragma once

#include <caf/actor_control_block.hpp>
#include <caf/node_id.hpp>

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace civic::actors {

/// A node id as BASP carries it (basp::node_id_size bytes).
std::string serialized_node_id(const caf::node_id& node);

class peer_directory {
public:
    /// `on_refusal`: told of each message the gateway refused (a line for the
    /// log); called from actor threads, so it must not block.
    explicit peer_directory(std::function<void(const std::string&)> on_refusal = {})
        : on_refusal_(std::move(on_refusal)) {}

    /// Binds `node_id` (serialized) to `name` for one more connection; false,
    /// and nothing changes, if it is bound to another name.
    bool bind(const std::string& node_id, const std::string& name);
    /// One connection that bound `node_id` has closed.
    void release(const std::string& node_id);
    /// The authenticated name of a remote node, if a connection named it (see
    /// the file comment for how long after it closed).
    std::optional<std::string> name_of(const caf::node_id& node) const;
    std::size_t size() const;
    /// The gateway refused a message: `line` says which and why.
    void refused(const std::string& line) const {
        if (on_refusal_) on_refusal_(line);
    }

private:
    static constexpr std::size_t max_let_go = 1024;
    struct binding {
        std::string name;
        std::size_t connections = 0;
    };
    std::function<void(const std::string&)> on_refusal_;
    mutable std::mutex mutex_;
    std::map<std::string, binding> bindings_;
    std::deque<std::string> let_go_; // node ids whose last connection closed, oldest first
};

/// Why a message from `sender` may not be taken by an actor on node `here`:
/// it comes from another node that no authenticated connection named, or from
/// one whose name is not in `allowed` (when given); empty when it may. With no
/// directory (the simulator) every sender may, and so may any on `here`. An
/// anonymous sender may only where nothing is `allowed` in particular.
std::string sender_refusal(const peer_directory* peers, const caf::strong_actor_ptr& sender,
                           const caf::node_id& here, const std::set<std::string>* allowed,
                           const std::string& what);

} // namespace civic::actors
