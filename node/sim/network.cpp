#include "node/sim/network.hpp"

#include "node/sim/report.hpp"
#include "node/sim/setup.hpp"

#include <algorithm>

namespace civic::node::sim {

using caf::io::accept_handle;
using caf::io::connection_handle;

void network::listen(sim_node& n) {
    n.acceptor = accept_handle::from_int(next_handle_++);
    n.mpx->provide_acceptor(n.spec->caf_port, n.acceptor);
}

void network::prepare_connects(sim_node& n) {
    for (const auto& peer : nodes_) {
        if (peer->index == n.index) continue;
        auto hdl = new_handle();
        n.mpx->provide_scribe(peer->spec->host, peer->spec->caf_port, hdl);
        n.provided[peer->index] = hdl;
    }
}

bool network::reachable(const sim_node& a, const sim_node& b) const {
    return !heal_time(a, b).has_value();
}

std::optional<time_point> network::heal_time(const std::string& ra, const std::string& rb) const {
    if (ra == rb) return std::nullopt;
    auto since = clock_.now().time_since_epoch();
    std::optional<time_point> heal;
    for (const auto& p : options_.faults.partitions) {
        if (since < p.at || since >= p.heal) continue;
        bool in_a = std::find(p.regions.begin(), p.regions.end(), ra) != p.regions.end();
        bool in_b = std::find(p.regions.begin(), p.regions.end(), rb) != p.regions.end();
        if (in_a != in_b) {
            auto t = time_point{} + p.heal;
            if (!heal || t > *heal) heal = t;
        }
    }
    return heal;
}

sim_duration network::one_way(const std::string& ra, const std::string& rb) {
    auto [mean, jitter] = setup_.topo.latency(ra, rb);
    double delay_ms = std::max(0.05, random_.normal(mean, jitter));
    auto since = clock_.now().time_since_epoch();
    for (const auto& s : options_.faults.spikes)
        if (since >= s.at && since < s.at + s.length) delay_ms += ms(s.extra);
    double loss = ra == rb ? 0 : options_.faults.loss_rate;
    for (const auto& l : options_.faults.lossy_links)
        if ((l.a == ra && l.b == rb) || (l.a == rb && l.b == ra)) loss = std::max(loss, l.rate);
    if (loss > 0) {
        double rto_ms = 200;
        for (int tries = 0; tries < 8 && random_.unit() < loss; ++tries) {
            delay_ms += rto_ms;
            rto_ms *= 2;
        }
    }
    return sim_duration(static_cast<std::int64_t>(delay_ms * 1000.0));
}

void network::collect_output(sim_node& n) {
    if (!n.up) return;
    std::vector<std::int64_t> closed;
    for (const auto& [id, link_id] : n.ends) {
        auto hdl = connection_handle::from_int(id);
        auto& link = links_[link_id];
        int side = link.ends[0].node == n.index && link.ends[0].hdl == hdl ? 0 : 1;
        auto& out = n.mpx->output_buffer(hdl);
        if (!out.empty()) {
            std::vector<char> bytes;
            bytes.swap(out);
            report_.count_message(bytes.size());
            deliver(link_id, side, std::move(bytes));
        }
        if (n.mpx->stopped_reading(hdl)) closed.push_back(id);
    }
    for (auto id : closed) {
        // This side closed the connection: the other side sees it after the data.
        auto link_id = n.ends[id];
        n.ends.erase(id);
        auto& link = links_[link_id];
        int side = link.ends[0].node == n.index ? 0 : 1;
        link.open[side] = false;
        if (!link.open[1 - side] || link.ends[1 - side].node < 0) continue;
        // The FIN follows the data; across a partition it waits for the heal.
        auto when = std::max(link.last_arrival[side], clock_.now());
        auto& peer = node_at(link.ends[1 - side].node);
        if (auto heal = heal_time(n, peer)) when = std::max(when, *heal + one_way(n, peer));
        close_end(link.ends[1 - side], when);
    }
}

void network::deliver(std::size_t link_id, int side, std::vector<char> bytes) {
    auto& link = links_[link_id];
    const auto& to_end = link.ends[1 - side];
    if (to_end.node < 0) {
        // Not accepted yet: the bytes wait for the accept, as in a socket's buffer.
        link.unsent.push_back(std::move(bytes));
        return;
    }
    auto& from = node_at(link.ends[side].node);
    auto& to = node_at(to_end.node);
    auto arrive = clock_.now() + one_way(from, to);
    if (auto heal = heal_time(from, to)) arrive = std::max(arrive, *heal + one_way(from, to));
    arrive = std::max(arrive, link.last_arrival[side]); // TCP keeps order
    link.last_arrival[side] = arrive;
    clock_.at(arrive, [this, link_id, side, b = std::move(bytes)]() mutable {
        auto& l = links_[link_id];
        const auto& end = l.ends[1 - side];
        auto& dest = node_at(end.node);
        if (!dest.alive(end.generation) || !l.open[1 - side]) return;
        auto& in = dest.mpx->virtual_network_buffer(end.hdl);
        in.insert(in.end(), b.begin(), b.end());
        dest.mpx->read_data(end.hdl);
        collect_output(dest);
    });
}

void network::close_end(const link_end& end, time_point when) {
    clock_.at(std::max(when, clock_.now()), [this, end] {
        auto& n = node_at(end.node);
        if (!n.alive(end.generation)) return;
        auto it = n.ends.find(end.hdl.id());
        if (it == n.ends.end()) return;
        auto& link = links_[it->second];
        link.open[link.ends[0].node == n.index && link.ends[0].hdl == end.hdl ? 0 : 1] = false;
        n.ends.erase(it);
        if (auto& ptr = n.mpx->impl_ptr(end.hdl))
            ptr->io_failure(n.mpx, caf::io::network::operation::read);
        collect_output(n);
    });
}

void network::detect_connects(sim_node& n) {
    if (!n.up) return;
    for (auto& [peer_index, hdl] : n.provided) {
        auto& peer = node_at(peer_index);
        if (n.mpx->has_pending_scribe(peer.spec->host, peer.spec->caf_port)) continue;
        // A connect to `peer` took the handle: open the connection, provide the next.
        auto link_id = links_.size();
        sim_link link;
        link.ends[0] = {n.index, n.generation, hdl};
        link.last_arrival[0] = link.last_arrival[1] = clock_.now();
        links_.push_back(link);
        n.ends[hdl.id()] = link_id;
        auto next = new_handle();
        n.mpx->provide_scribe(peer.spec->host, peer.spec->caf_port, next);
        hdl = next;
        auto syn = one_way(n, peer);
        clock_.at(clock_.now() + syn,
                  [this, link_id, from = n.index, from_generation = n.generation, to = peer_index] {
                      arrive_connect(link_id, from, from_generation, to);
                  });
    }
}

void network::arrive_connect(std::size_t link_id, int from, int from_generation, int to) {
    auto& a = node_at(from);
    auto& b = node_at(to);
    auto& l = links_[link_id];
    if (!a.alive(from_generation) || !l.open[0]) return;
    if (!b.up) { // refused: the host answers for the dead process
        close_end(l.ends[0], clock_.now() + one_way(b, a));
        return;
    }
    if (!reachable(a, b)) { // the SYN is lost until the connect gives up
        close_end(l.ends[0], clock_.now() + std::chrono::seconds(3));
        return;
    }
    if (!b.mpx->impl_ptr(b.acceptor)) { // not listening yet: refused
        close_end(l.ends[0], clock_.now() + one_way(b, a));
        return;
    }
    auto accepted = new_handle();
    l.ends[1] = {b.index, b.generation, accepted};
    l.open[1] = true;
    b.ends[accepted.id()] = link_id;
    b.mpx->add_pending_connect(b.acceptor, accepted);
    b.mpx->accept_connection(b.acceptor);
    collect_output(b);
    auto unsent = std::move(links_[link_id].unsent);
    for (auto& chunk : unsent)
        deliver(link_id, 0, std::move(chunk));
}

void network::reset_connections(sim_node& n) {
    for (const auto& [id, link_id] : n.ends) {
        auto& link = links_[link_id];
        int side = link.ends[0].node == n.index && link.ends[0].hdl.id() == id ? 0 : 1;
        link.open[side] = false;
        const auto& other = link.ends[1 - side];
        if (other.node < 0 || !link.open[1 - side]) continue;
        auto& peer = node_at(other.node);
        if (reachable(n, peer)) close_end(other, clock_.now() + one_way(n, peer));
    }
}

} // namespace civic::node::sim
