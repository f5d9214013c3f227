#include "node/cli/audit/history.hpp"

#include "node/system/files.hpp"
#include "protocol/merkle.hpp"
#include "protocol/witness.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace civic::node::audit {

namespace fs = std::filesystem;
using relation = history_finding::relation;

namespace {

std::string size_and_root(const checkpoint& c) {
    return "size " + std::to_string(c.size) + " root " + base64_encode(c.root);
}

/// A smaller checkpoint than the verified one: the state's own tiles give the
/// verified tree's root at the smaller size, and the proof from there.
history_finding rolled_back(const seen_checkpoint& verified, const seen_checkpoint& now,
                            const tiles::tile_reader& own) {
    history_finding f;
    f.how = relation::split;
    f.kind = "rollback";
    f.evidence.ours = verified.text;
    f.evidence.theirs = now.text;
    f.message = "the log now serves a checkpoint of " + size_and_root(now.body) +
                ", smaller than the one it signed and this state verified (" +
                size_and_root(verified.body) + ")";
    if (now.body.size == 0) return f;
    auto root = tiles::root_at(own, verified.body.size, now.body.size);
    auto proof = tiles::consistency_proof(own, now.body.size, verified.body.size);
    if (!root || !proof) {
        f.message +=
            "; the state's tiles give no proof: " + (root ? proof.message() : root.message());
        return f;
    }
    f.evidence.root_at_smaller = *root;
    f.evidence.proof = *proof;
    if (*root != now.body.root) {
        f.kind = "inconsistent";
        f.message += ", and with another history: the verified tree's root at size " +
                     std::to_string(now.body.size) + " is " + base64_encode(*root);
    }
    return f;
}

/// A larger checkpoint: the proof from the served tiles must take the
/// verified root to the new one. If it does not, but takes another root at the
/// verified size there, the log's tree has another history: a split.
result<history_finding> grown(const seen_checkpoint& verified, const seen_checkpoint& now,
                              const tiles::tile_reader& served) {
    history_finding f;
    f.how = relation::extends;
    const auto old_size = verified.body.size, new_size = now.body.size;
    if (old_size == 0) return f;
    auto proof = tiles::consistency_proof(served, old_size, new_size);
    if (!proof) {
        f.message = "no consistency proof from the served tiles (" + proof.message() +
                    "): the recomputed tree decides";
        return f;
    }
    if (merkle::verify_consistency(old_size, new_size, *proof, verified.body.root, now.body.root))
        return f;
    auto root = tiles::root_at(served, new_size, old_size);
    if (!root || !merkle::verify_consistency(old_size, new_size, *proof, *root, now.body.root)) {
        f.message = "the served tiles do not make the checkpoint's root: the recomputed tree "
                    "decides";
        return f;
    }
    f.how = relation::split;
    f.kind = "inconsistent";
    f.evidence = split_view_evidence{now.text, verified.text, *root, *proof};
    f.message = "the checkpoint of " + size_and_root(now.body) +
                " does not extend the verified one of " + size_and_root(verified.body) +
                ": its tree's root at size " + std::to_string(old_size) + " is " +
                base64_encode(*root);
    return f;
}

std::string evidence_json(const history_finding& split, const std::string& origin,
                          const std::string& shown_by) {
    const auto& e = split.evidence;
    nlohmann::json j = {
        {"origin", origin},
        {"kind", split.kind},
        {"shown_by", shown_by},
        {"ours", e.ours},
        {"theirs", e.theirs},
        {"root_at_smaller", e.root_at_smaller ? base64_encode(*e.root_at_smaller) : ""},
        {"proof", witness::proof_lines(e.proof)}};
    return j.dump(2) + "\n";
}

/// Writes every file of the evidence into `dir`, each fsync'd.
status write_evidence_files(const std::string& dir, const history_finding& split,
                            const std::string& summary) {
    const auto& e = split.evidence;
    CIVIC_TRY(replace_file_durably(dir + "/ours.checkpoint", e.ours));
    CIVIC_TRY(replace_file_durably(dir + "/theirs.checkpoint", e.theirs));
    if (e.root_at_smaller) {
        CIVIC_TRY(replace_file_durably(dir + "/root_at_smaller",
                                       base64_encode(*e.root_at_smaller) + "\n"));
        CIVIC_TRY(replace_file_durably(dir + "/proof", witness::proof_lines(e.proof)));
    }
    return replace_file_durably(dir + "/evidence.json", summary);
}

} // namespace

result<history_finding> compare_history(const seen_checkpoint& verified, const seen_checkpoint& now,
                                        const tiles::tile_reader& served,
                                        const tiles::tile_reader& own) {
    if (now.body.size < verified.body.size) return rolled_back(verified, now, own);
    if (now.body.size > verified.body.size) return grown(verified, now, served);
    history_finding f;
    if (now.body.root == verified.body.root) return f;
    f.how = relation::split;
    f.kind = "fork";
    f.evidence = split_view_evidence{verified.text, now.text, std::nullopt, {}};
    f.message = "the checkpoint of " + size_and_root(now.body) +
                " has another root than the verified one of the same size (" +
                base64_encode(verified.body.root) + ")";
    return f;
}

result<std::string> write_evidence(const std::string& state_dir, const history_finding& split,
                                   const std::string& origin, std::uint64_t size_now,
                                   const std::string& shown_by) {
    const auto parent = state_dir + "/evidence";
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) return make_error(parent + ": cannot create: " + ec.message());
    const auto summary = evidence_json(split, origin, shown_by);
    const auto base = std::to_string(size_now) + "-" + split.kind;
    for (int n = 1;; ++n) {
        auto dir = parent + "/" + base + (n == 1 ? "" : "-" + std::to_string(n));
        if (fs::exists(dir, ec)) {
            // The same evidence from an earlier run: once is enough.
            auto held = read_file(dir + "/evidence.json");
            if (held && *held == summary) return dir;
            continue;
        }
        // Whole or not at all: written aside, then renamed into place.
        auto aside = parent + "/." + base + ".tmp";
        fs::remove_all(aside, ec);
        fs::create_directories(aside, ec);
        if (ec) return make_error(aside + ": cannot create: " + ec.message());
        CIVIC_TRY(write_evidence_files(aside, split, summary));
        fs::rename(aside, dir, ec);
        if (ec) return make_error(dir + ": cannot rename " + aside + " to it: " + ec.message());
        CIVIC_TRY(sync_directory(parent));
        return dir;
    }
}

} // namespace civic::node::audit
