#include "protocol/split_view.hpp"

#include "protocol/merkle.hpp"

namespace civic {

const char* to_string(split_view_kind kind) {
    return kind == split_view_kind::fork ? "fork" : "inconsistent";
}

result<split_view_kind> check_split_view(const split_view_evidence& e,
                                         const note::verifier& log_key) {
    auto open = [&log_key](const std::string& text, const char* which) -> result<checkpoint> {
        auto cp = parse_signed_checkpoint(text);
        if (!cp) return make_error(std::string(which) + ": " + cp.message());
        if (auto ok = note::open(cp->signed_note, {&log_key}); !ok)
            return make_error(std::string(which) + ": not signed by the log: " + ok.message());
        return cp->body;
    };
    CIVIC_TRY_ASSIGN(a, open(e.ours, "ours"));
    CIVIC_TRY_ASSIGN(b, open(e.theirs, "theirs"));
    if (a.origin != b.origin) return make_error("the checkpoints are of two origins");
    if (a.size == b.size) {
        if (a.root == b.root) return make_error("the same size and root: no contradiction");
        return split_view_kind::fork;
    }
    const auto& small = a.size < b.size ? a : b;
    const auto& large = a.size < b.size ? b : a;
    if (!e.root_at_smaller) return make_error("no root of the larger tree at the smaller size");
    if (*e.root_at_smaller == small.root)
        return make_error("the larger tree has the smaller checkpoint's root: no contradiction");
    if (small.size == 0) return make_error("a checkpoint of the empty tree contradicts nothing");
    if (auto ok = merkle::verify_consistency(small.size, large.size, e.proof, *e.root_at_smaller,
                                             large.root);
        !ok)
        return make_error("the proof does not take the given root to the larger checkpoint: " +
                          ok.message());
    return split_view_kind::inconsistent;
}

} // namespace civic
