// libFuzzer target: basp::stream_guard, which reads what peers send on the peer
// port. The first byte picks how the rest is cut into feed() calls: whatever
// the cut, the verdict and the node found must be those of one whole feed.
#include "protocol/basp_guard.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t piece = 1 + data[0] % 64;
    ++data;
    --size;
    constexpr std::size_t max_payload = 4096;
    // Actors with an even id are exposed, and the named actor 1.
    auto exposed = [](std::uint64_t dest, bool named) { return named ? dest == 1 : dest % 2 == 0; };
    // The input read as what this node sent, too: its requests may be answered.
    civic::basp::outgoing_watch whole_watch, cut_watch;
    whole_watch.feed(data, size);
    cut_watch.feed(data, size);
    auto answers = [](civic::basp::outgoing_watch& w) {
        return [&w](std::uint64_t dest, std::uint64_t request) { return w.answer(dest, request); };
    };
    civic::basp::stream_guard whole(max_payload, exposed, answers(whole_watch));
    std::string whole_out;
    bool whole_ok = whole.feed(data, size, whole_out).ok();
    civic::basp::stream_guard cut(max_payload, exposed, answers(cut_watch));
    std::string cut_out;
    bool cut_ok = true;
    for (std::size_t at = 0; at < size && cut_ok; at += piece) {
        auto n = size - at < piece ? size - at : piece;
        cut_ok = cut.feed(data + at, n, cut_out).ok();
    }
    if (whole_ok != cut_ok) CIVIC_FUZZ_FAIL("the verdict depends on how the stream is cut");
    if (whole.peer_node() != cut.peer_node()) CIVIC_FUZZ_FAIL("the node found depends on the cut");
    if (whole_ok && whole_out != cut_out)
        CIVIC_FUZZ_FAIL("what passes depends on how the stream is cut");
    if (whole_out.size() > size) CIVIC_FUZZ_FAIL("more bytes out than in");
    if (whole_watch.pending() > civic::basp::outgoing_watch::max_pending)
        CIVIC_FUZZ_FAIL("the watch keeps more requests than its bound");
    if (whole.peer_node() && whole.peer_node()->size() != civic::basp::node_id_size)
        CIVIC_FUZZ_FAIL("a node id of the wrong size");
    std::string after;
    if (!whole_ok && (whole.feed(data, size, after).ok() || !after.empty()))
        CIVIC_FUZZ_FAIL("a failed guard passed later bytes");
    return 0;
}
