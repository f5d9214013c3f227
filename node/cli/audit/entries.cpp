#include "node/cli/audit/entries.hpp"

#include "actors/errors.hpp"
#include "actors/registry.hpp"

#include <algorithm>
#include <thread>

namespace civic::node::audit {
namespace {

checked_entry check_one(byte_view raw) {
    checked_entry out;
    auto decoded = decode_entry(raw);
    if (!decoded) {
        out.problem = "the entry does not decode: " + decoded.message();
        return out;
    }
    out.identity = decoded->identity;
    if (!decoded->signature_valid()) {
        out.problem = "the entry's Ed25519 signature does not verify with its public key";
        return out;
    }
    out.decoded = std::move(*decoded);
    return out;
}

/// What the identity's record says about the key an entry was signed with,
/// when the registry refused the entry: the reader's next question.
std::string key_history(const std::optional<storage::identity_record>& record, const entry& e) {
    if (!record) return {};
    for (const auto& k : record->keys) {
        if (k.key != e.public_key) continue;
        if (!k.valid_until) return {};
        return std::string("; that key was ") + (k.revoked ? "revoked" : "replaced") +
               " at index " + std::to_string(*k.valid_until);
    }
    if (record->current() == nullptr) return "; the identity has no key left (retired)";
    return {};
}

} // namespace

std::vector<checked_entry> check_entries(const std::vector<byte_view>& raw, unsigned threads) {
    std::vector<checked_entry> out(raw.size());
    ed25519::ensure_initialized(); // once, before any thread needs it
    // Below a few hundred entries a thread costs more than it saves.
    constexpr std::size_t least_per_thread = 256;
    const std::size_t workers =
        std::max<std::size_t>(1, std::min<std::size_t>(threads, raw.size() / least_per_thread));
    const std::size_t share = (raw.size() + workers - 1) / workers;
    auto check_share = [&](std::size_t from) {
        for (std::size_t i = from; i < std::min(raw.size(), from + share); ++i)
            out[i] = check_one(raw[i]);
    };
    std::vector<std::thread> helpers;
    for (std::size_t w = 1; w < workers; ++w)
        helpers.emplace_back(check_share, w * share);
    check_share(0);
    for (auto& t : helpers)
        t.join();
    return out;
}

status registry_replay::apply(std::uint64_t index, const checked_entry& checked) {
    if (!checked.decoded) {
        found_.at_entry(index, checked.identity, checked.problem);
        return {};
    }
    const auto& e = *checked.decoded;
    CIVIC_TRY_ASSIGN(record, state_.identity(e.identity));
    auto admitted = actors::admit(record, e, index);
    if (!admitted) {
        found_.at_entry(index, e.identity,
                        std::string(to_string(e.kind)) + ": " +
                            actors::message_of(admitted.error()) + key_history(record, e));
        return {};
    }
    if (*admitted) CIVIC_TRY(state_.put_identity(**admitted));
    return {};
}

} // namespace civic::node::audit
