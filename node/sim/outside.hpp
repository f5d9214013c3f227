// The outside witnesses of a simulated network: tlog-witness servers in a
// region of their own (the topology's `outside_witnesses:`), asked by the
// leader's collector over HTTP(S). The exchange is modelled, with the real
// witness decision in it:
// - connection set-up (one round trip for TCP, one more for TLS) on the first
//   request and after a failed one; then the kept connection;
// - the request and its answer carried between the regions with the run's
//   faults (latency, spikes, loss, partitions), and the witness's service time;
// - the witness's qpd for this log, enforced as a real witness does (429 with
//   Retry-After), and its decision by protocol/witness.hpp (409 on a size it
//   does not hold, cosignatures by its own key).
// Its state (the size it cosigned) outlives the leader's restarts, as a real
// witness's disk does.
#pragma once

#include "actors/actors.hpp"
#include "node/config/topology.hpp"
#include "node/sim/seeded_random.hpp"
#include "node/sim/virtual_clock.hpp"
#include "protocol/note.hpp"
#include "protocol/witness.hpp"

#include <caf/actor_system.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace civic::node::sim {

class network;
class run_report;
class invariants;
struct prepared_setup;

/// The most exchanges in flight at once over all outside witnesses (each
/// collector asks each one once at a time: a bound that only a bug reaches).
constexpr std::size_t max_outside_exchanges = 4096;

class outside_witnesses {
public:
    outside_witnesses(const prepared_setup& setup, virtual_clock& clock, seeded_random& random,
                      network& net, run_report& report, invariants& checks)
        : setup_(setup), clock_(clock), random_(random), net_(net), report_(report),
          checks_(checks) {}

    /// Makes each modelled witness (its key and empty state) from the setup.
    status start();
    /// The node runtime's hook: the actor through which a node in `region`
    /// asks the witness `spec` names, giving up on an exchange after `timeout`
    /// (as the process's HTTP client does).
    actors::outside_witness_actor spawn(caf::actor_system& sys,
                                        const actors::outside_witness_spec& spec,
                                        const std::string& region, sim_duration timeout);

    /// An exchange starts now from `region` (`fresh`: the connection is set up
    /// first). Returns its number and when its answer is back if nothing on the
    /// way is lost (from now).
    std::pair<std::uint64_t, sim_duration> send(std::size_t witness, const std::string& region,
                                                bool fresh, actors::cosign_request request);
    /// The answer of exchange `id` if it is back by now (then forgotten).
    std::optional<actors::cosign_answer> collect(std::uint64_t id);

private:
    struct modelled_witness {
        outside_witness_model model;
        std::unique_ptr<note::cosigner> key;
        std::optional<witness::cosigned_state> latest; // of the one log it is asked about
        witness::request_allowance allowance;
    };
    struct exchange {
        time_point back;                             // when the answer arrives, if it does
        std::optional<actors::cosign_answer> answer; // decided at the witness
    };
    /// The witness's answer, at the moment the request reaches it.
    actors::cosign_answer decide(modelled_witness& w, const actors::cosign_request& request);
    /// The witness's service time for one request (a draw of the seed).
    sim_duration service_time(const modelled_witness& w);

    const prepared_setup& setup_;
    virtual_clock& clock_;
    seeded_random& random_;
    network& net_;
    run_report& report_;
    invariants& checks_;
    witness::trusted_logs logs_;
    std::vector<modelled_witness> witnesses_;
    std::map<std::uint64_t, exchange> exchanges_; // by number, oldest first
    std::uint64_t next_exchange_ = 1;
};

} // namespace civic::node::sim
