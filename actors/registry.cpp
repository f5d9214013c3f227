#include "actors/registry.hpp"

#include "actors/errors.hpp"

namespace civic::actors {

caf::expected<std::optional<storage::identity_record>>
admit(const std::optional<storage::identity_record>& rec, const entry& e, std::uint64_t index) {
    auto current = rec ? rec->current() : nullptr;
    switch (e.kind) {
    case entry_kind::statement:
        if (!rec) return make_error(errc::unknown_identity, "no identity '" + e.identity + "'");
        if (!current || current->key != e.public_key)
            return make_error(errc::key_mismatch,
                              "not signed with the current key of '" + e.identity + "'");
        return std::optional<storage::identity_record>{};
    case entry_kind::identity_registration: {
        if (rec)
            return make_error(errc::identity_exists,
                              "identity '" + e.identity + "' already exists");
        storage::identity_record fresh{
            e.identity, {{e.public_key, index, std::nullopt, false}}, e.registers_owner_held_key()};
        return std::optional(fresh);
    }
    case entry_kind::key_rotation: {
        if (!rec) return make_error(errc::unknown_identity, "no identity '" + e.identity + "'");
        if (!current || current->key != e.public_key)
            return make_error(errc::key_mismatch, "a rotation must be signed with the current key");
        auto next = e.payload_key();
        for (const auto& k : rec->keys)
            if (k.key == next)
                return make_error(errc::invalid_entry,
                                  "the new key was used by this identity before");
        storage::identity_record updated = *rec;
        updated.keys.back().valid_until = index;
        updated.keys.push_back({next, index, std::nullopt, false});
        return std::optional(updated);
    }
    case entry_kind::key_revocation: {
        if (!rec) return make_error(errc::unknown_identity, "no identity '" + e.identity + "'");
        auto target = e.payload_key();
        bool by_current = current && current->key == e.public_key;
        bool by_itself = e.public_key == target;
        if (!by_current && !by_itself)
            return make_error(errc::key_mismatch,
                              "a revocation is signed by the current key or the revoked key");
        storage::identity_record updated = *rec;
        for (auto& k : updated.keys) {
            if (k.key != target) continue;
            if (k.revoked) return make_error(errc::invalid_entry, "that key is already revoked");
            k.revoked = true;
            if (!k.valid_until || *k.valid_until > index) k.valid_until = index;
            return std::optional(updated);
        }
        return make_error(errc::invalid_entry, "that key never belonged to '" + e.identity + "'");
    }
    }
    return make_error(errc::invalid_entry, "unknown entry kind");
}

} // namespace civic::actors
