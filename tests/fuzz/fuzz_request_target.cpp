// libFuzzer target: node::parse_target, the HTTP API's first look at a request.
// What it accepts starts with '/', holds no control byte, at most 16 distinct
// parameters, and a path with no '/' the client did not send as one.
#include "node/http/target.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

bool has_control(const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view raw(reinterpret_cast<const char*>(data), size);
    auto t = civic::node::parse_target(raw);
    if (!t) {
        if (t.message().empty()) CIVIC_FUZZ_FAIL("a refusal without a reason");
        return 0;
    }
    if (t->path.empty() || t->path.front() != '/') CIVIC_FUZZ_FAIL("a path not starting with /");
    if (has_control(t->path)) CIVIC_FUZZ_FAIL("a control byte in the path");
    if (t->query.size() > civic::node::max_query_params) CIVIC_FUZZ_FAIL("too many parameters");
    for (const auto& [name, value] : t->query)
        if (has_control(name) || has_control(value)) CIVIC_FUZZ_FAIL("a control byte in the query");
    auto raw_path = raw.substr(0, raw.find('?'));
    if (std::count(t->path.begin(), t->path.end(), '/') !=
        std::count(raw_path.begin(), raw_path.end(), '/'))
        CIVIC_FUZZ_FAIL("decoding made a '/'");
    if (t->path.size() > raw_path.size()) CIVIC_FUZZ_FAIL("decoding made the path longer");
    return 0;
}
