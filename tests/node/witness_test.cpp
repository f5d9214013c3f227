// A witness node as a real process, spoken to over C2SP tlog-witness HTTP:
// every case of the spec's add-checkpoint, check-and-update atomicity under
// concurrent requests, and a kill -9 between persisting and answering.
#include "process.hpp"
#include "protocol/cosignature.hpp"
#include "protocol/merkle.hpp"
#include "protocol/witness.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

using namespace civic;
using namespace civic::test;

namespace {

constexpr const char* origin = "witness.civic-attest.test/log";
constexpr std::size_t tree_leaves = 256;

/// A witness node (and a leader that is never started: a topology has one),
/// with the log key and the witness key made here, so the test can sign
/// checkpoints and check cosignatures.
struct witness_node {
    temp_dir dir{"witness"};
    std::string topology;
    std::uint16_t http = free_port();
    node_process process;
    note::ed25519_signer log = log_signer(origin);
    note::cosigner key = civic::test::witness("w1");
    std::vector<hash> leaves = make_leaves(tree_leaves);

    witness_node() {
        std::ofstream(dir / "log.vkey") << note::format_vkey(log.verifier_key()) << "\n";
        auto secret =
            note::format_signer_key("w1", note::type_cosignature_v1, key_for("witness:w1"));
        std::ofstream(dir / "w1.key") << secret << "\n";
        std::filesystem::permissions(dir / "w1.key", std::filesystem::perms::owner_read |
                                                         std::filesystem::perms::owner_write);
        topology = dir / "topology.yaml";
        std::ofstream(topology) << "origin: " << origin << "\nlog_vkey: " << dir / "log.vkey"
                                << "\nregions:\n  - name: here\nnodes:\n"
                                << "  - {name: leader, region: here, caf_port: " << free_port()
                                << ", http_port: " << free_port()
                                << ", roles: [leader], data: " << dir / "leader"
                                << ", log_key: " << dir / "log.key"
                                << "}\n"
                                << "  - {name: w1, region: here, caf_port: " << free_port()
                                << ", http_port: " << http
                                << ", roles: [witness], data: " << dir / "w1"
                                << ", witness_key: " << dir / "w1.key"
                                << "}\n";
    }

    std::string log_file() { return dir / "w1.log"; }

    void start(std::vector<std::string> extra = {}) {
        std::vector<std::string> args{
            CIVIC_ATTEST_BINARY, "node", "--topology", topology, "--name", "w1", "--insecure-dev"};
        args.insert(args.end(), extra.begin(), extra.end());
        process.pid = spawn(args, log_file());
        REQUIRE(process.pid > 0);
        connection c;
        auto until = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < until) {
            INFO(read_file(log_file()));
            REQUIRE_FALSE(process.exited());
            auto res = c.call(http, verb::get, "/healthz", "", "", 2s);
            // Up once it answers and has logged its start-up line (written just after
            // its HTTP server starts), which names its role as it is, not "replica".
            if (res && res->result_int() == 200 && listening_port(log_file()) != 0) {
                CHECK(read_file(log_file()).find("node 'w1' (witness) listening on") !=
                      std::string::npos);
                return;
            }
            std::this_thread::sleep_for(50ms);
        }
        FAIL("the witness did not answer in time: " << read_file(log_file()));
    }

    /// The checkpoint of the first `size` leaves, signed by `signer` (the log's
    /// key unless another is given); `root` overrides the real root (a fork).
    std::string signed_checkpoint(std::uint64_t size, const note::ed25519_signer* signer = nullptr,
                                  std::optional<hash> root = std::nullopt,
                                  const std::string& cp_origin = origin) const {
        checkpoint cp{cp_origin, size, root ? *root : reference_root(leaves, 0, size), {}};
        note::note n{cp.text(), {(signer ? *signer : log).sign(cp.text())}};
        return note::serialize(n);
    }

    std::vector<hash> proof(std::uint64_t from, std::uint64_t to) const {
        std::vector<hash> out;
        if (from > 0 && from < to) reference_subproof(leaves, from, 0, to, true, out);
        return out;
    }

    std::string body(std::uint64_t old_size, const std::vector<hash>& proof_hashes,
                     const std::string& signed_note) const {
        return witness::serialize({old_size, proof_hashes, signed_note});
    }

    json status() {
        connection c;
        auto res = c.call(http, verb::get, "/api/status", "", "", 5s);
        REQUIRE(res);
        return json::parse(res->body());
    }

    /// Whether a 200 body holds this witness's valid cosignature of the checkpoint.
    bool cosigned(const std::string& response, std::uint64_t size) const {
        auto text = checkpoint{origin, size, reference_root(leaves, 0, size), {}}.text();
        auto n = note::parse(text + "\n" + response);
        if (!n) return false;
        note::cosignature_verifier v("w1", public_key_of(key.verifier_key()));
        return note::open(*n, {&v}).ok();
    }
};

struct answer {
    unsigned status = 0;
    std::string content_type;
    std::string body;
};

answer post(connection& c, std::uint16_t port, const std::string& body,
            const std::string& target = "/add-checkpoint") {
    auto res = c.call(port, verb::post, target, body, "", 10s);
    if (!res) return {};
    return {res->result_int(), res->header("Content-Type"), res->body()};
}

} // namespace

TEST_CASE("witness HTTP: every add-checkpoint case of tlog-witness", "[witness]") {
    witness_node w;
    w.start();
    connection c;
    auto other_log = log_signer("another.example/log");
    auto impostor = note::ed25519_signer(origin, key_for("impostor"));
    std::vector<hash> sixty_four(64, hash{});
    hash forked_root = sha256(byte_view(std::string("fork")));

    struct step {
        const char* what;
        std::string body;
        unsigned status;
        std::string content_type; // checked when set
        std::string exact_body;   // checked when set
    };
    std::vector<step> steps{
        {"not a request", "hello", 400, "application/json", ""},
        {"no empty line", "old 0\n" + w.signed_checkpoint(3), 400, "", ""},
        {"a leading zero", "old 00\n\n" + w.signed_checkpoint(3), 400, "", ""},
        {"more than 63 proof lines", w.body(2, sixty_four, w.signed_checkpoint(8)), 400, "", ""},
        {"unknown origin",
         w.body(0, {}, w.signed_checkpoint(3, &other_log, std::nullopt, "another.example/log")),
         404, "", ""},
        {"signed by another key of the same name", w.body(0, {}, w.signed_checkpoint(3, &impostor)),
         403, "", ""},
        {"old size above the checkpoint's", w.body(5, {}, w.signed_checkpoint(3)), 400, "", ""},
        {"old size not the latest cosigned (0)", w.body(3, w.proof(3, 8), w.signed_checkpoint(8)),
         409, "text/x.tlog.size", "0\n"},
        {"a proof from size 0", w.body(0, w.proof(3, 8), w.signed_checkpoint(8)), 422, "", ""},
        {"first checkpoint", w.body(0, {}, w.signed_checkpoint(8)), 200, "", ""},
        {"the same checkpoint again", w.body(8, {}, w.signed_checkpoint(8)), 200, "", ""},
        {"a proof that does not verify", w.body(8, w.proof(8, 12), w.signed_checkpoint(13)), 422,
         "", ""},
        {"old size behind the latest cosigned", w.body(5, w.proof(5, 13), w.signed_checkpoint(13)),
         409, "text/x.tlog.size", "8\n"},
        {"a consistent extension", w.body(8, w.proof(8, 13), w.signed_checkpoint(13)), 200, "", ""},
        {"the old checkpoint after it (a rollback)", w.body(0, {}, w.signed_checkpoint(8)), 409,
         "text/x.tlog.size", "13\n"},
        {"the same checkpoint once more", w.body(13, {}, w.signed_checkpoint(13)), 200, "", ""},
        // A fork: the witness keeps it as evidence and stops cosigning the log.
        {"another root at the cosigned size",
         w.body(13, {}, w.signed_checkpoint(13, nullptr, forked_root)), 409, "application/json",
         ""},
        {"a consistent extension after the fork", w.body(13, w.proof(13, 16),
                                                         w.signed_checkpoint(16)),
         409, "application/json", ""},
    };
    for (const auto& s : steps) {
        INFO(s.what);
        auto a = post(c, w.http, s.body);
        INFO(a.body);
        CHECK(a.status == s.status);
        if (!s.content_type.empty()) CHECK(a.content_type == s.content_type);
        if (!s.exact_body.empty()) CHECK(a.body == s.exact_body);
        if (a.status == 200) {
            CHECK(a.body.rfind("\xe2\x80\x94 w1 ", 0) == 0); // "— w1 ..."
            CHECK(a.body.back() == '\n');
        }
    }
    auto halted = post(c, w.http, w.body(13, {}, w.signed_checkpoint(13)));
    CHECK(halted.status == 409);
    CHECK(halted.body.find("stopped cosigning") != std::string::npos);
    // Only POST.
    auto res = c.call(w.http, verb::get, "/add-checkpoint", "", "", 5s);
    REQUIRE(res);
    CHECK(res->result_int() == 405);

    auto st = w.status();
    INFO(st.dump());
    REQUIRE(st["logs"].size() == 1);
    CHECK(st["logs"][0]["origin"] == origin);
    CHECK(st["logs"][0]["cosigned_size"] == 13);
    CHECK(st["logs"][0]["halted"].get<std::string>().find("split view (fork)") !=
          std::string::npos);
    // The fork is evidence; the failed proof is not (the requester made it).
    CHECK(st["evidence"] == 1);
}

TEST_CASE("witness: concurrent add-checkpoint requests never roll back", "[witness]") {
    witness_node w;
    w.start();
    // Clients race from whatever size they last learnt: many requests share an
    // old size, and each old size may be accepted at most once (else two
    // checkpoints were both checked against it: the race of the spec).
    std::mutex mutex;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> accepted; // old -> new
    std::vector<std::string> bad_cosignatures;
    std::vector<std::thread> clients;
    for (unsigned t = 0; t < 16; ++t) {
        clients.emplace_back([&, t] {
            connection c;
            std::minstd_rand rng(t + 1);
            std::uint64_t known = 0;
            for (int i = 0; i < 40; ++i) {
                auto target = std::min<std::uint64_t>(known + 1 + rng() % 6, tree_leaves);
                if (target == known) break;
                auto a = post(c, w.http,
                              w.body(known, w.proof(known, target), w.signed_checkpoint(target)));
                std::lock_guard lock(mutex);
                if (a.status == 200) {
                    accepted.emplace_back(known, target);
                    if (!w.cosigned(a.body, target)) bad_cosignatures.push_back(a.body);
                    known = target;
                } else if (a.status == 409 && a.content_type == "text/x.tlog.size") {
                    known = std::stoull(a.body);
                } else {
                    bad_cosignatures.push_back("status " + std::to_string(a.status) + ": " +
                                               a.body);
                }
            }
        });
    }
    for (auto& c : clients)
        c.join();
    CHECK(bad_cosignatures.empty());
    std::map<std::uint64_t, std::uint64_t> next;
    for (auto [from, to] : accepted) {
        INFO("old size " << from << " accepted twice");
        CHECK(next.emplace(from, to).second);
    }
    // The accepted requests form one chain from 0 to the final state.
    std::uint64_t size = 0;
    std::size_t steps = 0;
    while (next.count(size)) {
        size = next[size];
        ++steps;
    }
    CHECK(steps == accepted.size());
    CHECK(accepted.size() > 10);
    CHECK(w.status()["logs"][0]["cosigned_size"] == size);
}

TEST_CASE("witness: killed between persisting and answering, never cosigns an older checkpoint",
          "[witness]") {
    witness_node w;
    // The second durable round kills the process before it answers.
    w.start({"--crash-after-persist", "2"});
    connection c;
    REQUIRE(post(c, w.http, w.body(0, {}, w.signed_checkpoint(5))).status == 200);
    auto lost = post(c, w.http, w.body(5, w.proof(5, 9), w.signed_checkpoint(9)));
    CHECK(lost.status == 0); // no answer: the process died
    auto until = std::chrono::steady_clock::now() + 10s;
    while (!w.process.exited() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(20ms);
    REQUIRE(w.process.pid == -1);

    w.start();
    connection after;
    // 9 was persisted: nothing older, and nothing built on 5, is cosigned now.
    auto from_five = post(after, w.http, w.body(5, w.proof(5, 7), w.signed_checkpoint(7)));
    CHECK(from_five.status == 409);
    CHECK(from_five.body == "9\n");
    auto first_again = post(after, w.http, w.body(0, {}, w.signed_checkpoint(5)));
    CHECK(first_again.status == 409);
    CHECK(first_again.body == "9\n");
    auto extended = post(after, w.http, w.body(9, w.proof(9, 12), w.signed_checkpoint(12)));
    CHECK(extended.status == 200);
    CHECK(w.cosigned(extended.body, 12));
}
