// What a disk can do to a node's store, against the real binary: a truncated
// file, garbled pages, one flipped bit in an entry. The node refuses to start
// with a message naming the file, or answers 503 for what it cannot check; it
// never dies of a signal and never serves bytes that differ from what it wrote.
#include "process.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

using namespace civic;
using namespace civic::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* origin = "damage.civic-attest.test/log";
constexpr std::uint64_t page_size = 4096;

std::uint16_t listening_port(const std::string& log) {
    auto text = test::read_file(log);
    constexpr std::string_view marker = "listening on ";
    auto at = text.find(marker);
    if (at == std::string::npos) return 0;
    auto end = text.find('\n', at);
    if (end == std::string::npos) return 0;
    auto line = text.substr(at + marker.size(), end - at - marker.size());
    auto comma = line.find(',');
    if (comma != std::string::npos) line = line.substr(0, comma);
    auto port = parse_decimal(line.substr(line.rfind(':') + 1), 65535);
    return port ? static_cast<std::uint16_t>(*port) : 0;
}

/// How a process ended: its exit code, or -1 when a signal ended it.
int exit_code(int wait_status) { return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1; }

std::string bytes_of(const std::string& path) { return test::read_file(path); }

void write_bytes(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

/// A data directory with `entries` signed entries, and a node on it.
struct damage_fixture {
    const std::string binary = CIVIC_ATTEST_BINARY;
    test::temp_dir dir{"damage"};
    const std::string data = dir / "data";
    const std::string file = data + "/ledger/data.mdb";
    std::string bearer;
    node_process node;
    connection client;
    std::uint16_t port = 0;
    int starts = 0;

    damage_fixture() {
        auto init =
            run_to_end({binary, "init", "--data", data, "--origin", origin}, dir / "init.log");
        INFO(test::read_file(dir / "init.log"));
        REQUIRE(init == 0);
        auto token = test::read_file(data + "/admin.token");
        bearer = "Bearer " + token.substr(0, token.find('\n'));
    }

    /// Starts a node; true once it answers, false when it exited first (its
    /// wait status in `ended`).
    bool start(int& ended) {
        node.log = dir / ("serve-" + std::to_string(starts++) + ".log");
        node.pid = spawn({binary, "serve", "--data", data, "--listen", "127.0.0.1:0"}, node.log);
        REQUIRE(node.pid > 0);
        auto deadline = std::chrono::steady_clock::now() + 30s;
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (::waitpid(node.pid, &status, WNOHANG) == node.pid) {
                node.pid = -1;
                ended = status;
                return false;
            }
            if (auto p = listening_port(node.log)) {
                auto res = client.call(p, verb::get, "/healthz");
                if (res && res->result_int() == 200) {
                    port = p;
                    return true;
                }
            }
            std::this_thread::sleep_for(10ms);
        }
        FAIL("the node neither answered nor exited within 30 s: " << test::read_file(node.log));
        return false;
    }
    void start() {
        int ended = 0;
        bool up = start(ended);
        INFO(test::read_file(node.log));
        REQUIRE(up);
    }
    /// SIGTERM, and the node must stop cleanly (exit 0): it did not crash meanwhile.
    void stop() {
        REQUIRE(node.pid > 0);
        ::kill(node.pid, SIGTERM);
        int status = 0;
        REQUIRE(::waitpid(node.pid, &status, 0) == node.pid);
        node.pid = -1;
        INFO(test::read_file(node.log));
        REQUIRE(exit_code(status) == 0);
    }
    /// Runs `civic-attest fsck` on the data directory: its exit code (-1: a signal).
    int fsck(std::string& log_text) {
        auto log = dir / ("fsck-" + std::to_string(starts++) + ".log");
        int code = run_to_end({binary, "fsck", "--data", data}, log);
        log_text = test::read_file(log);
        return code;
    }
    std::optional<http_response> get(const std::string& target) {
        return client.call(port, verb::get, target);
    }
    /// Registers one identity and signs `count` documents (one entry each, with
    /// the registration `count + 1` entries).
    void populate(int count) {
        auto reg = client.call(port, verb::post, "/api/identities",
                               R"({"identity":"damage/clerk"})", bearer);
        REQUIRE(reg);
        REQUIRE(reg->result_int() == 200);
        for (int i = 0; i < count; ++i) {
            auto content = sha256(byte_view("document " + std::to_string(i)));
            auto res = client.call(
                port, verb::post, "/api/sign",
                json{{"identity", "damage/clerk"}, {"content_sha256", hex_encode(content)}}.dump(),
                bearer);
            REQUIRE(res);
            REQUIRE(res->result_int() == 200);
        }
    }
    /// Every read a client makes of the log, and its answer now.
    std::map<std::string, std::string> snapshot(std::uint64_t size) {
        std::vector<std::string> targets;
        for (std::uint64_t i = 0; i < size; ++i)
            targets.push_back("/api/entries/" + std::to_string(i));
        for (std::uint64_t i = 0; i < size; i += 37)
            targets.push_back("/api/proof/inclusion?index=" + std::to_string(i) +
                              "&size=" + std::to_string(size));
        targets.push_back("/tile/entries/000");
        targets.push_back("/tile/entries/001.p/" + std::to_string(size - 256));
        targets.push_back("/tile/0/000");
        targets.push_back("/tile/0/001.p/" + std::to_string(size - 256));
        targets.push_back("/tile/1/000.p/1");
        targets.push_back("/checkpoint");
        std::map<std::string, std::string> out;
        for (const auto& t : targets) {
            auto res = get(t);
            INFO(t);
            REQUIRE(res);
            REQUIRE(res->result_int() == 200);
            out[t] = res->body();
        }
        return out;
    }
};

constexpr int signed_documents = 299; // 300 entries: one full tile, one partial
constexpr std::uint64_t entries = signed_documents + 1;

} // namespace

TEST_CASE("a truncated store is refused with its file named, by an exit, not a signal",
          "[damage]") {
    damage_fixture f;
    f.start();
    f.populate(signed_documents);
    f.stop();
    auto pristine = bytes_of(f.file);
    REQUIRE(pristine.size() > 8 * page_size);

    // Shorter than its pages: reading them would be a SIGBUS.
    std::filesystem::resize_file(f.file, 3 * page_size);
    int ended = 0;
    REQUIRE_FALSE(f.start(ended));
    auto log = test::read_file(f.node.log);
    INFO(log);
    CHECK(exit_code(ended) == 1);
    CHECK(log.find(f.file + " is truncated: 12288 bytes, the store needs at least") !=
          std::string::npos);
    std::string fsck_log;
    CHECK(f.fsck(fsck_log) == 2);
    INFO(fsck_log);
    CHECK(fsck_log.find(f.file + " is truncated: 12288 bytes") != std::string::npos);

    // Shorter than its two headers: LMDB would take it for a new file and write
    // new headers over what is left. Refused, and left as it was.
    std::filesystem::resize_file(f.file, 1000);
    REQUIRE_FALSE(f.start(ended));
    log = test::read_file(f.node.log);
    INFO(log);
    CHECK(exit_code(ended) == 1);
    CHECK(log.find(f.file + " is truncated: 1000 bytes") != std::string::npos);
    CHECK(std::filesystem::file_size(f.file) == 1000);

    // Restored, the store is whole again, and fsck says so.
    write_bytes(f.file, pristine);
    CHECK(f.fsck(fsck_log) == 0);
    CHECK(fsck_log.find("is clean: 300 entries, 300 checkpoints, 1 identities, 1 tokens") !=
          std::string::npos);
    f.start();
    f.stop();
}

TEST_CASE("garbled pages: a clean refusal or checked answers, never a signal or wrong bytes",
          "[damage]") {
    damage_fixture f;
    f.start();
    f.populate(signed_documents);
    auto expected = f.snapshot(entries);
    f.stop();
    auto pristine = bytes_of(f.file);
    const auto pages = pristine.size() / page_size;
    REQUIRE(pages > 16);

    // Random bytes over every fifth page after the headers (some hold live
    // records, some are free): each time the node refuses, or starts and
    // answers every read with the bytes it wrote or a 503.
    int refused = 0, served = 0;
    for (std::uint64_t page = 2; page < pages; page += 5) {
        INFO("random bytes over page " << page << " of " << pages);
        auto garbled = pristine;
        std::mt19937_64 rng(page);
        for (std::uint64_t i = 0; i < page_size; ++i)
            garbled[page * page_size + i] = static_cast<char>(rng());
        write_bytes(f.file, garbled);
        std::string fsck_log;
        auto fsck_code = f.fsck(fsck_log);
        INFO(fsck_log);
        CHECK((fsck_code == 0 || fsck_code == 1));
        int ended = 0;
        if (!f.start(ended)) {
            auto log = test::read_file(f.node.log);
            INFO(log);
            CHECK(exit_code(ended) == 1);
            CHECK(log.find(f.file + " is ") != std::string::npos);
            CHECK(fsck_code == 1); // what the node refuses, fsck finds
            ++refused;
            continue;
        }
        for (const auto& [target, body] : expected) {
            auto res = f.get(target);
            INFO(target);
            REQUIRE(res);
            if (res->result_int() == 200)
                CHECK(res->body() == body);
            else
                CHECK(res->result_int() == 503);
        }
        ++served;
        f.stop();
    }
    CHECK(refused > 0);
    std::cout << "garbled pages: " << refused << " refused, " << served << " served\n";
    write_bytes(f.file, pristine);
}

namespace {

/// Flips the lowest bit of the last byte of every copy of `needle` in `path`
/// (LMDB may keep older copies of a page in free pages); how many it flipped.
int flip_bit_in_every_copy(const std::string& path, const std::string& needle) {
    auto content = bytes_of(path);
    int flipped = 0;
    for (auto at = content.find(needle); at != std::string::npos;
         at = content.find(needle, at + 1)) {
        content[at + needle.size() - 1] = static_cast<char>(content[at + needle.size() - 1] ^ 1);
        ++flipped;
    }
    write_bytes(path, content);
    return flipped;
}

} // namespace

TEST_CASE("one flipped bit in a stored entry: the scrub finds it, 503 for its entry tile, 200 for "
          "the rest",
          "[damage]") {
    damage_fixture f;
    f.start();
    f.populate(signed_documents);
    auto expected = f.snapshot(entries);
    constexpr std::uint64_t damaged_index = 100;
    auto entry = base64_decode(
        json::parse(expected["/api/entries/" + std::to_string(damaged_index)])["entry"]
            .get<std::string>());
    REQUIRE(entry.ok());
    f.stop();
    REQUIRE(flip_bit_in_every_copy(f.file, std::string(entry->begin(), entry->end())) > 0);
    std::string fsck_log;
    CHECK(f.fsck(fsck_log) == 1);
    INFO(fsck_log);
    CHECK(fsck_log.find("DAMAGED: " + f.file + ": audit: entry 100 does not match tile/0/000") !=
          std::string::npos);

    f.start(); // the startup checks read the tree's path, not every entry
    // The background scrub finds it at once: the whole entry tile (entries 0 to
    // 255) is refused from then on, never served.
    json status;
    for (int i = 0; i < 200; ++i) {
        auto res = f.get("/api/status");
        REQUIRE(res);
        status = json::parse(res->body(), nullptr, false);
        if (status["scrub"].value("damaged_ranges", 0) == 1) break;
        std::this_thread::sleep_for(10ms);
    }
    INFO(status.dump());
    REQUIRE(status["scrub"].value("damaged_ranges", 0) == 1);
    CHECK(status["scrub"]["damaged"] == json::array({"entries/0-256"}));
    CHECK(status["scrub"].value("entries_per_second", 0) == 50000);
    auto res = f.get("/api/entries/" + std::to_string(damaged_index));
    REQUIRE(res);
    CHECK(res->result_int() == 503);
    auto body = json::parse(res->body(), nullptr, false);
    CHECK(body.value("error", "") == "damaged");
    CHECK(body.value("message", "").find("entries/0-256 is damaged") != std::string::npos);
    CHECK(body.value("message", "").find("index 100") != std::string::npos);
    CHECK(res->has_header("Retry-After"));
    int refused = 1;
    for (const char* target : {"/tile/entries/000", "/api/bundle/100", "/api/bundle/99"}) {
        res = f.get(target);
        REQUIRE(res);
        INFO(target << ": " << res->body());
        CHECK(res->result_int() == 503);
        CHECK(json::parse(res->body(), nullptr, false).value("error", "") == "damaged");
        ++refused;
    }
    // Everything outside the range is served, and exactly as before.
    for (const auto& [target, expected_body] : expected) {
        res = f.get(target);
        REQUIRE(res);
        INFO(target);
        bool in_range = target == "/tile/entries/000";
        if (target.rfind("/api/entries/", 0) == 0) in_range = std::stoull(target.substr(13)) < 256;
        if (in_range) {
            CHECK(res->result_int() == 503);
            ++refused;
            continue;
        }
        CHECK(res->result_int() == 200);
        CHECK(res->body() == expected_body);
    }
    res = f.get("/api/bundle/256");
    REQUIRE(res);
    CHECK(res->result_int() == 200);
    res = f.get("/metrics");
    REQUIRE(res);
    CHECK(res->body().find("civic_store_damage_total " + std::to_string(refused)) !=
          std::string::npos);
    CHECK(res->body().find("civic_store_damaged_ranges 1") != std::string::npos);
    CHECK(res->body().find("civic_store_damage_found_total 1") != std::string::npos);
    CHECK(res->body().find("civic_scrub_entries_total") != std::string::npos);
    // Logged once for the range, however many reads it refused.
    auto log = test::read_file(f.node.log);
    constexpr std::string_view line = R"(msg="store damage" index=100 range=entries/0-256 what=)";
    auto first = log.find(line);
    CHECK(first != std::string::npos);
    CHECK(log.find(line, first + 1) == std::string::npos);
    f.stop();
}
