#include "protocol/cosignature.hpp"

#include <algorithm>

namespace civic::cosignature {

std::string signed_message(std::string_view checkpoint_text, std::uint64_t timestamp) {
    std::string msg = "cosignature/v1\ntime ";
    msg += std::to_string(timestamp);
    msg += '\n';
    msg += checkpoint_text;
    return msg;
}

bytes encode(const timestamped_signature& ts) {
    bytes out;
    out.reserve(timestamped_signature_size);
    put_u64_be(out, ts.timestamp);
    out.insert(out.end(), ts.signature.begin(), ts.signature.end());
    return out;
}

result<timestamped_signature> decode(byte_view data) {
    if (data.size() != timestamped_signature_size)
        return make_error("cosignature: expected 72 bytes, got " + std::to_string(data.size()));
    timestamped_signature ts;
    ts.timestamp = get_u64_be(data.data());
    if (ts.timestamp > max_timestamp) return make_error("cosignature: timestamp exceeds 2^63 - 1");
    std::copy(data.begin() + 8, data.end(), ts.signature.begin());
    return ts;
}

} // namespace civic::cosignature
