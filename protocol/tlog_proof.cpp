#include "protocol/tlog_proof.hpp"

namespace civic {

std::string tlog_proof::serialize() const {
    std::string out(tlog_proof_header);
    out += '\n';
    if (extra) {
        out += "extra ";
        out += base64_encode(*extra);
        out += '\n';
    }
    out += "index ";
    out += std::to_string(index);
    out += '\n';
    for (const auto& h : inclusion) {
        out += base64_encode(h);
        out += '\n';
    }
    out += '\n';
    out += checkpoint;
    return out;
}

namespace {

// Takes the next line (without its newline); fails if there is no newline.
result<std::string_view> next_line(std::string_view& rest) {
    auto nl = rest.find('\n');
    if (nl == std::string_view::npos) return make_error("tlog-proof: truncated (missing newline)");
    auto line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    return line;
}

} // namespace

result<tlog_proof> parse_tlog_proof(std::string_view input) {
    constexpr std::size_t max_size = note::max_note_size + max_tlog_proof_extra * 2 + 4096;
    if (input.size() > max_size) return make_error("tlog-proof: file too large");
    tlog_proof proof;
    std::string_view rest = input;
    CIVIC_TRY_ASSIGN(header, next_line(rest));
    if (header != tlog_proof_header)
        return make_error("tlog-proof: first line must be c2sp.org/tlog-proof@v1");
    CIVIC_TRY_ASSIGN(line, next_line(rest));
    if (line.substr(0, 6) == "extra ") {
        auto text = line.substr(6);
        if (text.size() > (max_tlog_proof_extra + 2) / 3 * 4)
            return make_error("tlog-proof: extra data too large");
        auto extra = base64_decode(text);
        if (!extra) return make_error("tlog-proof: extra: " + extra.message());
        proof.extra = std::move(*extra);
        auto next = next_line(rest);
        if (!next) return next.err();
        line = *next;
    }
    if (line.substr(0, 6) != "index ") return make_error("tlog-proof: expected an index line");
    auto index = parse_decimal(line.substr(6));
    if (!index) return make_error("tlog-proof: index: " + index.message());
    proof.index = *index;
    while (true) {
        CIVIC_TRY_ASSIGN(hash_line, next_line(rest));
        if (hash_line.empty()) break;
        if (proof.inclusion.size() == merkle::max_proof_hashes - 1)
            return make_error("tlog-proof: too many inclusion proof hashes");
        auto h = base64_decode_fixed<32>(hash_line);
        if (!h)
            return make_error("tlog-proof: proof hash " +
                              std::to_string(proof.inclusion.size() + 1) + ": " + h.message());
        proof.inclusion.push_back(*h);
    }
    auto cp = parse_signed_checkpoint(rest);
    if (!cp) return make_error("tlog-proof: " + cp.message());
    proof.checkpoint = std::string(rest);
    return proof;
}

} // namespace civic
