// Crash safety of the real binary: concurrent submitters against `civic-attest
// serve`, SIGKILL at random moments, restart on the same data directory, then
// every acknowledgement and every checkpoint ever handed out is checked against
// the final tree.
#include "process.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "protocol/merkle.hpp"
#include "protocol/note.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

using namespace civic;
using namespace civic::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* origin = "crash.civic-attest.test/log";
constexpr int rounds = 15;
constexpr int submitters = 4;

/// What one 200 from /api/sign promised.
struct ack {
    std::uint64_t index = 0;
    hash content{};
    bytes entry;
    std::string checkpoint;
    std::vector<hash> inclusion;
    int round = 0;
};

/// Everything the clients saw, shared by their threads.
struct observations {
    std::mutex mutex;
    std::vector<ack> acks;
    std::set<std::string> checkpoints; // every signed checkpoint any reply carried
    std::uint64_t promised = 0;        // the largest tree size acknowledged or checkpointed
    std::vector<std::string> problems; // replies no node may give, even while crashing
    std::atomic<std::uint64_t> retries{0};

    void problem(std::string what) {
        std::lock_guard<std::mutex> lock(mutex);
        if (problems.size() < 20) problems.push_back(std::move(what));
    }
    /// Call with the mutex held.
    void add_checkpoint(const std::string& text) {
        if (!checkpoints.insert(text).second) return;
        if (auto cp = parse_signed_checkpoint(text)) promised = std::max(promised, cp->body.size);
    }
};

} // namespace

TEST_CASE("acknowledged entries and checkpoints survive repeated SIGKILL", "[crash]") {
    const std::string binary = CIVIC_ATTEST_BINARY;
    test::temp_dir dir("crash");
    const std::string data = dir / "data";

    // The seed fixes the kill times and the content; thread interleavings still vary.
    std::uint64_t seed = std::random_device{}();
    if (const char* forced = std::getenv("CIVIC_CRASH_SEED"))
        seed = std::strtoull(forced, nullptr, 10);
    std::cout << "crash test seed " << seed << " (rerun with CIVIC_CRASH_SEED=" << seed << ")\n";
    INFO("seed " << seed << " (rerun with CIVIC_CRASH_SEED=" << seed << ")");
    std::mt19937_64 rng(seed);

    {
        pid_t init = spawn({binary, "init", "--data", data, "--origin", origin}, dir / "init.log");
        REQUIRE(init > 0);
        int status = 0;
        REQUIRE(::waitpid(init, &status, 0) == init);
        INFO(test::read_file(dir / "init.log"));
        REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
    auto first_line = [](std::string s) { return s.substr(0, s.find('\n')); };
    const std::string bearer = "Bearer " + first_line(test::read_file(data + "/admin.token"));
    auto vkey = note::parse_vkey(first_line(test::read_file(data + "/log.vkey")));
    REQUIRE(vkey.ok());
    auto log_key = note::make_verifier(*vkey);
    REQUIRE(log_key.ok());

    observations seen;
    std::atomic<std::uint16_t> port{0}; // 0 while no node is up
    std::atomic<int> round{0};
    std::atomic<bool> stop{false};

    // Joins the clients however the test ends; declared before the node so that
    // the node dies first and no client waits on it.
    std::vector<std::thread> threads;
    struct joiner {
        std::atomic<bool>& stop;
        std::vector<std::thread>& threads;
        ~joiner() {
            stop = true;
            for (auto& t : threads)
                if (t.joinable()) t.join();
        }
    } join_threads{stop, threads};

    node_process node;
    connection control;
    int starts = 0;
    // Starts a node on the data directory and waits until it answers /healthz.
    auto start_node = [&]() -> std::uint64_t {
        node.log = dir / ("serve-" + std::to_string(starts++) + ".log");
        node.pid = spawn({binary, "serve", "--data", data, "--listen", "127.0.0.1:0"}, node.log);
        REQUIRE(node.pid > 0);
        auto deadline = std::chrono::steady_clock::now() + 60s;
        while (true) {
            INFO("node start " << starts << " (after " << starts - 1 << " kills), its log:\n"
                               << test::read_file(node.log));
            REQUIRE_FALSE(node.exited());
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            if (auto p = listening_port(node.log)) {
                auto res = control.call(p, verb::get, "/healthz");
                if (res && res->result_int() == 200) {
                    auto body = json::parse(res->body(), nullptr, false);
                    REQUIRE(body.contains("size"));
                    port = p;
                    return body["size"].get<std::uint64_t>();
                }
            }
            std::this_thread::sleep_for(10ms);
        }
    };

    start_node();
    {
        auto reg = control.call(port, verb::post, "/api/identities",
                                R"({"identity":"crash/submitter"})", bearer);
        REQUIRE(reg);
        INFO(reg->body());
        REQUIRE(reg->result_int() == 200);
        seen.add_checkpoint(json::parse(reg->body())["checkpoint"].get<std::string>());
    }

    // Submitters: distinct content for every attempt, so an attempt whose reply
    // was lost to a kill is never confused with an acknowledged one.
    for (int t = 0; t < submitters; ++t) {
        threads.emplace_back([&, t] {
            connection conn;
            for (std::uint64_t n = 0; !stop; ++n) {
                auto p = port.load();
                if (p == 0) {
                    std::this_thread::sleep_for(2ms);
                    continue;
                }
                int r = round;
                auto content = sha256(byte_view("crash " + std::to_string(seed) + " " +
                                                std::to_string(t) + " " + std::to_string(n)));
                auto res = conn.call(
                    p, verb::post, "/api/sign",
                    json{{"identity", "crash/submitter"}, {"content_sha256", hex_encode(content)}}
                        .dump(),
                    bearer);
                if (!res || res->result_int() == 503 || res->result_int() == 429) {
                    // The node is being killed or restarted: expected, try again.
                    ++seen.retries;
                    std::this_thread::sleep_for(2ms);
                    continue;
                }
                if (res->result_int() != 200) {
                    seen.problem("sign: HTTP " + std::to_string(res->result_int()) + ": " +
                                 res->body());
                    continue;
                }
                auto body = json::parse(res->body(), nullptr, false);
                ack a;
                a.content = content;
                a.round = r;
                auto entry = body.is_object() && body["entry"].is_string()
                                 ? base64_decode(body["entry"].get<std::string>())
                                 : result<bytes>(make_error("no entry"));
                auto inclusion = body.is_object() ? decode_hashes(body["inclusion_proof"])
                                                  : result<std::vector<hash>>(make_error("-"));
                if (!entry || !inclusion || !body["index"].is_number_unsigned() ||
                    !body["checkpoint"].is_string()) {
                    seen.problem("sign: malformed 200: " + res->body());
                    continue;
                }
                a.index = body["index"].get<std::uint64_t>();
                a.entry = std::move(*entry);
                a.inclusion = std::move(*inclusion);
                a.checkpoint = body["checkpoint"].get<std::string>();
                std::lock_guard<std::mutex> lock(seen.mutex);
                seen.add_checkpoint(a.checkpoint);
                seen.promised = std::max(seen.promised, a.index + 1);
                seen.acks.push_back(std::move(a));
            }
        });
    }
    // An observer: checkpoints served by GET /checkpoint count as handed out too.
    threads.emplace_back([&] {
        connection conn;
        while (!stop) {
            std::this_thread::sleep_for(5ms);
            auto p = port.load();
            if (p == 0) continue;
            auto res = conn.call(p, verb::get, "/checkpoint");
            if (res && res->result_int() == 200) {
                std::lock_guard<std::mutex> lock(seen.mutex);
                seen.add_checkpoint(res->body());
            }
        }
    });

    auto promised_size = [&] {
        std::lock_guard<std::mutex> lock(seen.mutex);
        return seen.promised;
    };
    auto acks_in = [&](int r) {
        std::lock_guard<std::mutex> lock(seen.mutex);
        return std::count_if(seen.acks.begin(), seen.acks.end(),
                             [r](const ack& a) { return a.round == r; });
    };

    std::uniform_int_distribution<int> run_ms(100, 600);
    int rounds_with_acks = 0;
    for (int r = 0; r < rounds; ++r) {
        auto ms = run_ms(rng);
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        {
            INFO("round " << r << ": the node died before it was killed; its log:\n"
                          << test::read_file(node.log));
            REQUIRE_FALSE(node.exited());
        }
        port = 0;
        int status = node.kill_now();
        CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
        auto acked = acks_in(r);
        if (acked > 0) ++rounds_with_acks;
        round = r + 1;
        auto promised = promised_size();
        auto size = start_node();
        std::cout << "round " << r << ": killed after " << ms << " ms, " << acked
                  << " acknowledged, restarted with " << size << " entries\n";
        INFO("round " << r << ": restarted with " << size << " entries but " << promised
                      << " were acknowledged");
        CHECK(size >= promised);
    }
    // A last stretch on the final node, so appends after recovery are checked too.
    std::this_thread::sleep_for(300ms);
    stop = true;
    for (auto& t : threads)
        t.join();

    std::lock_guard<std::mutex> lock(seen.mutex);
    std::cout << seen.acks.size() << " acknowledged in " << rounds << " kills (" << rounds_with_acks
              << " rounds with acknowledgements), " << seen.retries << " failed attempts, "
              << seen.checkpoints.size() << " distinct checkpoints\n";
    for (const auto& p : seen.problems)
        FAIL_CHECK(p);
    REQUIRE(seen.problems.empty());
    // A run that acknowledged little proves little.
    REQUIRE(seen.acks.size() > 200);
    REQUIRE(rounds_with_acks >= rounds / 2);

    // Every checkpoint handed out is signed, and sizes determine roots.
    std::map<std::string, checkpoint> bodies;
    std::map<std::uint64_t, hash> root_at;
    for (const auto& text : seen.checkpoints) {
        auto cp = open_checkpoint(text, **log_key, origin);
        INFO(text);
        REQUIRE(cp.ok());
        bodies.emplace(text, *cp);
        auto [it, fresh] = root_at.emplace(cp->size, cp->root);
        INFO("two checkpoints of size " << cp->size << " with different roots");
        CHECK((fresh || it->second == cp->root));
    }

    auto final_res = control.call(port, verb::get, "/checkpoint");
    REQUIRE(final_res);
    REQUIRE(final_res->result_int() == 200);
    auto final_cp = open_checkpoint(final_res->body(), **log_key, origin);
    REQUIRE(final_cp.ok());
    const auto final_size = final_cp->size;
    REQUIRE(final_size >= root_at.rbegin()->first);

    // The whole final tree, entry by entry: its root must be the final checkpoint's,
    // and every earlier checkpoint's root must be the root of its prefix.
    std::vector<bytes> entries;
    merkle::compact_range tree;
    for (std::uint64_t i = 0; i < final_size; ++i) {
        auto res = control.call(port, verb::get, "/api/entries/" + std::to_string(i));
        REQUIRE(res);
        INFO("entry " << i << ": " << res->body());
        REQUIRE(res->result_int() == 200);
        auto body = json::parse(res->body(), nullptr, false);
        REQUIRE(body.contains("entry"));
        auto raw = base64_decode(body["entry"].get<std::string>());
        REQUIRE(raw.ok());
        tree.append(merkle::leaf_hash(*raw));
        entries.push_back(std::move(*raw));
        if (auto it = root_at.find(tree.size()); it != root_at.end()) {
            INFO("checkpoint of size " << tree.size() << " is not a prefix of the final tree");
            CHECK(it->second == tree.root());
        }
    }
    CHECK(tree.root() == final_cp->root);

    // Consistency as any client would check it: the node's proof, verified here.
    for (const auto& [size, root] : root_at) {
        if (size == final_size) {
            CHECK(root == final_cp->root);
            continue;
        }
        auto res = control.call(port, verb::get,
                                "/api/proof/consistency?old=" + std::to_string(size) +
                                    "&new=" + std::to_string(final_size));
        REQUIRE(res);
        INFO("consistency " << size << " -> " << final_size << ": " << res->body());
        REQUIRE(res->result_int() == 200);
        auto proof = decode_hashes(json::parse(res->body())["proof"]);
        REQUIRE(proof.ok());
        CHECK(merkle::verify_consistency(size, final_size, *proof, root, final_cp->root).ok());
    }

    // Every acknowledgement: a unique index, the same bytes there now, and an
    // inclusion proof against the checkpoint that came with it.
    std::set<std::uint64_t> indexes;
    for (const auto& a : seen.acks) {
        INFO("entry acknowledged at " << a.index << " in round " << a.round);
        CHECK(indexes.insert(a.index).second);
        REQUIRE(a.index < final_size);
        CHECK(hex_encode(entries[a.index]) == hex_encode(a.entry));
        auto decoded = decode_entry(a.entry);
        REQUIRE(decoded.ok());
        CHECK(decoded->content_hash == a.content);
        CHECK(decoded->identity == "crash/submitter");
        CHECK(decoded->signature_valid());
        const auto& cp = bodies.at(a.checkpoint);
        REQUIRE(a.index < cp.size);
        CHECK(merkle::verify_inclusion(a.index, cp.size, merkle::leaf_hash(a.entry), a.inclusion,
                                       cp.root)
                  .ok());
    }
}
