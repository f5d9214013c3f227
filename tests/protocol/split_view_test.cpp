// Split-view evidence checks offline: a fork, an inconsistent prefix with the
// proof that shows it, and everything that only looks like evidence.
#include "protocol/merkle.hpp"
#include "protocol/split_view.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace civic;

namespace {

const std::string origin = "split.test/log";

std::string signed_cp(const note::ed25519_signer& log, std::uint64_t size, const hash& root) {
    checkpoint cp{origin, size, root, {}};
    return note::serialize({cp.text(), {log.sign(cp.text())}});
}

} // namespace

TEST_CASE("split-view evidence: forks and inconsistent prefixes verify, look-alikes do not",
          "[split_view]") {
    auto log = test::log_signer(origin);
    auto verifier = note::ed25519_verifier(origin, test::public_key_of(log.verifier_key()));
    auto leaves = test::make_leaves(20);
    auto other = test::make_leaves(21);
    other[3] = sha256(byte_view(std::string("another entry 3")));
    auto root = [](const std::vector<hash>& l, std::size_t n) {
        return test::reference_root(l, 0, n);
    };

    // One size, two roots.
    split_view_evidence fork{signed_cp(log, 10, root(leaves, 10)),
                             signed_cp(log, 10, root(other, 10)),
                             std::nullopt,
                             {}};
    auto kind = check_split_view(fork, verifier);
    REQUIRE(kind);
    CHECK(*kind == split_view_kind::fork);

    // A tree of 20 whose prefix at 8 is not the signed checkpoint of size 8.
    std::vector<hash> proof;
    test::reference_subproof(leaves, 8, 0, 20, true, proof);
    split_view_evidence prefix{signed_cp(log, 20, root(leaves, 20)),
                               signed_cp(log, 8, root(other, 8)), root(leaves, 8), proof};
    kind = check_split_view(prefix, verifier);
    REQUIRE(kind);
    CHECK(*kind == split_view_kind::inconsistent);

    // Look-alikes: the same checkpoint twice; a consistent pair; a proof that
    // does not reach the larger root; a root that is the smaller checkpoint's;
    // a checkpoint the log did not sign; two origins.
    CHECK_FALSE(check_split_view({fork.ours, fork.ours, std::nullopt, {}}, verifier));
    split_view_evidence consistent{signed_cp(log, 20, root(leaves, 20)),
                                   signed_cp(log, 8, root(leaves, 8)), root(leaves, 8), proof};
    CHECK_FALSE(check_split_view(consistent, verifier));
    auto bad_proof = prefix;
    bad_proof.proof[0][0] ^= 1;
    CHECK_FALSE(check_split_view(bad_proof, verifier));
    auto claimed = prefix;
    claimed.root_at_smaller = root(other, 8);
    CHECK_FALSE(check_split_view(claimed, verifier));
    auto stranger = note::ed25519_signer(origin, test::key_for("not the log"));
    CHECK_FALSE(check_split_view(
        {fork.ours, signed_cp(stranger, 10, root(other, 10)), std::nullopt, {}}, verifier));
    auto elsewhere = note::ed25519_signer("elsewhere.test/log", test::key_for("log:" + origin));
    checkpoint cp{"elsewhere.test/log", 10, root(other, 10), {}};
    CHECK_FALSE(check_split_view(
        {fork.ours, note::serialize({cp.text(), {elsewhere.sign(cp.text())}}), std::nullopt, {}},
        verifier));
    auto no_root = prefix;
    no_root.root_at_smaller.reset();
    CHECK_FALSE(check_split_view(no_root, verifier));
}
