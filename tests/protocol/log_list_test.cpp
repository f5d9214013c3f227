// The witness network's log list (logs/v0): the real testing list, each rule
// of the format, and bad items reported with their line while the rest stays.
#include "protocol/log_list.hpp"
#include "protocol/witness.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace civic;

namespace {

std::string ed25519_vkey(const std::string& name) {
    return note::format_vkey(note::ed25519_signer(name, test::key_for(name)).verifier_key());
}

} // namespace

TEST_CASE("the witness network's testing list parses as published", "[log-list]") {
    auto text =
        test::read_file(test::vectors_dir() + "/log-list/witness-network-testing-log-list.1");
    REQUIRE(!text.empty());
    auto list = witness::parse_log_list(text);
    REQUIRE(list);
    CHECK(list->problems.empty());
    REQUIRE(list->logs.size() == 9);
    const auto& first = list->logs.front();
    CHECK(first.origin == "arche2025h1.staging.ct.transparency.dev");
    CHECK(first.qpd == 86400);
    CHECK(first.contact == "google-ct-logs@googlegroups.com");
    CHECK(first.line == 11);
    const auto& sigsum = list->logs[3];
    CHECK(sigsum.origin ==
          "sigsum.org/v1/tree/4e89cc51651f0d95f3c6127c15e1a42e3ddf7046c5b17b752689c402e773bb4d");
    CHECK(sigsum.qpd == 8640);
    CHECK(list->logs[6].origin == "vindex.gopherwatch.org");
    CHECK(list->logs[6].qpd == 288);
    // Each becomes a trusted log with its qpd.
    witness::trusted_logs logs;
    for (const auto& l : list->logs)
        REQUIRE(logs.add(l.key, l.origin, l.qpd));
    CHECK(logs.size() == 9);
    REQUIRE(logs.find("keyserver.geomys.org"));
    CHECK(logs.find("keyserver.geomys.org")->qpd == 1440);
}

TEST_CASE("a log list follows the format's rules", "[log-list]") {
    auto a = ed25519_vkey("a.example/log");
    SECTION("comments, blank lines and whitespace around lines are ignored; origin overrides") {
        auto list = witness::parse_log_list("# a comment\n\n  logs/v0  \n\n# item\n  vkey " + a +
                                            "  \n\torigin  other origin here \nqpd 24\ncontact "
                                            "x (at) y\n");
        REQUIRE(list);
        CHECK(list->problems.empty());
        REQUIRE(list->logs.size() == 1);
        CHECK(list->logs[0].origin == "other origin here");
        CHECK(list->logs[0].qpd == 24);
        CHECK(list->logs[0].line == 6);
    }
    SECTION("an empty list of logs is a list") {
        auto list = witness::parse_log_list("logs/v0\n");
        REQUIRE(list);
        CHECK(list->logs.empty());
    }
    SECTION("without the header it is no list at all") {
        CHECK(!witness::parse_log_list(""));
        CHECK(!witness::parse_log_list("# only a comment\n"));
        auto wrong = witness::parse_log_list("logs/v1\nvkey " + a + "\nqpd 1\ncontact c\n");
        REQUIRE(!wrong);
        CHECK(wrong.message().find("line 1") != std::string::npos);
        CHECK(!witness::parse_log_list(std::string(witness::max_log_list_size + 1, '#')));
    }
    SECTION("qpd is [1, 2^31) in decimal without leading zeroes") {
        for (const char* good : {"1", "86400", "2147483647"}) {
            auto list =
                witness::parse_log_list("logs/v0\nvkey " + a + "\nqpd " + good + "\ncontact c\n");
            REQUIRE(list);
            CHECK(list->logs.size() == 1);
        }
        for (const char* bad : {"0", "01", "2147483648", "-1", "+5", "1e3", "", "99999999999"}) {
            auto list =
                witness::parse_log_list("logs/v0\nvkey " + a + "\nqpd " + bad + "\ncontact c\n");
            REQUIRE(list);
            CHECK(list->logs.empty());
            REQUIRE(list->problems.size() == 1);
            CHECK(list->problems[0].line == 3);
        }
    }
}

TEST_CASE("a bad item is reported with its line and the rest stays in force", "[log-list]") {
    auto a = ed25519_vkey("a.example/log");
    auto b = ed25519_vkey("b.example/log");
    auto c = ed25519_vkey("c.example/log");
    auto text = "logs/v0\n" // 1
                "vkey " +
                a +
                "\nqpd 10\ncontact a\n"               // 2-4
                "qpd 5\n"                             // 5: no vkey
                "vkey not-a-key\nqpd 10\ncontact x\n" // 6-8
                "vkey " +
                b +
                "\ncontact b\nqpd 10\n" // 9-11: wrong order
                "vkey " +
                a.substr(0, 20) +
                "\nqpd 1\ncontact\n" // 12-14: bad key
                "vkey " +
                a +
                "\nqpd 99\ncontact again\n" // 15-17: a again
                "vkey " +
                c +
                "\nqpd 7\ncontact c\n" // 18-20
                "vkey " +
                b + "\nqpd 3\n"; // 21-22: no contact
    auto list = witness::parse_log_list(text);
    REQUIRE(list);
    REQUIRE(list->logs.size() == 2);
    CHECK(list->logs[0].origin == "a.example/log");
    CHECK(list->logs[0].qpd == 10); // the first item of an origin wins
    CHECK(list->logs[1].origin == "c.example/log");
    CHECK(list->logs[1].line == 18);
    std::vector<std::size_t> lines;
    for (const auto& p : list->problems)
        lines.push_back(p.line);
    CHECK(lines == std::vector<std::size_t>{5, 6, 10, 12, 15, 22});
    CHECK(list->problems[4].message.find("line 2") != std::string::npos);
}

TEST_CASE("a log list takes Ed25519 keys only", "[log-list]") {
    auto w = note::cosigner("w.example", test::key_for("w"));
    auto list = witness::parse_log_list("logs/v0\nvkey " + note::format_vkey(w.verifier_key()) +
                                        "\nqpd 1\ncontact c\n");
    REQUIRE(list);
    CHECK(list->logs.empty());
    REQUIRE(list->problems.size() == 1);
    CHECK(list->problems[0].message.find("Ed25519") != std::string::npos);
}
