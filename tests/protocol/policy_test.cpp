#include "protocol/policy.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace civic;

namespace {
std::string wvkey(const std::string& name) {
    return note::format_vkey(test::witness(name).verifier_key());
}
std::string lvkey(const std::string& origin) {
    return note::format_vkey(test::log_signer(origin).verifier_key());
}

// The spec's two-level example, with real keys.
std::string spec_policy() {
    return "# the example from tlog-policy\nlog " + lvkey("example.org/log") +
           " https://log.example.org/\n\n" + "witness X1 " + wvkey("x1") + "\nwitness X2 " +
           wvkey("x2") + "\n\twitness   X3 " + wvkey("x3") +
           "  \ngroup X-witnesses 2 X1 X2 X3\n\n" + "witness Y1 " + wvkey("y1") + "\nwitness Y2 " +
           wvkey("y2") + "\nwitness Y3 " + wvkey("y3") + "\ngroup Y-witnesses any Y1 Y2 Y3\n\n" +
           "group X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n";
}
} // namespace

TEST_CASE("the spec's example policy parses and its quorum is evaluated", "[policy]") {
    auto p = parse_policy(spec_policy());
    REQUIRE(p.ok());
    CHECK(p->logs.size() == 1);
    CHECK(p->logs[0].url == "https://log.example.org/");
    CHECK(p->witnesses.size() == 6);
    CHECK(p->groups.size() == 3);
    REQUIRE(p->quorum == policy::quorum_kind::group);
    // Witness order: X1 X2 X3 Y1 Y2 Y3. Two of X and one of Y are needed.
    auto met = [&](std::vector<bool> v) { return p->quorum_met(v); };
    CHECK(met({true, true, false, true, false, false}));
    CHECK(met({false, true, true, false, false, true}));
    CHECK_FALSE(met({true, false, false, true, true, true}));
    CHECK_FALSE(met({true, true, true, false, false, false}));
    CHECK_FALSE(met({false, false, false, false, false, false}));
    CHECK(met({true, true, true, true, true, true}));
}

TEST_CASE("quorum none and single-witness quorum", "[policy]") {
    auto none = parse_policy("log " + lvkey("l") + "\nquorum none\n");
    REQUIRE(none.ok());
    CHECK(none->quorum_met({}));
    auto single =
        parse_policy("witness A " + wvkey("a") + "\nwitness B " + wvkey("b") + "\nquorum B");
    REQUIRE(single.ok());
    CHECK(single->quorum_met({false, true}));
    CHECK_FALSE(single->quorum_met({true, false}));
}

TEST_CASE("policy errors name the line and the problem", "[policy]") {
    const std::string a = "witness A " + wvkey("a") + "\n", b = "witness B " + wvkey("b") + "\n";
    const std::pair<std::string, const char*> bad[] = {
        {a, "no quorum line"},
        {a + "quorum A\nquorum A\n", "more than one quorum"},
        {"quorum A\n" + a, "not defined above"},
        {a + "group G 1 A C\nquorum G\n", "not defined above"},
        {a + b + "group G 3 A B\nquorum G\n", "threshold"},
        {a + b + "group G 0 A B\nquorum G\n", "threshold"},
        {a + b + "group G 01 A B\nquorum G\n", "threshold"},
        {a + "group G any A A\nquorum G\n", "listed twice"},
        {a + "group G any\nquorum G\n", "expected: group"},
        {a + "group A any A\nquorum A\n", "already defined"},
        {a + "witness A " + wvkey("c") + "\nquorum A\n", "already defined"},
        {a + "witness C " + wvkey("a") + "\nquorum A\n", "duplicate witness key"},
        {"witness none " + wvkey("a") + "\nquorum none\n", "reserved"},
        {a + "group G any none\nquorum G\n", "not defined above"},
        {"witness A " + lvkey("a") + "\nquorum A\n", "signature type"},
        {"log " + wvkey("a") + "\nquorum none\n", "signature type"},
        {"log " + lvkey("l") + "\nlog " + lvkey("l") + "\nquorum none\n", "duplicate log key"},
        {"log not-a-key\nquorum none\n", "log key"},
        {"witness A\nquorum none\n", "expected: witness"},
        {"frobnicate x\nquorum none\n", "unknown keyword"},
        {"quorum none\n\x01\n", "control character"},
        {"quorum none extra\n", "expected: quorum"},
    };
    for (const auto& [text, why] : bad) {
        INFO(text);
        auto p = parse_policy(text);
        REQUIRE_FALSE(p.ok());
        CHECK(p.message().find(why) != std::string::npos);
        CHECK(p.message().rfind("policy", 0) == 0);
    }
    auto err = parse_policy("quorum none\nfrobnicate\n");
    CHECK(err.message().find("line 2") != std::string::npos);
}

TEST_CASE("policy verifier checks log signature, cosignatures and quorum", "[policy]") {
    auto log = test::log_signer("example.org/log");
    auto w1 = test::witness("w1"), w2 = test::witness("w2"), w3 = test::witness("w3");
    auto text = "log " + note::format_vkey(log.verifier_key()) + "\nwitness W1 " +
                note::format_vkey(w1.verifier_key()) + "\nwitness W2 " +
                note::format_vkey(w2.verifier_key()) + "\nwitness W3 " +
                note::format_vkey(w3.verifier_key()) + "\ngroup G 2 W1 W2 W3\nquorum G\n";
    auto p = parse_policy(text);
    REQUIRE(p.ok());
    auto verifier = policy_verifier::make(*p);
    REQUIRE(verifier.ok());

    checkpoint cp{"example.org/log", 5, merkle::empty_root(), {}};
    auto body = cp.text();
    auto stranger = test::witness("stranger");
    auto make = [&](std::vector<note::signature> sigs) {
        return note::serialize(note::note{body, sigs});
    };

    auto two = verifier->verify(
        make({log.sign(body), w1.cosign(body, 1), w3.cosign(body, 2), stranger.cosign(body, 3)}));
    REQUIRE(two.ok());
    CHECK(two->quorum);
    CHECK(two->witnesses == std::vector<std::string>{"W1", "W3"});

    auto one = verifier->verify(make({log.sign(body), w2.cosign(body, 1)}));
    REQUIRE(one.ok());
    CHECK_FALSE(one->quorum);

    // Cosignatures without the log's signature are not enough.
    CHECK_FALSE(verifier->verify(make({w1.cosign(body, 1), w2.cosign(body, 1)})).ok());
    // A bad cosignature from a known witness rejects the checkpoint.
    auto bad = w2.cosign(body, 1);
    bad.data[20] ^= 1;
    CHECK_FALSE(verifier->verify(make({log.sign(body), w1.cosign(body, 1), bad})).ok());
    // A checkpoint from another origin is not vouched for by this policy's log.
    checkpoint other{"other.org/log", 5, merkle::empty_root(), {}};
    auto other_log = test::log_signer("other.org/log");
    CHECK_FALSE(
        verifier->verify(note::serialize(note::note{other.text(), {other_log.sign(other.text())}}))
            .ok());
}
