#include "protocol/entry.hpp"

#include "protocol/note.hpp"

#include <algorithm>

namespace civic {

const char* to_string(entry_kind kind) {
    switch (kind) {
    case entry_kind::statement:
        return "statement";
    case entry_kind::identity_registration:
        return "identity-registration";
    case entry_kind::key_rotation:
        return "key-rotation";
    case entry_kind::key_revocation:
        return "key-revocation";
    }
    return "unknown";
}

namespace {

void encode_unsigned(const entry& e, bytes& out) {
    out.reserve(entry_fixed_size + e.identity.size() + e.payload.size());
    out.push_back(entry_version);
    out.push_back(static_cast<std::uint8_t>(e.kind));
    put_u64_be(out, e.timestamp_ms);
    out.push_back(static_cast<std::uint8_t>(e.identity.size()));
    out.insert(out.end(), e.identity.begin(), e.identity.end());
    out.insert(out.end(), e.public_key.begin(), e.public_key.end());
    out.insert(out.end(), e.content_hash.begin(), e.content_hash.end());
    put_u16_be(out, static_cast<std::uint16_t>(e.payload.size()));
    out.insert(out.end(), e.payload.begin(), e.payload.end());
}

bool all_zero(const hash& h) {
    return std::all_of(h.begin(), h.end(), [](std::uint8_t b) { return b == 0; });
}

} // namespace

bytes entry::encode() const {
    bytes out;
    encode_unsigned(*this, out);
    out.insert(out.end(), signature.begin(), signature.end());
    return out;
}

bytes entry::signed_message() const {
    bytes out(entry_signature_context.begin(), entry_signature_context.end());
    encode_unsigned(*this, out);
    return out;
}

void entry::sign(const ed25519::secret_key& key) { signature = key.sign(signed_message()); }

bool entry::signature_valid() const {
    return ed25519::verify(public_key, signed_message(), signature);
}

std::uint32_t entry::key_id() const {
    return note::key_id(identity, note::type_ed25519, public_key);
}

ed25519::public_key entry::payload_key() const {
    ed25519::public_key k{};
    if (payload.size() == k.size()) std::copy(payload.begin(), payload.end(), k.begin());
    return k;
}

status check_identity_name(std::string_view name) {
    if (name.empty() || name.size() > max_identity_length)
        return make_error("identity name must be 1.." + std::to_string(max_identity_length) +
                          " bytes");
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(name[0]))
        return make_error("identity name must start with a lowercase letter or digit");
    for (char c : name)
        if (!alnum(c) && c != '.' && c != '_' && c != '/' && c != '-')
            return make_error("identity name may only contain a-z, 0-9, '.', '_', '/', '-'");
    return {};
}

status check_entry(const entry& e) {
    CIVIC_TRY(check_identity_name(e.identity));
    if (e.payload.size() > max_entry_payload)
        return make_error("entry payload is larger than 1024 bytes");
    switch (e.kind) {
    case entry_kind::statement:
        return {};
    case entry_kind::identity_registration:
        if (!all_zero(e.content_hash))
            return make_error("identity registration carries no content hash");
        if (!e.payload.empty() && e.payload_text() != owner_held_marker)
            return make_error("identity registration payload must be empty or \"" +
                              std::string(owner_held_marker) + "\"");
        return {};
    case entry_kind::key_rotation:
    case entry_kind::key_revocation:
        if (!all_zero(e.content_hash))
            return make_error("key rotation/revocation carries no content hash");
        if (e.payload.size() != ed25519::public_key_size)
            return make_error("key rotation/revocation payload must be a 32-byte public key");
        return {};
    }
    return make_error("unknown entry kind " + std::to_string(static_cast<int>(e.kind)));
}

std::optional<std::string_view> encoded_entry_identity(byte_view data) {
    if (data.size() < 11 || data.size() < std::size_t{11} + data[10]) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(data.data()) + 11, data[10]);
}

result<entry> decode_entry(byte_view data) {
    if (data.size() < entry_fixed_size + 1) return make_error("entry: too short");
    if (data.size() > max_entry_size) return make_error("entry: too long");
    const std::uint8_t* p = data.data();
    const std::uint8_t* end = data.end();
    if (p[0] != entry_version)
        return make_error("entry: unsupported version " + std::to_string(p[0]));
    if (p[1] < 1 || p[1] > 4) return make_error("entry: unknown kind " + std::to_string(p[1]));
    entry e;
    e.kind = static_cast<entry_kind>(p[1]);
    e.timestamp_ms = get_u64_be(p + 2);
    std::size_t id_len = p[10];
    p += 11;
    // The rest is: identity, 32, 32, 2, payload, 64.
    if (static_cast<std::size_t>(end - p) < id_len + 32 + 32 + 2 + 64)
        return make_error("entry: truncated");
    e.identity.assign(reinterpret_cast<const char*>(p), id_len);
    p += id_len;
    std::copy(p, p + 32, e.public_key.begin());
    p += 32;
    std::copy(p, p + 32, e.content_hash.begin());
    p += 32;
    std::size_t payload_len = get_u16_be(p);
    p += 2;
    if (static_cast<std::size_t>(end - p) != payload_len + 64)
        return make_error("entry: payload length does not match the entry size");
    e.payload.assign(p, p + payload_len);
    p += payload_len;
    std::copy(p, p + 64, e.signature.begin());
    if (auto ok = check_entry(e); !ok) return with_context("entry", ok.err());
    return e;
}

} // namespace civic
