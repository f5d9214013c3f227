// libFuzzer target: tiles::split_entry_bundle, the parser an auditor runs on
// every entry bundle a log serves. Accepted spans must tile the body exactly,
// each within the bound; and a bundle made of the spans must split back to them.
#include "protocol/tiles.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace tiles = civic::tiles;
    if (size < 2) return 0;
    // The first two bytes choose what the bundle is asked to hold.
    std::size_t expected = 1 + data[0] % tiles::tile_width;
    std::size_t max_entry = static_cast<std::size_t>(data[1]) * 8;
    std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);

    std::vector<std::pair<std::size_t, std::size_t>> spans;
    auto problem = tiles::split_entry_bundle(body, expected, max_entry, spans);
    if (!problem.empty()) return 0;
    if (spans.size() != expected) CIVIC_FUZZ_FAIL("accepted with another entry count");
    std::size_t at = 0;
    std::string rebuilt;
    for (const auto& [offset, length] : spans) {
        if (offset != at + 2) CIVIC_FUZZ_FAIL("a span does not follow its length prefix");
        if (length > max_entry) CIVIC_FUZZ_FAIL("an entry over the bound accepted");
        at = offset + length;
        rebuilt.push_back(static_cast<char>(length >> 8));
        rebuilt.push_back(static_cast<char>(length & 0xff));
        rebuilt.append(body.substr(offset, length));
    }
    if (at != body.size()) CIVIC_FUZZ_FAIL("accepted spans do not cover the body");
    if (rebuilt != body) CIVIC_FUZZ_FAIL("the spans do not rebuild the bundle");
    std::vector<std::pair<std::size_t, std::size_t>> again;
    if (!tiles::split_entry_bundle(rebuilt, expected, max_entry, again).empty() || again != spans)
        CIVIC_FUZZ_FAIL("a rebuilt bundle does not split the same way");
    return 0;
}
