// The gossip actor (see gossip_actor in actors.hpp): checkpoints and split-view
// evidence exchanged between every node and witness of a network.
#pragma once

#include "actors/actors.hpp"
#include "actors/directory.hpp"
#include "actors/peer_link.hpp"
#include "protocol/split_view.hpp"
#include "storage/witness_store.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace civic::actors {

struct gossip_config {
    std::string node_name;
    std::vector<peer_endpoint> peers;
    std::chrono::milliseconds period{1000};
    std::size_t fanout = 2;
    std::chrono::milliseconds exchange_timeout{3000};
    link_timing timing;
    std::uint64_t seed = 1;
    /// The log's key (its name is the origin) and the policy's witness keys:
    /// checkpoints must carry the log's signature; cosignatures are kept only
    /// from these witnesses.
    std::shared_ptr<const note::verifier> log_key;
    std::vector<std::shared_ptr<const note::verifier>> witness_keys;
    /// This node's own newest signed checkpoint (its ledger's, or what its
    /// witness cosigned), read at every tick; may be empty.
    std::function<std::optional<std::string>()> own_checkpoint;
    /// On a node that holds the ledger: the evidence when a signed checkpoint
    /// contradicts its tree (storage::contradiction).
    std::function<std::optional<split_view_evidence>(const std::string&)> check_against_tree;
    /// Told of each new verified evidence (the node logs it at error level and
    /// counts it); called on the gossip actor's thread, must be quick.
    std::function<void(const storage::evidence_record&)> on_evidence;
    std::size_t max_evidence_sent = 8; // per message, the newest first
    /// Test mode only: an equivocating log. To every second peer (in name
    /// order) the node shows, instead of its newest checkpoint, another tree of
    /// the same size signed with this key.
    std::shared_ptr<const note::ed25519_signer> equivocate_with;
    /// From when (actor clock) it equivocates: the simulator starts mid-run.
    caf::actor_clock::time_point equivocate_from{};
    log::logger_ptr log = log::logger::none(); // peers reached and lost
    /// Unix time = this offset + the actor clock: when evidence was caught.
    std::chrono::milliseconds unix_offset{0};
};

struct gossip_state {
    static inline const char* name = "gossip";
    gossip_config config;
    caf::io::middleman_actor middleman;
    std::shared_ptr<const directory> actors;       // "witness", if any
    std::shared_ptr<storage::witness_store> store; // evidence, durably
    witness_writer_actor writer;                   // commits to `store`
    std::vector<peer_link> links;
    std::map<std::string, std::string> view;        // origin -> newest signed checkpoint
    std::vector<storage::evidence_record> evidence; // all held, oldest first
    std::set<std::string> evidence_keys;            // to drop duplicates
    std::minstd_rand jitter;
    /// Digests of the checkpoint texts checked lately: peers send the same one
    /// every round, and it needs its signatures verified and the tree read once.
    std::deque<hash> recently_checked;
    std::uint64_t own_size = 0; // of this node's own newest checkpoint, as last read
    bool lying = false;         // equivocating now (test mode), as of the last tick
    std::uint64_t rounds = 0, exchanges = 0, failures = 0, rejected = 0;
};

using gossip_pointer = gossip_actor::stateful_pointer<gossip_state>;

/// `evidence`: what the store already holds (read at start).
gossip_actor::behavior_type
gossip(gossip_pointer self, gossip_config config, caf::io::middleman_actor middleman,
       std::shared_ptr<const directory> actors, std::shared_ptr<storage::witness_store> store,
       witness_writer_actor writer, std::vector<storage::evidence_record> evidence);

/// Evidence as gossip carries it, and back (checked by check_split_view).
gossip_evidence to_gossip(const storage::evidence_record& r);
std::optional<split_view_evidence> from_gossip(const gossip_evidence& g);

} // namespace civic::actors
