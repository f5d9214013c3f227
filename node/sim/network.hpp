// The simulated network between the nodes: TCP connections over CAF's test
// multiplexer, bytes carried with the topology's region latencies, delay
// spikes, packet loss (as retransmission delay) and partitions.
#pragma once

#include "node/sim/nodes.hpp"
#include "node/sim/seeded_random.hpp"
#include "node/sim/virtual_clock.hpp"

#include <optional>
#include <vector>

namespace civic::node::sim {

struct prepared_setup;
class run_report;

/// One end of a simulated TCP connection.
struct link_end {
    int node = -1;
    int generation = 0; // the node's incarnation: a restarted node has new connections
    caf::io::connection_handle hdl;
};

/// A TCP connection between two nodes: bytes in order, each way.
struct sim_link {
    link_end ends[2]; // [0] connected, [1] accepted
    bool open[2] = {true, false};
    time_point last_arrival[2];
    std::vector<std::vector<char>> unsent; // written by the connecting side before the accept
};

class network {
public:
    network(const simulation_options& options, const prepared_setup& setup, virtual_clock& clock,
            seeded_random& random, node_list& nodes, run_report& report)
        : options_(options), setup_(setup), clock_(clock), random_(random), nodes_(nodes),
          report_(report) {}

    /// Gives a booting node the handle its CAF port listens on.
    void listen(sim_node& n);
    /// Gives a booting node the handle of its first connect to each peer.
    void prepare_connects(sim_node& n);
    /// Sends what `n` wrote to its connections; passes on the connections it closed.
    void collect_output(sim_node& n);
    /// Opens a connection for each connect `n` made (it took the handle provided).
    void detect_connects(sim_node& n);
    /// `n` dies: its peers see their connections reset (the host is up, the process is not).
    void reset_connections(sim_node& n);

    /// How long one message from region `from` to region `to` takes now, with
    /// the faults (spikes, loss): what carries nodes' bytes, and the simulated
    /// HTTP exchanges with outside witnesses (a draw of the seed).
    sim_duration one_way(const std::string& from, const std::string& to);
    /// When a partition between two regions heals (nothing when they are not cut off).
    std::optional<time_point> heal_time(const std::string& from, const std::string& to) const;

private:
    caf::io::connection_handle new_handle() {
        return caf::io::connection_handle::from_int(next_handle_++);
    }
    /// The SYN of link `link_id` arrives at node `to` (or is refused, or lost).
    void arrive_connect(std::size_t link_id, int from, int from_generation, int to);
    void deliver(std::size_t link_id, int side, std::vector<char> bytes);
    void close_end(const link_end& end, time_point when);
    sim_duration one_way(const sim_node& from, const sim_node& to) {
        return one_way(from.spec->region, to.spec->region);
    }
    bool reachable(const sim_node& a, const sim_node& b) const;
    std::optional<time_point> heal_time(const sim_node& a, const sim_node& b) const {
        return heal_time(a.spec->region, b.spec->region);
    }
    sim_node& node_at(int index) { return *nodes_[static_cast<std::size_t>(index)]; }

    const simulation_options& options_;
    const prepared_setup& setup_;
    virtual_clock& clock_;
    seeded_random& random_;
    node_list& nodes_;
    run_report& report_;
    std::vector<sim_link> links_;
    std::int64_t next_handle_ = 1; // acceptors' and connections' handles alike
};

} // namespace civic::node::sim
