// Byte buffers, views, fixed-width big-endian integers and hex. Pure, header-only.
#pragma once

#include "protocol/result.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace civic {

using bytes = std::vector<std::uint8_t>;

/// A non-owning view of contiguous bytes (C++17 has no std::span).
class byte_view {
public:
    constexpr byte_view() = default;
    constexpr byte_view(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    byte_view(const bytes& b) : data_(b.data()), size_(b.size()) {}
    template <std::size_t N>
    constexpr byte_view(const std::array<std::uint8_t, N>& a) : data_(a.data()), size_(N) {}
    byte_view(std::string_view s)
        : data_(reinterpret_cast<const std::uint8_t*>(s.data())), size_(s.size()) {}

    constexpr const std::uint8_t* data() const { return data_; }
    constexpr std::size_t size() const { return size_; }
    constexpr bool empty() const { return size_ == 0; }
    constexpr const std::uint8_t* begin() const { return data_; }
    constexpr const std::uint8_t* end() const { return data_ + size_; }
    constexpr std::uint8_t operator[](std::size_t i) const { return data_[i]; }
    constexpr byte_view subview(std::size_t offset, std::size_t count) const {
        return byte_view(data_ + offset, count);
    }
    std::string_view as_string() const {
        return std::string_view(reinterpret_cast<const char*>(data_), size_);
    }
    bytes to_bytes() const { return bytes(begin(), end()); }

private:
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

inline bool equal(byte_view a, byte_view b) {
    return a.size() == b.size() &&
           (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

inline void put_u16_be(bytes& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}
inline void put_u32_be(bytes& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(v >> shift));
}
inline void put_u64_be(bytes& out, std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(v >> shift));
}
inline std::uint16_t get_u16_be(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t get_u32_be(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}
inline std::uint64_t get_u64_be(const std::uint8_t* p) {
    return (std::uint64_t{get_u32_be(p)} << 32) | get_u32_be(p + 4);
}

/// Lowercase hex of the bytes.
std::string hex_encode(byte_view data);
/// Decodes hex (either case); fails on odd length or a non-hex character.
result<bytes> hex_decode(std::string_view text);

/// Strict RFC 4648 section 4 base64 with padding. Decoding rejects characters
/// outside the alphabet, missing or extra padding, and non-zero trailing bits, so
/// every byte string has exactly one accepted encoding (no signature malleability).
std::string base64_encode(byte_view data);
result<bytes> base64_decode(std::string_view text);
/// Decodes into a fixed-size array; fails unless the decoded length is exactly N.
template <std::size_t N>
result<std::array<std::uint8_t, N>> base64_decode_fixed(std::string_view text) {
    if (text.size() != (N + 2) / 3 * 4)
        return make_error("base64: expected " + std::to_string(N) + " bytes");
    auto decoded = base64_decode(text);
    if (!decoded) return std::move(decoded).err();
    if (decoded->size() != N) return make_error("base64: expected " + std::to_string(N) + " bytes");
    std::array<std::uint8_t, N> out{};
    std::memcpy(out.data(), decoded->data(), N);
    return out;
}

/// Parses an unsigned decimal with no sign, no leading zeros (except "0") and no
/// overflow past `max`.
result<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max = UINT64_MAX);

} // namespace civic
