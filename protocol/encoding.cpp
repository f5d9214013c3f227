#include "protocol/bytes.hpp"

namespace civic {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";
constexpr char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_b64_table() {
    std::array<std::int8_t, 256> t{};
    for (auto& v : t)
        v = -1;
    for (int i = 0; i < 64; ++i)
        t[static_cast<unsigned char>(b64_alphabet[i])] = static_cast<std::int8_t>(i);
    return t;
}
constexpr auto b64_table = make_b64_table();

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

} // namespace

std::string hex_encode(byte_view data) {
    std::string out;
    out.resize(data.size() * 2);
    for (std::size_t i = 0; i < data.size(); ++i) {
        out[2 * i] = hex_digits[data[i] >> 4];
        out[2 * i + 1] = hex_digits[data[i] & 0xf];
    }
    return out;
}

result<bytes> hex_decode(std::string_view text) {
    if (text.size() % 2 != 0) return make_error("hex: odd number of digits");
    bytes out(text.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return make_error("hex: invalid digit");
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

std::string base64_encode(byte_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        std::uint32_t v =
            std::uint32_t{data[i]} << 16 | std::uint32_t{data[i + 1]} << 8 | data[i + 2];
        out.push_back(b64_alphabet[v >> 18]);
        out.push_back(b64_alphabet[(v >> 12) & 63]);
        out.push_back(b64_alphabet[(v >> 6) & 63]);
        out.push_back(b64_alphabet[v & 63]);
    }
    std::size_t rest = data.size() - i;
    if (rest == 1) {
        std::uint32_t v = std::uint32_t{data[i]} << 16;
        out.push_back(b64_alphabet[v >> 18]);
        out.push_back(b64_alphabet[(v >> 12) & 63]);
        out.append("==");
    } else if (rest == 2) {
        std::uint32_t v = std::uint32_t{data[i]} << 16 | std::uint32_t{data[i + 1]} << 8;
        out.push_back(b64_alphabet[v >> 18]);
        out.push_back(b64_alphabet[(v >> 12) & 63]);
        out.push_back(b64_alphabet[(v >> 6) & 63]);
        out.push_back('=');
    }
    return out;
}

result<bytes> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return make_error("base64: length is not a multiple of 4");
    bytes out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        bool last = i + 4 == text.size();
        int pad = 0;
        if (last) pad = (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=');
        std::uint32_t v = 0;
        for (int j = 0; j < 4 - pad; ++j) {
            auto d = b64_table[static_cast<unsigned char>(text[i + j])];
            if (d < 0) return make_error("base64: invalid character");
            v |= std::uint32_t(d) << (18 - 6 * j);
        }
        out.push_back(static_cast<std::uint8_t>(v >> 16));
        if (pad == 2) {
            if (v & 0xffff) return make_error("base64: non-zero trailing bits");
            continue;
        }
        out.push_back(static_cast<std::uint8_t>(v >> 8));
        if (pad == 1) {
            if (v & 0xff) return make_error("base64: non-zero trailing bits");
            continue;
        }
        out.push_back(static_cast<std::uint8_t>(v));
    }
    return out;
}

result<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) {
    if (text.empty()) return make_error("empty number");
    if (text.size() > 1 && text[0] == '0') return make_error("number has a leading zero");
    std::uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return make_error("not a decimal number");
        std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
        if (digit > max || v > (max - digit) / 10) return make_error("number out of range");
        v = v * 10 + digit;
    }
    return v;
}

} // namespace civic
