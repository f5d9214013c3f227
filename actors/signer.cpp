#include "actors/signer.hpp"

#include "actors/errors.hpp"
#include "protocol/entry.hpp"

namespace civic::actors {

std::chrono::milliseconds unix_offset_now() {
    auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    auto steady = std::chrono::duration_cast<std::chrono::milliseconds>(
        caf::actor_clock::clock_type::now().time_since_epoch());
    return wall - steady;
}

signer_actor::behavior_type signer(signer_actor::stateful_pointer<signer_state> self, key_ring keys,
                                   std::chrono::milliseconds unix_offset) {
    self->state.keys = std::move(keys);
    self->state.unix_offset = unix_offset;
    return {
        [self](atoms::sign_atom, const sign_request& req) -> caf::result<bytes> {
            auto& st = self->state;
            auto key = st.keys.find(req.identity);
            if (key == st.keys.end())
                return make_error(errc::unknown_key,
                                  "this node holds no key for '" + req.identity + "'");
            entry e;
            if (req.kind < 1 || req.kind > 4)
                return make_error(errc::invalid_entry, "unknown entry kind");
            e.kind = static_cast<entry_kind>(req.kind);
            auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                self->clock().now().time_since_epoch());
            e.timestamp_ms = static_cast<std::uint64_t>((st.unix_offset + now).count());
            e.identity = req.identity;
            e.public_key = key->second->public_key_bytes();
            if (!req.content_sha256.empty()) {
                if (req.content_sha256.size() != e.content_hash.size())
                    return make_error(errc::invalid_entry, "content_sha256 must be 32 bytes");
                std::copy(req.content_sha256.begin(), req.content_sha256.end(),
                          e.content_hash.begin());
            }
            e.payload = req.payload;
            if (auto ok = check_entry(e); !ok) return make_error(errc::invalid_entry, ok.message());
            e.sign(*key->second);
            return e.encode();
        },
        [self](atoms::add_atom, const new_identity_key& k) -> caf::result<atoms::add_atom> {
            // Never replace a key: a second registration of a name must fail, not
            // silently swap the key the first one registered.
            if (!self->state.keys.emplace(k.identity, k.key).second)
                return make_error(errc::identity_exists,
                                  "this node already holds a key for '" + k.identity + "'");
            return atoms::add_atom_v;
        },
    };
}

} // namespace civic::actors
