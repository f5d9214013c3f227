#include "storage/records.hpp"

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <sstream>

namespace civic::storage {

const identity_key* identity_record::key_at(std::uint64_t index) const {
    for (const auto& k : keys)
        if (k.valid_from <= index && (!k.valid_until || index < *k.valid_until)) return &k;
    return nullptr;
}

const identity_key* identity_record::current() const {
    return keys.empty() || keys.back().valid_until ? nullptr : &keys.back();
}

template <class Archive>
void serialize(Archive& ar, identity_key& k) {
    ar(k.key, k.valid_from, k.valid_until, k.revoked);
}
template <class Archive>
void serialize(Archive& ar, identity_record& r) {
    ar(r.name, r.keys);
}
template <class Archive>
void serialize(Archive& ar, token_record& r) {
    ar(r.label, r.admin, r.identities);
}
template <class Archive>
void serialize(Archive& ar, tree_record& r) {
    ar(r.size, r.range);
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

} // namespace civic::storage
