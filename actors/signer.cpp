#include "actors/signer.hpp"

#include "actors/errors.hpp"
#include "protocol/entry.hpp"

#include <caf/typed_response_promise.hpp>

namespace civic::actors {

std::chrono::milliseconds unix_offset_now() {
    auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    auto steady = std::chrono::duration_cast<std::chrono::milliseconds>(
        caf::actor_clock::clock_type::now().time_since_epoch());
    return wall - steady;
}

namespace {

using signer_pointer = signer_actor::stateful_pointer<signer_state>;
using key_pointer = std::shared_ptr<const ed25519::secret_key>;

/// The signed, encoded entry of `kind` for `identity`, by `key`, stamped now.
caf::expected<bytes> make_entry(signer_pointer self, entry_kind kind, const std::string& identity,
                                const ed25519::secret_key& key, const hash& content,
                                bytes payload) {
    entry e;
    e.kind = kind;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        self->clock().now().time_since_epoch());
    e.timestamp_ms = static_cast<std::uint64_t>((self->state.config.unix_offset + now).count());
    e.identity = identity;
    e.public_key = key.public_key_bytes();
    e.content_hash = content;
    e.payload = std::move(payload);
    if (auto ok = check_entry(e); !ok) return make_error(errc::invalid_entry, ok.message());
    e.sign(key);
    return e.encode();
}

bytes key_bytes(const ed25519::secret_key& key) {
    auto pk = key.public_key_bytes();
    return bytes(pk.begin(), pk.end());
}

/// Appends a registry change the signer has already applied to its key ring,
/// and undoes that change (if nothing changed the ring since) when the ledger
/// refuses the entry.
caf::result<append_receipt> append_registry_change(signer_pointer self, bytes signed_entry,
                                                   const std::string& identity, key_pointer applied,
                                                   key_pointer previous) {
    auto promise = self->make_response_promise<append_receipt>();
    self->request(self->state.ledger, self->state.config.ledger_timeout, atoms::append_atom_v,
                  signed_locally{std::move(signed_entry)})
        .then([promise](append_receipt& r) mutable { promise.deliver(std::move(r)); },
              [self, promise, identity, applied, previous](caf::error& err) mutable {
                  auto& keys = self->state.keys;
                  auto it = keys.find(identity);
                  auto now = it == keys.end() ? nullptr : it->second;
                  if (now == applied) {
                      if (previous)
                          keys[identity] = previous;
                      else if (it != keys.end())
                          keys.erase(it);
                  }
                  promise.deliver(std::move(err));
              });
    return promise;
}

} // namespace

signer_actor::behavior_type signer(signer_pointer self, key_ring initial_keys, signer_config config,
                                   ledger_actor ledger) {
    self->state.keys = std::move(initial_keys);
    self->state.config = config;
    self->state.ledger = std::move(ledger);
    return {
        [self](atoms::sign_atom, sign_request& req) -> caf::result<append_receipt> {
            auto key = self->state.keys.find(req.identity);
            if (key == self->state.keys.end())
                return make_error(errc::unknown_key,
                                  "this node holds no key for '" + req.identity + "'");
            hash content{};
            if (req.content_sha256.size() != content.size())
                return make_error(errc::invalid_entry, "content_sha256 must be 32 bytes");
            std::copy(req.content_sha256.begin(), req.content_sha256.end(), content.begin());
            auto signed_entry = make_entry(self, entry_kind::statement, req.identity, *key->second,
                                           content, std::move(req.metadata));
            if (!signed_entry) return std::move(signed_entry.error());
            // Delegated: the ledger answers the caller directly, and receives this
            // entry after everything this signer signed before it.
            return self->delegate(self->state.ledger, atoms::append_atom_v,
                                  signed_locally{std::move(*signed_entry), req.witnessed});
        },
        [self](atoms::add_atom, const new_identity_key& k) -> caf::result<append_receipt> {
            // Never replace a key: a second registration of a name must fail, not
            // silently swap the key the first one registered.
            if (!k.key) return make_error(errc::invalid_entry, "no key");
            if (!self->state.keys.emplace(k.identity, k.key).second)
                return make_error(errc::identity_exists,
                                  "this node already holds a key for '" + k.identity + "'");
            auto signed_entry =
                make_entry(self, entry_kind::identity_registration, k.identity, *k.key, hash{}, {});
            if (!signed_entry) {
                self->state.keys.erase(k.identity);
                return std::move(signed_entry.error());
            }
            return append_registry_change(self, std::move(*signed_entry), k.identity, k.key,
                                          nullptr);
        },
        [self](atoms::rotate_atom, const new_identity_key& k) -> caf::result<append_receipt> {
            auto& keys = self->state.keys;
            auto current = keys.find(k.identity);
            if (current == keys.end())
                return make_error(errc::unknown_key,
                                  "this node holds no key for '" + k.identity + "'");
            if (!k.key || k.key->public_key_bytes() == current->second->public_key_bytes())
                return make_error(errc::invalid_entry, "a rotation needs a new key");
            auto previous = current->second;
            auto signed_entry = make_entry(self, entry_kind::key_rotation, k.identity, *previous,
                                           hash{}, key_bytes(*k.key));
            if (!signed_entry) return std::move(signed_entry.error());
            current->second = k.key; // what is signed from now on follows the rotation
            return append_registry_change(self, std::move(*signed_entry), k.identity, k.key,
                                          previous);
        },
        [self](atoms::revoke_atom, const std::string& identity,
               const bytes& revoked) -> caf::result<append_receipt> {
            auto& keys = self->state.keys;
            auto current = keys.find(identity);
            if (current == keys.end())
                return make_error(errc::unknown_key,
                                  "this node holds no key for '" + identity + "'");
            if (revoked.size() != ed25519::public_key{}.size())
                return make_error(errc::invalid_entry, "a revoked key is 32 bytes");
            auto signer_key = current->second;
            auto signed_entry = make_entry(self, entry_kind::key_revocation, identity, *signer_key,
                                           hash{}, revoked);
            if (!signed_entry) return std::move(signed_entry.error());
            if (key_bytes(*signer_key) != revoked) // an old key: nothing changes here
                return self->delegate(self->state.ledger, atoms::append_atom_v,
                                      signed_locally{std::move(*signed_entry)});
            keys.erase(current); // the identity is retired: sign nothing more for it
            return append_registry_change(self, std::move(*signed_entry), identity, nullptr,
                                          signer_key);
        },
    };
}

} // namespace civic::actors
