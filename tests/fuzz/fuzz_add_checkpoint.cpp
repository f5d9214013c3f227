// libFuzzer target: a tlog-witness add-checkpoint body, as any client on the
// Internet may send it: parse_add_checkpoint, its wire form again, and
// check_add_checkpoint against a trusted log with and without a cosigned
// state. Whatever is cosigned was signed by the log and extends the state.
// The same bytes also go through proof_from_bytes (a proof from a peer).
#include "protocol/witness.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>

namespace {

// The log of fuzz/corpus/policy (seed 0x11 * 32); its checkpoint of size 13
// is the seed of fuzz/corpus/add_checkpoint.
const civic::witness::trusted_logs& logs() {
    static const civic::witness::trusted_logs trusted = [] {
        std::array<std::uint8_t, 32> seed{};
        seed.fill(0x11);
        auto key =
            civic::ed25519::secret_key::from_seed(civic::byte_view(seed.data(), seed.size()));
        if (!key) CIVIC_FUZZ_FAIL("fixed seed makes no key");
        civic::note::ed25519_signer log("log.civic.example/fuzz", std::move(*key));
        civic::witness::trusted_logs out;
        if (!out.add(log.verifier_key(), "log.civic.example/fuzz", 24))
            CIVIC_FUZZ_FAIL("the fixed log is refused");
        return out;
    }();
    return trusted;
}

void check(const civic::witness::add_checkpoint_request& request,
           const std::optional<civic::witness::cosigned_state>& latest) {
    auto v = civic::witness::check_add_checkpoint(request, logs(), latest);
    if (v.signed_by_log && v.log_signatures.empty())
        CIVIC_FUZZ_FAIL("signed by the log, with no log signature kept");
    if (v.result != civic::witness::outcome::cosign) return;
    if (!v.body || !v.signed_by_log) CIVIC_FUZZ_FAIL("cosigned what the log did not sign");
    if (request.old_size > v.body->size) CIVIC_FUZZ_FAIL("cosigned a smaller tree");
    if (latest) {
        if (request.old_size != latest->size) CIVIC_FUZZ_FAIL("cosigned from another size");
        if (v.body->size < latest->size) CIVIC_FUZZ_FAIL("cosigned a rollback");
        if (v.body->size == latest->size && v.body->root != latest->root)
            CIVIC_FUZZ_FAIL("cosigned a fork");
    } else if (request.old_size != 0) {
        CIVIC_FUZZ_FAIL("cosigned from a size it never saw");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    // The same bytes as a proof carried over CAF (a cosign_request's): whole
    // hashes only, at most 63, and the same bytes back.
    if (auto hashes = civic::witness::proof_from_bytes(civic::byte_view(data, size))) {
        if (size % 32 != 0 || hashes->size() > civic::witness::max_proof_lines)
            CIVIC_FUZZ_FAIL("a proof of partial hashes, or too many, accepted");
        for (std::size_t i = 0; i < hashes->size(); ++i)
            if (!std::equal((*hashes)[i].begin(), (*hashes)[i].end(), data + 32 * i))
                CIVIC_FUZZ_FAIL("a proof's hash is not its bytes");
    } else if (size % 32 == 0 && size / 32 <= civic::witness::max_proof_lines) {
        CIVIC_FUZZ_FAIL("a proof of whole hashes refused");
    }
    auto parsed = civic::witness::parse_add_checkpoint(input);
    if (!parsed) return 0;
    if (parsed->proof.size() > civic::witness::max_proof_lines)
        CIVIC_FUZZ_FAIL("more proof lines than the spec allows");
    auto again = civic::witness::parse_add_checkpoint(civic::witness::serialize(*parsed));
    if (!again || again->old_size != parsed->old_size || again->proof != parsed->proof ||
        again->checkpoint != parsed->checkpoint)
        CIVIC_FUZZ_FAIL("the wire form does not parse back to the request");
    check(*parsed, std::nullopt);
    check(*parsed, civic::witness::cosigned_state{5, civic::hash{}, {}});
    check(*parsed, civic::witness::cosigned_state{13, civic::hash{}, {}});
    return 0;
}
