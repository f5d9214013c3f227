#include "node/cli.hpp"
#include "protocol/note.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace civic;
namespace fs = std::filesystem;

namespace {

struct cli_result {
    int code;
    std::string out, err;
};

cli_result run(std::vector<std::string> args) {
    std::ostringstream out, err;
    int code = node::run_cli(args, out, err);
    return {code, out.str(), err.str()};
}

void write(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
}
std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace

TEST_CASE("cli: usage, help and unknown commands", "[cli]") {
    CHECK(run({}).code == node::exit_usage);
    auto help = run({"--help"});
    CHECK(help.code == node::exit_ok);
    CHECK(help.out.find("protocol-demo") != std::string::npos);
    CHECK(run({"frobnicate"}).code == node::exit_usage);
    auto verify_help = run({"verify", "--help"});
    CHECK(verify_help.code == node::exit_ok);
    CHECK(verify_help.out.find("--policy") != std::string::npos);
    auto missing = run({"verify", "--content", "x"});
    CHECK(missing.code == node::exit_usage);
    CHECK(missing.err.find("--proof") != std::string::npos);
    CHECK(run({"version"}).out.rfind("civic-attest ", 0) == 0);
}

TEST_CASE("cli: keygen writes a 0600 key file and prints only the vkey", "[cli]") {
    test::temp_dir dir("keygen");
    fs::create_directories(dir.path);
    auto made = run({"keygen", "--name", "w1.example", "--witness", "--out", dir / "w1.key"});
    REQUIRE(made.code == node::exit_ok);
    auto vkey = note::parse_vkey(made.out.substr(0, made.out.find('\n')));
    REQUIRE(vkey.ok());
    CHECK(vkey->type == note::type_cosignature_v1);
    struct stat st {};
    REQUIRE(::stat((dir / "w1.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(run({"vkey", "--key", dir / "w1.key"}).out == made.out);
    // Never overwrites; refuses secrets others can read.
    CHECK(run({"keygen", "--name", "w1.example", "--out", dir / "w1.key"}).code ==
          node::exit_failed);
    ::chmod((dir / "w1.key").c_str(), 0644);
    auto exposed = run({"vkey", "--key", dir / "w1.key"});
    CHECK(exposed.code == node::exit_usage);
    CHECK(exposed.err.find("group or others") != std::string::npos);
    // Without --out the secret is the only thing on stdout.
    auto printed = run({"keygen", "--name", "example.org/log"});
    CHECK(printed.out.rfind("PRIVATE+KEY+example.org/log+", 0) == 0);
    CHECK(note::parse_signer_key(printed.out.substr(0, printed.out.size() - 1)).ok());
    CHECK(run({"keygen", "--name", "bad name"}).code == node::exit_usage);
}

TEST_CASE("cli: the protocol demo bundle verifies offline and tampering fails", "[cli]") {
    test::temp_dir dir("demo");
    auto demo = run({"protocol-demo", "--dir", dir.path.string(), "--entries", "300"});
    INFO(demo.err);
    REQUIRE(demo.code == node::exit_ok);
    CHECK(demo.out.find("document.txt: VALID") != std::string::npos);
    CHECK(demo.out.find("tampered.txt: INVALID") != std::string::npos);
    CHECK(run({"protocol-demo", "--dir", dir.path.string()}).code ==
          node::exit_usage); // not empty any more

    auto ok = run({"verify", "--proof", dir / "document.tlog-proof", "--content",
                   dir / "document.txt", "--policy", dir / "policy.txt"});
    CHECK(ok.code == node::exit_ok);
    CHECK(ok.out.find(": VALID") != std::string::npos);
    auto tampered = run({"verify", "--proof", dir / "document.tlog-proof", "--content",
                         dir / "tampered.txt", "--policy", dir / "policy.txt", "--json"});
    CHECK(tampered.code == node::exit_failed);
    CHECK(tampered.out.find("\"valid\": false") != std::string::npos);

    // A policy asking for all three witnesses is not met by the demo's two cosignatures.
    auto policy = read(dir / "policy.txt");
    policy.replace(policy.find("group two-of-three 2"), 20, "group two-of-three 3");
    write(dir / "strict.txt", policy);
    CHECK(run({"verify", "--proof", dir / "document.tlog-proof", "--content", dir / "document.txt",
               "--policy", dir / "strict.txt"})
              .code == node::exit_failed);

    // The log key alone (quorum none) is enough when no witnesses are required.
    auto log_line = policy.substr(policy.find("\nlog ") + 5);
    log_line = log_line.substr(0, log_line.find('\n'));
    CHECK(run({"verify", "--proof", dir / "document.tlog-proof", "--content-sha256",
               "00000000000000000000000000000000000000000000000000000000000000zz", "--log-key",
               log_line})
              .code == node::exit_usage);

    // Bad inputs name the file and field.
    write(dir / "broken.txt", "log nonsense\nquorum none\n");
    auto broken =
        run({"verify", "--proof", dir / "document.tlog-proof", "--policy", dir / "broken.txt"});
    CHECK(broken.code == node::exit_usage);
    CHECK(broken.err.find("broken.txt: policy line 1") != std::string::npos);
    auto missing = run({"verify", "--proof", dir / "nope.tlog-proof", "--log-key", log_line});
    CHECK(missing.code == node::exit_usage);
    CHECK(missing.err.find("nope.tlog-proof") != std::string::npos);
    write(dir / "garbage.tlog-proof", "not a proof\n");
    auto garbage = run({"verify", "--proof", dir / "garbage.tlog-proof", "--log-key", log_line});
    CHECK(garbage.code == node::exit_failed);
    CHECK(garbage.out.find("FAIL format") != std::string::npos);
}
