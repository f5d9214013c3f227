// `civic-attest witness` as a real process: a witness of any logs, from a log
// list (logs/v0), with no topology. It cosigns each listed log within its qpd
// (429 and Retry-After beyond it), serves tlog-witness's monitoring endpoint,
// and reloads its list on SIGHUP, keeping the one in force when the new one is
// no list at all.
#include "process.hpp"
#include "protocol/cosignature.hpp"
#include "protocol/merkle.hpp"
#include "protocol/witness.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <thread>

using namespace civic;
using namespace civic::test;

namespace standalone_witness {

constexpr std::size_t tree_leaves = 64;

/// A log of the list: its key (named `key_name`), its origin and its tree.
struct listed_log {
    std::string origin;
    note::ed25519_signer key;
    std::vector<hash> leaves = make_leaves(tree_leaves);

    listed_log(std::string log_origin, const std::string& key_name)
        : origin(std::move(log_origin)), key(key_name, key_for("log:" + key_name)) {}

    std::string vkey() const { return note::format_vkey(key.verifier_key()); }

    /// The add-checkpoint body from `old_size` to `size`.
    std::string body(std::uint64_t old_size, std::uint64_t size) const {
        checkpoint cp{origin, size, reference_root(leaves, 0, size), {}};
        std::vector<hash> proof;
        if (old_size > 0 && old_size < size)
            reference_subproof(leaves, old_size, 0, size, true, proof);
        return witness::serialize(
            {old_size, proof, note::serialize({cp.text(), {key.sign(cp.text())}})});
    }

    std::string origin_hash() const {
        return hex_encode(sha256(byte_view(std::string_view(origin))));
    }
};

struct standalone {
    temp_dir dir{"standalone-witness"};
    std::uint16_t http = free_port();
    node_process process;
    note::cosigner key = civic::test::witness("w.example/witness");
    std::string list_file = dir / "logs.txt";

    standalone() {
        auto secret = note::format_signer_key("w.example/witness", note::type_cosignature_v1,
                                              key_for("witness:w.example/witness"));
        std::ofstream(dir / "w.key") << secret << "\n";
        std::filesystem::permissions(dir / "w.key", std::filesystem::perms::owner_read |
                                                        std::filesystem::perms::owner_write);
    }
    std::string log_file() const { return dir / "witness.log"; }

    void write_list(const std::string& text) {
        std::ofstream(list_file + ".tmp") << text;
        std::filesystem::rename(list_file + ".tmp", list_file); // never read half-written
    }

    void start() {
        process.pid = spawn({CIVIC_ATTEST_BINARY, "witness", "--data", dir / "data", "--key",
                             dir / "w.key", "--logs", list_file, "--listen",
                             "127.0.0.1:" + std::to_string(http), "--name", "w"},
                            log_file());
        REQUIRE(process.pid > 0);
        auto until = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < until) {
            INFO(read_file(log_file()));
            REQUIRE_FALSE(process.exited());
            if (listening_port(log_file()) != 0) return;
            std::this_thread::sleep_for(50ms);
        }
        FAIL("the witness did not start in time: " << read_file(log_file()));
    }

    /// Sends SIGHUP and waits for the line that says what became of it.
    void reload(const std::string& expected) {
        auto before = read_file(log_file()).size();
        REQUIRE(::kill(process.pid, SIGHUP) == 0);
        auto until = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < until) {
            auto text = read_file(log_file()).substr(before);
            if (text.find(expected) != std::string::npos) return;
            std::this_thread::sleep_for(20ms);
        }
        FAIL("no '" << expected << "' after SIGHUP: " << read_file(log_file()));
    }

    http_response call(verb method, const std::string& target, const std::string& body = "") {
        connection c;
        auto res = c.call(http, method, target, body, "", 10s);
        REQUIRE(res);
        return *res;
    }
};

} // namespace standalone_witness

using namespace standalone_witness;

TEST_CASE("standalone witness: cosigns the logs of its list each within its qpd and serves what "
          "it cosigned and reloads its list on SIGHUP",
          "[witness][standalone]") {
    standalone w;
    listed_log a("a.example/log", "a.example/log");          // origin = key name
    listed_log b("b.example/tlog", "b.example/signing-key"); // an `origin` line
    listed_log c("c.example/log", "c.example/log");
    w.write_list("# test list\nlogs/v0\n\n"
                 "vkey " +
                 a.vkey() +
                 "\nqpd 48\ncontact a\n\n" // 4-6
                 "vkey " +
                 b.vkey() + "\norigin " + b.origin +
                 "\nqpd 86400\ncontact b\n\n"            // 8-11
                 "vkey not-a-vkey\nqpd 5\ncontact x\n"); // 13-15
    w.start();
    auto startup = read_file(w.log_file());
    CHECK(startup.find("skipped an item of the log list") != std::string::npos);
    CHECK(startup.find("line=13") != std::string::npos);
    CHECK(startup.find("(witness) listening on") != std::string::npos);

    // Log a: 48 a day, a burst of 2.
    auto first = w.call(verb::post, "/add-checkpoint", a.body(0, 4));
    REQUIRE(first.status == 200);
    note::cosignature_verifier cosigner("w.example/witness", public_key_of(w.key.verifier_key()));
    REQUIRE(w.call(verb::post, "/add-checkpoint", a.body(4, 6)).status == 200);
    auto limited = w.call(verb::post, "/add-checkpoint", a.body(6, 8));
    CHECK(limited.status == 429);
    CHECK(limited.header("Retry-After") == "1800");
    CHECK(json::parse(limited.body())["error"] == "rate_limited");
    // Log b, by its origin (not its key name), is not limited by a's allowance.
    for (std::uint64_t size = 1; size <= 5; ++size)
        REQUIRE(w.call(verb::post, "/add-checkpoint", b.body(size - 1, size)).status == 200);
    // Log c is not on the list.
    CHECK(w.call(verb::post, "/add-checkpoint", c.body(0, 3)).status == 404);

    // Monitoring: the latest cosigned checkpoint, with the log's signature and ours.
    auto monitored = w.call(verb::get, "/" + a.origin_hash() + "/checkpoint");
    REQUIRE(monitored.status == 200);
    {
        auto n = note::parse(monitored.body());
        REQUIRE(n);
        auto log_verifier = note::ed25519_verifier(a.origin, public_key_of(a.key.verifier_key()));
        auto opened = note::open(*n, {&log_verifier, &cosigner});
        REQUIRE(opened);
        CHECK(opened->signed_by.size() == 2);
        auto cp = parse_checkpoint(n->text);
        REQUIRE(cp);
        CHECK(cp->size == 6);
    }
    CHECK(w.call(verb::get, "/" + c.origin_hash() + "/checkpoint").status == 404);
    auto status = json::parse(w.call(verb::get, "/api/status").body());
    CHECK(status["rate_limited"] == 1);
    CHECK(status["trusted_logs"] == 2);
    CHECK(status["role"] == "witness");

    // Reload: a leaves, c joins; what it cosigned of a stays served.
    w.write_list("logs/v0\nvkey " + b.vkey() + "\norigin " + b.origin +
                 "\nqpd 86400\ncontact b\nvkey " + c.vkey() + "\nqpd 86400\ncontact c\n");
    w.reload("trusts 2 logs");
    CHECK(w.call(verb::post, "/add-checkpoint", a.body(6, 8)).status == 404);
    CHECK(w.call(verb::post, "/add-checkpoint", c.body(0, 3)).status == 200);
    CHECK(w.call(verb::get, "/" + a.origin_hash() + "/checkpoint").status == 200);

    // A file that is no list: the one in force stays.
    w.write_list("not a list\n");
    w.reload("kept the log list in force");
    CHECK(w.call(verb::post, "/add-checkpoint", c.body(3, 5)).status == 200);

    // Restarted, it reads the list again and remembers what it cosigned.
    w.write_list("logs/v0\nvkey " + c.vkey() + "\nqpd 86400\ncontact c\n");
    REQUIRE(::kill(w.process.pid, SIGTERM) == 0);
    auto until = std::chrono::steady_clock::now() + 10s;
    while (!w.process.exited() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(20ms);
    std::filesystem::remove(w.log_file()); // appended to: the next start-up line must be new
    w.start();
    auto stale = w.call(verb::post, "/add-checkpoint", c.body(0, 3));
    CHECK(stale.status == 409);
    CHECK(stale.body() == "5\n");
}

TEST_CASE("standalone witness: a list it cannot use is a clear error at start",
          "[witness][standalone]") {
    standalone w;
    w.write_list("vkey x\n");
    auto rc = run_to_end({CIVIC_ATTEST_BINARY, "witness", "--data", w.dir / "data", "--key",
                          w.dir / "w.key", "--logs", w.list_file, "--listen",
                          "127.0.0.1:" + std::to_string(w.http)},
                         w.log_file());
    CHECK(rc != 0);
    auto text = read_file(w.log_file());
    CHECK(text.find(w.list_file) != std::string::npos);
    CHECK(text.find("logs/v0") != std::string::npos);
    auto missing = run_to_end({CIVIC_ATTEST_BINARY, "witness", "--data", w.dir / "data", "--key",
                               w.dir / "w.key", "--logs", w.dir / "nothing-here", "--listen",
                               "127.0.0.1:" + std::to_string(w.http)},
                              w.log_file());
    CHECK(missing != 0);
    CHECK(read_file(w.log_file()).find("nothing-here") != std::string::npos);
}
