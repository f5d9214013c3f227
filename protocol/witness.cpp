#include "protocol/witness.hpp"

#include "protocol/merkle.hpp"

#include <algorithm>
#include <cmath>

namespace civic::witness {
namespace {

/// The next "\n"-terminated line of `in` from `pos`, without the newline.
std::optional<std::string_view> next_line(std::string_view in, std::size_t& pos) {
    auto end = in.find('\n', pos);
    if (end == std::string_view::npos) return std::nullopt;
    auto line = in.substr(pos, end - pos);
    pos = end + 1;
    return line;
}

result<std::uint64_t> parse_size(std::string_view text) {
    if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0'))
        return make_error("the old size must be a decimal number without leading zeroes");
    std::uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return make_error("the old size must be a decimal number without leading zeroes");
        auto digit = static_cast<std::uint64_t>(c - '0');
        if (v > (UINT64_MAX - digit) / 10) return make_error("the old size is too large");
        v = v * 10 + digit;
    }
    return v;
}

} // namespace

result<add_checkpoint_request> parse_add_checkpoint(std::string_view body) {
    if (body.size() > max_request_size)
        return make_error("the request is larger than " + std::to_string(max_request_size) +
                          " bytes");
    add_checkpoint_request req;
    std::size_t pos = 0;
    auto first = next_line(body, pos);
    if (!first || first->compare(0, 4, "old ") != 0)
        return make_error("the first line must be 'old <size>'");
    CIVIC_TRY_ASSIGN(old_size, parse_size(first->substr(4)));
    req.old_size = old_size;
    for (;;) {
        auto line = next_line(body, pos);
        if (!line) return make_error("no empty line before the checkpoint");
        if (line->empty()) break;
        if (req.proof.size() == max_proof_lines)
            return make_error("more than " + std::to_string(max_proof_lines) +
                              " consistency proof lines");
        auto h = base64_decode_fixed<32>(*line);
        if (!h)
            return make_error("consistency proof line " + std::to_string(req.proof.size() + 1) +
                              ": not a base64 SHA-256 hash");
        req.proof.push_back(*h);
    }
    req.checkpoint = std::string(body.substr(pos));
    if (req.checkpoint.empty()) return make_error("no checkpoint after the empty line");
    return req;
}

std::string proof_lines(const std::vector<hash>& proof) {
    std::string out;
    for (const auto& h : proof)
        out += base64_encode(h) + "\n";
    return out;
}

std::string serialize(const add_checkpoint_request& request) {
    std::string out = "old " + std::to_string(request.old_size) + "\n";
    out += proof_lines(request.proof);
    out += "\n";
    out += request.checkpoint;
    return out;
}

status trusted_logs::add(std::string_view vkey_text) {
    CIVIC_TRY_ASSIGN(key, note::parse_vkey(vkey_text));
    return add(key, key.name, 0);
}

status trusted_logs::add(const note::vkey& key, const std::string& origin, std::uint32_t qpd) {
    if (key.type != note::type_ed25519)
        return make_error("a log key must be an Ed25519 (type 0x01) verifier key");
    if (origin.empty()) return make_error("a log's origin must not be empty");
    CIVIC_TRY_ASSIGN(v, note::make_verifier(key));
    auto [it, added] = logs_.try_emplace(origin);
    auto& log = it->second;
    if (added) {
        log.origin = origin;
        log.qpd = qpd;
    } else if (qpd != 0 && (log.qpd == 0 || qpd < log.qpd)) {
        log.qpd = qpd;
    }
    log.keys.push_back(std::move(v));
    return {};
}

const trusted_log* trusted_logs::find(const std::string& origin) const {
    auto it = logs_.find(origin);
    return it == logs_.end() ? nullptr : &it->second;
}

std::vector<std::string> trusted_logs::origins() const {
    std::vector<std::string> out;
    out.reserve(logs_.size());
    for (const auto& [origin, log] : logs_)
        out.push_back(origin);
    return out;
}

verdict check_add_checkpoint(const add_checkpoint_request& request, const trusted_logs& logs,
                             const std::optional<cosigned_state>& latest) {
    verdict v;
    auto fail = [&v](outcome o, std::string message) {
        v.result = o;
        v.message = std::move(message);
        return v;
    };
    auto parsed = parse_signed_checkpoint(request.checkpoint);
    if (!parsed) return fail(outcome::bad_request, "checkpoint: " + parsed.message());
    v.body = parsed->body;
    const auto& cp = parsed->body;
    const auto* log = logs.find(cp.origin);
    if (!log) return fail(outcome::unknown_origin, "unknown log origin '" + cp.origin + "'");
    std::vector<const note::verifier*> known;
    for (const auto& k : log->keys)
        known.push_back(k.get());
    auto opened = note::open(parsed->signed_note, known);
    if (!opened)
        return fail(outcome::forbidden, "no valid signature from a trusted key of '" + cp.origin +
                                            "': " + opened.message());
    v.signed_by_log = true;
    for (const auto& sig : opened->content.signatures)
        for (auto k : opened->signed_by)
            if (sig.name == known[k]->name() && sig.key_id == known[k]->key_id()) {
                v.log_signatures.push_back(sig);
                break;
            }
    if (request.old_size > cp.size)
        return fail(outcome::bad_request, "the old size " + std::to_string(request.old_size) +
                                              " is larger than the checkpoint's " +
                                              std::to_string(cp.size));
    std::uint64_t latest_size = latest ? latest->size : 0;
    v.latest_size = latest_size;
    if (request.old_size != latest_size) {
        v.size_mismatch = true;
        return fail(outcome::conflict,
                    "the latest cosigned size is " + std::to_string(latest_size));
    }
    // From here on the log signed a checkpoint we compare with our own record.
    // Only another root at the cosigned size proves, by itself, that the log
    // showed two histories; a failing proof may be the requester's doing.
    if (request.old_size == 0) {
        if (!request.proof.empty())
            return fail(outcome::inconsistent, "a proof from size 0 must be empty");
    } else if (request.old_size == cp.size) {
        if (!request.proof.empty())
            return fail(outcome::inconsistent, "a proof between equal sizes must be empty");
        if (cp.root != latest->root) {
            v.evidence = true;
            return fail(outcome::conflict, "another root at the cosigned size " +
                                               std::to_string(cp.size) + ": the log forked");
        }
    } else if (auto ok = merkle::verify_consistency(request.old_size, cp.size, request.proof,
                                                    latest->root, cp.root);
               !ok) {
        return fail(outcome::inconsistent,
                    "the consistency proof from " + std::to_string(request.old_size) + " to " +
                        std::to_string(cp.size) + " does not verify: " + ok.message());
    }
    v.result = outcome::cosign;
    return v;
}

result<std::vector<hash>> proof_from_bytes(byte_view concatenated) {
    if (concatenated.size() % 32 != 0 || concatenated.size() / 32 > max_proof_lines)
        return make_error("the proof must be at most 63 hashes of 32 bytes");
    std::vector<hash> proof(concatenated.size() / 32);
    for (std::size_t i = 0; i < proof.size(); ++i)
        std::copy_n(concatenated.begin() + static_cast<std::ptrdiff_t>(32 * i), 32,
                    proof[i].begin());
    return proof;
}

std::uint32_t request_burst(std::uint32_t qpd) {
    return std::min(qpd, std::clamp<std::uint32_t>(qpd / 24, 2, 60));
}

std::uint32_t request_allowance::spend(std::uint32_t qpd, double now_seconds) {
    constexpr double seconds_a_day = 86400;
    if (qpd == 0) return 0;
    auto burst = static_cast<double>(request_burst(qpd));
    auto per_second = static_cast<double>(qpd) / seconds_a_day;
    if (!started_) {
        started_ = true;
        tokens_ = burst;
    } else {
        tokens_ = std::min(burst, tokens_ + std::max(0.0, now_seconds - filled_) * per_second);
    }
    filled_ = now_seconds;
    if (tokens_ >= 1) {
        tokens_ -= 1;
        return 0;
    }
    auto wait = std::ceil((1 - tokens_) / per_second);
    return static_cast<std::uint32_t>(std::clamp(wait, 1.0, seconds_a_day));
}

std::string cosignature_response(const note::cosigner& witness, std::string_view checkpoint_text,
                                 std::uint64_t timestamp) {
    return note::signature_line(witness.cosign(checkpoint_text, timestamp));
}

} // namespace civic::witness
