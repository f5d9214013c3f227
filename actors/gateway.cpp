#include "actors/gateway.hpp"

#include "actors/errors.hpp"
#include "protocol/entry.hpp"

#include <caf/actor_cast.hpp>

#include <algorithm>

namespace civic::actors {
namespace {

caf::error not_leader(const gateway_state& st) {
    return make_error(errc::not_leader, "node '" + st.config.node_name + "' does not lead");
}

caf::error not_running(const char* what) {
    return make_error(errc::unavailable, std::string("the ") + what + " is restarting");
}

/// Whether the token behind `token_sha256` may sign for `identity` (with
/// `admin_only`: whether it is an admin token).
caf::error authorize(const storage::ledger_store& store, const bytes& token_sha256,
                     const std::string& identity, bool admin_only = false) {
    hash digest{};
    if (token_sha256.size() != digest.size())
        return make_error(errc::unauthorized, "a forwarded request without a token");
    std::copy(token_sha256.begin(), token_sha256.end(), digest.begin());
    auto record = store.token(digest);
    if (!record) return make_error(errc::storage_failure, record.message());
    if (!*record) return make_error(errc::unauthorized, "unknown token");
    const auto& r = **record;
    if (admin_only && !r.admin)
        return make_error(errc::forbidden, "registering '" + identity + "' needs an admin token");
    if (r.admin ||
        std::find(r.identities.begin(), r.identities.end(), identity) != r.identities.end())
        return {};
    return make_error(errc::forbidden, "this token may not sign for '" + identity + "'");
}

/// Why the current message may not be handled (see sender_refusal), each
/// refusal told to the directory (for the log and metrics).
caf::error refuse_sender(gateway_pointer self, const std::set<std::string>* allowed,
                         const char* what) {
    const auto& peers = self->state.config.peers;
    auto why = sender_refusal(peers.get(), self->current_sender(), self->node(), allowed, what);
    if (why.empty()) return {};
    peers->refused("gateway: refused: " + why);
    return make_error(errc::forbidden, why);
}

} // namespace

gateway_actor::behavior_type gateway(gateway_pointer self, gateway_config config,
                                     std::shared_ptr<storage::ledger_store> store,
                                     std::shared_ptr<const directory> actors) {
    self->state.config = std::move(config);
    self->state.store = std::move(store);
    self->state.actors = std::move(actors);
    return {
        [self](atoms::join_atom, caf::actor& replica) -> caf::delegated<std::uint64_t> {
            auto& st = self->state;
            auto denied = refuse_sender(self, &st.config.replicas, "join as a replica");
            // The replica that joins lives on the node that asks: no node joins another.
            if (!denied && st.config.peers && self->current_sender() &&
                replica.node() != self->current_sender()->node()) {
                denied = make_error(errc::forbidden, "a join for a replica on another node");
                st.config.peers->refused("gateway: refused: " + message_of(denied));
            }
            if (denied) {
                auto rp = self->make_response_promise<std::uint64_t>();
                rp.deliver(std::move(denied));
                return {};
            }
            auto ledger = st.actors->get(slots::ledger);
            if (!st.config.leading || !ledger) {
                auto rp = self->make_response_promise<std::uint64_t>();
                rp.deliver(st.config.leading ? not_running(slots::ledger.name) : not_leader(st));
                return {};
            }
            std::string who = "-";
            if (st.config.peers)
                if (auto name = st.config.peers->name_of(replica.node())) who = *name;
            st.config.log->info("gateway", "a replica asks to join",
                                {{"peer", who}, {"replica_node", caf::to_string(replica.node())}});
            return self->delegate(ledger, atoms::join_atom_v, std::move(replica));
        },
        [self](atoms::sign_atom, forwarded_sign& fs) -> caf::delegated<append_receipt> {
            auto& st = self->state;
            auto refuse = [self](caf::error e) {
                auto rp = self->make_response_promise<append_receipt>();
                rp.deliver(std::move(e));
                return caf::delegated<append_receipt>{};
            };
            if (auto denied = refuse_sender(self, nullptr, "forwarded request"))
                return refuse(std::move(denied));
            if (!st.config.leading || !st.store) return refuse(not_leader(st));
            if (auto denied = authorize(*st.store, fs.token_sha256, fs.request.identity))
                return refuse(std::move(denied));
            auto signer = st.actors->get(slots::signer);
            if (!signer) return refuse(not_running(slots::signer.name));
            return self->delegate(signer, atoms::sign_atom_v, std::move(fs.request));
        },
        [self](atoms::append_atom, forwarded_entry& fe) -> caf::delegated<append_receipt> {
            auto& st = self->state;
            auto refuse = [self](caf::error e) {
                auto rp = self->make_response_promise<append_receipt>();
                rp.deliver(std::move(e));
                return caf::delegated<append_receipt>{};
            };
            if (auto denied = refuse_sender(self, nullptr, "forwarded entry"))
                return refuse(std::move(denied));
            if (!st.config.leading || !st.store) return refuse(not_leader(st));
            // Decoded here only to authorise it; the ledger checks it whole.
            auto submitted = decode_entry(fe.entry);
            if (!submitted) return refuse(make_error(errc::invalid_entry, submitted.message()));
            bool registration = submitted->kind == entry_kind::identity_registration;
            if (auto denied =
                    authorize(*st.store, fe.token_sha256, submitted->identity, registration))
                return refuse(std::move(denied));
            auto ledger = st.actors->get(slots::ledger);
            if (!ledger) return refuse(not_running(slots::ledger.name));
            return self->delegate(ledger, atoms::append_atom_v, std::move(fe.entry), fe.witnessed);
        },
        [self](atoms::poll_atom, std::uint64_t size,
               std::uint32_t max_wait_ms) -> caf::delegated<std::string> {
            auto& st = self->state;
            auto refuse = [self](caf::error e) {
                auto rp = self->make_response_promise<std::string>();
                rp.deliver(std::move(e));
                return caf::delegated<std::string>{};
            };
            if (auto denied =
                    refuse_sender(self, &st.config.replicas, "wait for a witnessed checkpoint"))
                return refuse(std::move(denied));
            if (!st.config.leading) return refuse(not_leader(st));
            auto collector = st.actors->get(slots::collector);
            if (!collector) return refuse(not_running(slots::collector.name));
            return self->delegate(collector, atoms::poll_atom_v, size, max_wait_ms);
        },
        [self](atoms::add_atom, cosign_request& r) -> caf::delegated<cosign_answer> {
            if (auto denied =
                    refuse_sender(self, &self->state.config.log_nodes, "ask for a cosignature")) {
                auto rp = self->make_response_promise<cosign_answer>();
                rp.deliver(std::move(denied));
                return {};
            }
            auto witness = self->state.actors->get(slots::witness);
            if (!witness) {
                auto rp = self->make_response_promise<cosign_answer>();
                rp.deliver(make_error(errc::unavailable, "node '" + self->state.config.node_name +
                                                             "' runs no witness now"));
                return {};
            }
            return self->delegate(witness, atoms::add_atom_v, std::move(r));
        },
        [self](atoms::gossip_atom, gossip_message& m) -> caf::delegated<gossip_message> {
            if (auto denied = refuse_sender(self, nullptr, "gossip exchange")) {
                auto rp = self->make_response_promise<gossip_message>();
                rp.deliver(std::move(denied));
                return {};
            }
            auto gossip = self->state.actors->get(slots::gossip);
            if (!gossip) {
                auto rp = self->make_response_promise<gossip_message>();
                rp.deliver(
                    make_error(errc::unavailable,
                               "no gossip on node '" + self->state.config.node_name + "' now"));
                return {};
            }
            return self->delegate(gossip, atoms::gossip_atom_v, std::move(m));
        },
        [self](atoms::fetch_atom, std::uint64_t first,
               std::uint64_t count) -> caf::result<replicated_batch> {
            auto& st = self->state;
            if (auto denied = refuse_sender(self, nullptr, "fetch")) return denied;
            if (!st.store) return make_error(errc::unavailable, "this node holds no ledger");
            const auto size = st.store->verified_size();
            if (count == 0 || count > max_fetch_entries || first >= size || count > size - first)
                return make_error(errc::gap, "fetch: entries " + std::to_string(first) + " + " +
                                                 std::to_string(count) +
                                                 " are not in the tree of size " +
                                                 std::to_string(size));
            replicated_batch out;
            out.first_index = first;
            out.epoch = st.config.epoch;
            for (std::uint64_t i = first; i < first + count; ++i) {
                auto e = st.store->checked_entry(i);
                if (!e) return make_error(errc::storage_failure, e.message());
                if (!*e)
                    return make_error(errc::storage_failure,
                                      "fetch: no entry " + std::to_string(i));
                out.entries.push_back(std::move(**e));
            }
            return out;
        },
        [self](atoms::status_atom) -> caf::result<node_status> {
            auto& st = self->state;
            // Any node of the network may ask (a replica looking for its
            // leader, a leader for the newest epoch); nobody else.
            if (auto denied = refuse_sender(self, nullptr, "ask for this node's status"))
                return denied;
            if (!st.store) return node_status{st.config.node_name, false, st.config.epoch, 0};
            // A replica's epoch grows as it follows new leaders: from its store.
            auto epoch = st.config.leading ? st.config.epoch : storage::stored_epoch(*st.store);
            return node_status{st.config.node_name, st.config.leading, epoch,
                               st.store->stored_size()};
        },
    };
}

} // namespace civic::actors
