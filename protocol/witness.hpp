// C2SP tlog-witness v1.0.0: the add-checkpoint request and the witness's
// decision, as pure functions. The witness actor (actors/witness.hpp) owns the
// state and makes check-and-update atomic; the HTTP route and the CAF message
// both end up in `check_add_checkpoint`.
#pragma once

#include "protocol/checkpoint.hpp"
#include "protocol/note.hpp"
#include "protocol/sha256.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace civic::witness {

/// The spec allows at most 63 consistency proof lines.
constexpr std::size_t max_proof_lines = 63;
/// Largest add-checkpoint body we read: a note of the largest size we parse,
/// the old size line, a full proof and the blank line.
constexpr std::size_t max_request_size = note::max_note_size + 32 + max_proof_lines * 46;

struct add_checkpoint_request {
    std::uint64_t old_size = 0;
    std::vector<hash> proof;
    std::string checkpoint; // the signed note, as sent
};

/// Parses an add-checkpoint body: "old N\n", proof lines, "\n", the signed
/// checkpoint. Every line rule of the spec is enforced (no leading zeroes, at
/// most 63 proof lines, each a base64 32-byte hash, newline-terminated).
result<add_checkpoint_request> parse_add_checkpoint(std::string_view body);
/// The request's wire form.
std::string serialize(const add_checkpoint_request& request);
/// A proof carried as its hashes' bytes back to back (a cosign_request's):
/// the hashes, or why not (not whole hashes, or more than max_proof_lines).
result<std::vector<hash>> proof_from_bytes(byte_view concatenated);
/// A consistency proof as the body's proof lines: one base64 hash a line.
std::string proof_lines(const std::vector<hash>& proof);

/// What a witness keeps per origin: the latest checkpoint it cosigned.
struct cosigned_state {
    std::uint64_t size = 0;
    hash root{};
    std::string checkpoint; // the signed note it cosigned (the log's signature at least)
};

/// One log a witness trusts: the keys that may sign its checkpoints, and how
/// many add-checkpoint requests it may make a day (0: no limit, for the
/// witness's own network's log).
struct trusted_log {
    std::string origin;
    std::vector<std::unique_ptr<note::verifier>> keys;
    std::uint32_t qpd = 0;
};

/// The logs a witness trusts, by origin.
class trusted_logs {
public:
    /// Adds a log by its verifier key (note format; the key name is the origin).
    status add(std::string_view vkey_text);
    /// Adds a key for `origin` (another key of a known origin joins it; its
    /// qpd is the lower nonzero one).
    status add(const note::vkey& key, const std::string& origin, std::uint32_t qpd);
    /// The log of an origin, or nullptr when it is unknown.
    const trusted_log* find(const std::string& origin) const;
    std::vector<std::string> origins() const;
    std::size_t size() const { return logs_.size(); }

private:
    std::map<std::string, trusted_log> logs_;
};

/// The outcomes the spec names, with their HTTP status codes.
enum class outcome : std::uint16_t {
    cosign = 200,
    bad_request = 400,    // malformed, or old size above the checkpoint's
    forbidden = 403,      // no signature from a trusted key verifies
    unknown_origin = 404, // no trusted log for this origin
    conflict = 409,       // old size is not the latest cosigned size, or same size, other root
    inconsistent = 422,   // the consistency proof does not verify
};

/// A witness's decision on one request against its latest state for the origin.
struct verdict {
    outcome result = outcome::bad_request;
    std::string message;            // why, for anything but cosign
    std::uint64_t latest_size = 0;  // the size a 409 reports
    bool size_mismatch = false;     // a 409 about the old size (body: the size)
    std::optional<checkpoint> body; // the parsed checkpoint, once it parsed
    /// The log signed another root at the size this witness cosigned: two
    /// log-signed checkpoints that prove a fork to anyone. Keep it as evidence
    /// (and stop cosigning the log). A consistency proof that fails is not
    /// evidence: the requester, not the log, supplied it, and anyone can replay a
    /// genuine checkpoint with a wrong proof.
    bool evidence = false;
    /// A trusted key of the log signed the checkpoint (what a per-log request
    /// limit counts: a forgery must not spend a log's allowance).
    bool signed_by_log = false;
    /// The log's signatures that verified (what the monitoring endpoint
    /// serves beside the witness's cosignature).
    std::vector<note::signature> log_signatures;
};

/// Checks a request exactly as tlog-witness prescribes, in its order: the
/// checkpoint parses (400), its origin is trusted (404), a trusted key signed it
/// (403), old size <= size (400), old size is the latest cosigned size (409),
/// the consistency proof verifies (422), an equal size has an equal root (409).
verdict check_add_checkpoint(const add_checkpoint_request& request, const trusted_logs& logs,
                             const std::optional<cosigned_state>& latest);

/// How many add-checkpoint requests a log with a qpd may make at once: an
/// hour's share, at least 2 (a request and its retry after a 409), at most 60,
/// never more than its qpd. Over any day a log gets at most qpd + this.
std::uint32_t request_burst(std::uint32_t qpd);

/// A log's allowance of add-checkpoint requests: a token bucket filled at qpd
/// a day, holding at most request_burst(qpd). Time is the caller's, in seconds
/// (the witness actor's clock; the simulator's virtual time).
class request_allowance {
public:
    /// Takes one request at `now_seconds`; 0 when it is allowed, else how many
    /// seconds until one is (what Retry-After says). A qpd of 0 is no limit.
    std::uint32_t spend(std::uint32_t qpd, double now_seconds);

private:
    bool started_ = false;
    double tokens_ = 0;
    double filled_ = 0;
};

/// The 200 body: the cosignature's signature line.
std::string cosignature_response(const note::cosigner& witness, std::string_view checkpoint_text,
                                 std::uint64_t timestamp);

} // namespace civic::witness
