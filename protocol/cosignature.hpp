// C2SP tlog-cosignature v1.0.1: the cosignature/v1 signed message and the
// 72-byte timestamped_signature structure.
#pragma once

#include "protocol/ed25519.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace civic::cosignature {

constexpr std::size_t timestamped_signature_size = 8 + ed25519::signature_size;
constexpr std::uint64_t max_timestamp = (std::uint64_t{1} << 63) - 1;

/// "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint note text.
std::string signed_message(std::string_view checkpoint_text, std::uint64_t timestamp);

struct timestamped_signature {
    std::uint64_t timestamp = 0;
    ed25519::signature signature{};
};

bytes encode(const timestamped_signature& ts);
/// Exactly 72 bytes, timestamp at most 2^63 - 1.
result<timestamped_signature> decode(byte_view data);

} // namespace civic::cosignature
