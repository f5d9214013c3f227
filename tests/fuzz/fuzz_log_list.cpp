// libFuzzer target: parse_log_list (a witness's list of logs, outside input
// that a SIGHUP reloads). Whatever it accepts keeps the format's promises:
// unique origins, qpd in [1, 2^31), Ed25519 keys, problems and logs at real
// lines in order, and every listed log becomes a trusted log.
#include "protocol/log_list.hpp"
#include "protocol/witness.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto list = civic::witness::parse_log_list(input);
    if (!list) return 0;
    std::size_t lines = 1;
    for (char c : input)
        if (c == '\n') ++lines;
    std::set<std::string> origins;
    std::size_t previous = 0;
    civic::witness::trusted_logs trusted;
    for (const auto& log : list->logs) {
        if (!origins.insert(log.origin).second) CIVIC_FUZZ_FAIL("an origin listed twice");
        if (log.origin.empty()) CIVIC_FUZZ_FAIL("an empty origin");
        if (log.qpd < 1 || log.qpd > civic::witness::max_qpd) CIVIC_FUZZ_FAIL("qpd out of range");
        if (log.key.type != civic::note::type_ed25519) CIVIC_FUZZ_FAIL("a key that is no Ed25519");
        if (log.line <= previous || log.line > lines)
            CIVIC_FUZZ_FAIL("a log at an impossible line");
        previous = log.line;
        if (!trusted.add(log.key, log.origin, log.qpd)) CIVIC_FUZZ_FAIL("a listed log is refused");
    }
    if (trusted.size() != list->logs.size()) CIVIC_FUZZ_FAIL("trusted logs lost or merged");
    for (const auto& p : list->problems)
        if (p.line == 0 || p.line > lines || p.message.empty())
            CIVIC_FUZZ_FAIL("a problem without its line or message");
    if (list->logs.size() > civic::witness::max_listed_logs) CIVIC_FUZZ_FAIL("too many logs");
    return 0;
}
