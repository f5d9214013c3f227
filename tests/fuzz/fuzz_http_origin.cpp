// libFuzzer target: node::parse_http_origin, how a policy's witness URL is
// read. What it accepts has a host, a port of 1 to 65535, a prefix that is
// empty or starts with '/' and does not end with one, and no white space;
// its url() parses again to the same origin.
#include "node/http/origin.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string raw(reinterpret_cast<const char*>(data), size);
    auto o = civic::node::parse_http_origin(raw);
    if (!o) {
        if (o.message().empty()) CIVIC_FUZZ_FAIL("a refusal without a reason");
        return 0;
    }
    if (o->host.empty()) CIVIC_FUZZ_FAIL("no host");
    if (o->port.empty() || o->port == "0" || o->port.size() > 5) CIVIC_FUZZ_FAIL("a bad port");
    if (!o->prefix.empty() && (o->prefix.front() != '/' || o->prefix.back() == '/'))
        CIVIC_FUZZ_FAIL("a prefix not of the form /a/b");
    if (raw.find_first_of(" \t\r\n") != std::string::npos) CIVIC_FUZZ_FAIL("white space accepted");
    auto again = civic::node::parse_http_origin(o->url());
    if (!again || again->host != o->host || again->port != o->port ||
        again->prefix != o->prefix || again->tls != o->tls)
        CIVIC_FUZZ_FAIL("url() does not parse back to the same origin");
    return 0;
}
