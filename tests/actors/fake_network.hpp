// The network as an actor that connects to peers sees it: the middleman's
// `connect` (host, port) answers the actor published on that port, fails for a
// port nobody listens on, and never answers for a port whose connection hangs.
// Every attempt is kept with the (virtual) time it was made. For the gossip
// and uplink tests.
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace civic::test {

struct fake_network {
    struct attempt {
        std::uint16_t port = 0;
        caf::actor_clock::time_point at{};
    };
    std::map<std::uint16_t, caf::actor> published; // port -> the actor it answers
    std::set<std::uint16_t> hung;                  // ports whose attempts never end
    std::vector<attempt> attempts;                 // in order
    std::vector<caf::response_promise> pending;    // the hung attempts, never answered

    /// How many attempts went to `port`.
    std::size_t attempts_at(std::uint16_t port) const {
        std::size_t n = 0;
        for (const auto& a : attempts)
            n += a.port == port;
        return n;
    }
};

inline caf::behavior fake_middleman(caf::event_based_actor* self,
                                    std::shared_ptr<fake_network> net) {
    return {
        [self, net](caf::connect_atom, const std::string&, std::uint16_t port)
            -> caf::result<caf::node_id, caf::strong_actor_ptr, std::set<std::string>> {
            net->attempts.push_back({port, self->clock().now()});
            if (net->hung.count(port)) {
                net->pending.push_back(self->make_response_promise());
                return net->pending.back();
            }
            auto it = net->published.find(port);
            if (it == net->published.end() || !it->second) return caf::sec::cannot_connect_to_node;
            return {caf::node_id{}, caf::actor_cast<caf::strong_actor_ptr>(it->second),
                    std::set<std::string>{}};
        },
    };
}

} // namespace civic::test
