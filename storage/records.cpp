#include "storage/records.hpp"

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/optional.hpp>

#include <sstream>
#include <stdexcept>

namespace civic::storage {

const identity_key* identity_record::key_at(std::uint64_t index) const {
    for (const auto& k : keys)
        if (k.valid_from <= index && (!k.valid_until || index < *k.valid_until)) return &k;
    return nullptr;
}

const identity_key* identity_record::current() const {
    return keys.empty() || keys.back().valid_until ? nullptr : &keys.back();
}

// Strings and vectors use cereal's own encoding (a size tag, then the elements),
// but every size is checked against a limit before anything is allocated: a
// corrupt record must not make the store allocate what its length field claims.
namespace {

// Strings hold names and, for witnesses, signed notes (at most 256 KiB each).
constexpr std::size_t max_record_string = std::size_t{512} << 10;
constexpr std::size_t max_record_items = 4096;

template <class Archive>
void save_string(Archive& ar, const std::string& s) {
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(s.size())));
    ar(cereal::binary_data(s.data(), s.size()));
}

template <class Archive>
void load_string(Archive& ar, std::string& s) {
    cereal::size_type n = 0;
    ar(cereal::make_size_tag(n));
    if (n > max_record_string)
        throw std::length_error("string length " + std::to_string(n) + " over the limit");
    s.resize(static_cast<std::size_t>(n));
    ar(cereal::binary_data(s.data(), s.size()));
}

template <class Archive, class T, class Save>
void save_items(Archive& ar, const std::vector<T>& v, Save save) {
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(v.size())));
    for (const auto& x : v)
        save(ar, x);
}

template <class Archive, class T, class Load>
void load_items(Archive& ar, std::vector<T>& v, Load load) {
    cereal::size_type n = 0;
    ar(cereal::make_size_tag(n));
    if (n > max_record_items)
        throw std::length_error("item count " + std::to_string(n) + " over the limit");
    v.resize(static_cast<std::size_t>(n));
    for (auto& x : v)
        load(ar, x);
}

template <class Archive>
void save_hash(Archive& ar, const hash& h) {
    ar(cereal::binary_data(h.data(), h.size()));
}
template <class Archive>
void load_hash(Archive& ar, hash& h) {
    ar(cereal::binary_data(h.data(), h.size()));
}

} // namespace

template <class Archive>
void save(Archive& ar, const identity_key& k) {
    save_hash(ar, k.key);
    ar(k.valid_from, k.valid_until, k.revoked);
}
template <class Archive>
void load(Archive& ar, identity_key& k) {
    load_hash(ar, k.key);
    ar(k.valid_from, k.valid_until, k.revoked);
}
template <class Archive>
void save(Archive& ar, const identity_record& r) {
    save_string(ar, r.name);
    save_items(ar, r.keys, [](Archive& a, const identity_key& k) { save(a, k); });
    ar(r.owner_held);
}
template <class Archive>
void load(Archive& ar, identity_record& r) {
    load_string(ar, r.name);
    load_items(ar, r.keys, [](Archive& a, identity_key& k) { load(a, k); });
}

/// Fields added after a record's first release, read only when present: a
/// store written before them opens unchanged.
template <class Archive>
void load_later_fields(Archive& ar, std::istream& in, identity_record& r) {
    if (in.peek() != std::char_traits<char>::eof()) ar(r.owner_held);
}
template <class Archive>
void load_later_fields(Archive& ar, std::istream& in, cosigned_record& r) {
    if (in.peek() != std::char_traits<char>::eof()) load_string(ar, r.cosigned_note);
}
template <class Archive, class T>
void load_later_fields(Archive&, std::istream&, T&) {}
template <class Archive>
void save(Archive& ar, const token_record& r) {
    save_string(ar, r.label);
    ar(r.admin);
    save_items(ar, r.identities, [](Archive& a, const std::string& s) { save_string(a, s); });
}
template <class Archive>
void load(Archive& ar, token_record& r) {
    load_string(ar, r.label);
    ar(r.admin);
    load_items(ar, r.identities, [](Archive& a, std::string& s) { load_string(a, s); });
}
template <class Archive>
void save(Archive& ar, const tree_record& r) {
    ar(r.size);
    save_items(ar, r.range, [](Archive& a, const hash& h) { save_hash(a, h); });
}
template <class Archive>
void load(Archive& ar, tree_record& r) {
    ar(r.size);
    load_items(ar, r.range, [](Archive& a, hash& h) { load_hash(a, h); });
}

template <class Archive>
void save(Archive& ar, const cosigned_record& r) {
    ar(r.size);
    save_hash(ar, r.root);
    save_string(ar, r.checkpoint);
    save_string(ar, r.halted);
    save_string(ar, r.cosigned_note);
}
template <class Archive>
void load(Archive& ar, cosigned_record& r) {
    ar(r.size);
    load_hash(ar, r.root);
    load_string(ar, r.checkpoint);
    load_string(ar, r.halted);
}
template <class Archive>
void save(Archive& ar, const evidence_record& r) {
    ar(r.observed_unix);
    for (const auto* s :
         {&r.origin, &r.kind, &r.ours, &r.theirs, &r.proof, &r.source, &r.root_at_smaller})
        save_string(ar, *s);
}
template <class Archive>
void load(Archive& ar, evidence_record& r) {
    ar(r.observed_unix);
    for (auto* s :
         {&r.origin, &r.kind, &r.ours, &r.theirs, &r.proof, &r.source, &r.root_at_smaller})
        load_string(ar, *s);
}

namespace {

constexpr std::uint8_t record_version = 1;

template <class T>
bytes encode_record(const T& value) {
    std::ostringstream out;
    {
        cereal::PortableBinaryOutputArchive ar(out);
        ar(record_version, value);
    }
    auto s = out.str();
    return bytes(s.begin(), s.end());
}

template <class T>
result<T> decode_record(byte_view data, const char* what) {
    // cereal reports truncated or garbled input by throwing; the store never lets that escape.
    try {
        std::istringstream in(std::string(data.as_string()));
        cereal::PortableBinaryInputArchive ar(in);
        std::uint8_t version = 0;
        T value;
        ar(version);
        if (version != record_version)
            return make_error(std::string(what) + " record: unknown version " +
                              std::to_string(version));
        ar(value);
        load_later_fields(ar, in, value);
        if (in.peek() != std::char_traits<char>::eof())
            return make_error(std::string(what) + " record: trailing bytes");
        return value;
    } catch (const std::exception& e) {
        return make_error(std::string(what) + " record is corrupt: " + e.what());
    }
}

} // namespace

bytes encode(const identity_record& r) { return encode_record(r); }
bytes encode(const token_record& r) { return encode_record(r); }
bytes encode(const tree_record& r) { return encode_record(r); }
result<identity_record> decode_identity(byte_view d) {
    return decode_record<identity_record>(d, "identity");
}
result<token_record> decode_token(byte_view d) { return decode_record<token_record>(d, "token"); }
result<tree_record> decode_tree(byte_view d) { return decode_record<tree_record>(d, "tree"); }
bytes encode(const cosigned_record& r) { return encode_record(r); }
bytes encode(const evidence_record& r) { return encode_record(r); }
result<cosigned_record> decode_cosigned(byte_view d) {
    return decode_record<cosigned_record>(d, "cosigned checkpoint");
}
result<evidence_record> decode_evidence(byte_view d) {
    return decode_record<evidence_record>(d, "evidence");
}

} // namespace civic::storage
