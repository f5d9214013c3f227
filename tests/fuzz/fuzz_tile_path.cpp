// libFuzzer target: tiles::parse_tile_path; the parsed request must regenerate
// the same path. Also the reverse: any tile's path must parse back to it.
#include "protocol/tiles.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace tiles = civic::tiles;
    std::string_view path(reinterpret_cast<const char*>(data), size);

    if (auto req = tiles::parse_tile_path(path)) {
        const auto& t = req->tile;
        if (t.level > tiles::max_tile_level) CIVIC_FUZZ_FAIL("tile level above 63 accepted");
        if (t.width < 1 || t.width > tiles::tile_width) CIVIC_FUZZ_FAIL("tile width out of range");
        if (req->entries && t.level != 0) CIVIC_FUZZ_FAIL("entry bundle with non-zero level");
        std::string again =
            req->entries ? tiles::entries_path(t.index, t.width) : tiles::tile_path(t);
        if (again != path) CIVIC_FUZZ_FAIL("regenerated tile path differs from the parsed one");
    }

    // Reverse direction, from the first 11 bytes as (level, index, width).
    if (size >= 11) {
        tiles::tile_id t;
        t.level = static_cast<std::uint8_t>(data[0] % (tiles::max_tile_level + 1));
        t.index = civic::get_u64_be(data + 1);
        t.width = static_cast<std::uint16_t>(1 + civic::get_u16_be(data + 9) % tiles::tile_width);
        auto req = tiles::parse_tile_path(tiles::tile_path(t));
        if (!req || req->entries || !(req->tile == t))
            CIVIC_FUZZ_FAIL("tile_path does not parse back");
        auto ent = tiles::parse_tile_path(tiles::entries_path(t.index, t.width));
        if (!ent || !ent->entries || ent->tile.index != t.index || ent->tile.width != t.width)
            CIVIC_FUZZ_FAIL("entries_path does not parse back");
    }
    return 0;
}
