#include "node/cli/fsck.hpp"

#include "actors/errors.hpp"
#include "actors/registry.hpp"
#include "node/system/files.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "storage/ledger_store.hpp"

#include <filesystem>
#include <map>

namespace civic::node {

namespace fs = std::filesystem;

namespace {

/// The log's verifier key: log.vkey, else the one log.key makes.
result<std::unique_ptr<note::verifier>> log_verifier(const fs::path& dir) {
    auto vkey_file = dir / "log.vkey";
    std::error_code ec;
    if (fs::exists(vkey_file, ec)) {
        auto text = read_file(vkey_file.string());
        if (!text) return text.err();
        auto line = text->substr(0, text->find('\n'));
        auto parsed = note::parse_vkey(line);
        if (!parsed) return make_error(vkey_file.string() + ": " + parsed.message());
        return note::make_verifier(*parsed);
    }
    auto key_file = dir / "log.key";
    if (!fs::exists(key_file, ec))
        return make_error(dir.string() + ": no log.vkey or log.key to check signatures with");
    auto key = read_signer_key_file(key_file.string());
    if (!key) return key.err();
    note::ed25519_signer signer(key->name, std::move(key->key));
    return note::make_verifier(signer.verifier_key());
}

} // namespace

fsck_outcome check_data_dir(const std::string& data_dir,
                            const std::function<void(const std::string&)>& progress) {
    using verdict = fsck_outcome::verdict;
    fsck_outcome out;
    auto fail = [&](verdict v, std::string what) {
        out.result = v;
        out.what = std::move(what);
        return out;
    };
    const fs::path dir = data_dir;
    const auto ledger_dir = (dir / "ledger").string();
    const auto file = storage::data_file(ledger_dir);
    std::error_code ec;
    if (!fs::exists(file, ec))
        return fail(verdict::unopenable, "no store: " + file + " is missing");

    // Every page, in a child: what would crash LMDB fails here instead.
    if (auto ok = storage::check_environment({ledger_dir}); !ok) {
        bool unreadable = ok.message().find(" is truncated: ") != std::string::npos ||
                          ok.message().find(" is not a readable LMDB file") != std::string::npos;
        return fail(unreadable ? verdict::unopenable : verdict::damaged, ok.message());
    }
    auto opened = storage::ledger_store::open({ledger_dir});
    if (!opened) return fail(verdict::unopenable, opened.message());
    auto& store = **opened;
    auto verifier = log_verifier(dir);
    if (!verifier) return fail(verdict::unopenable, verifier.message());
    auto tree = store.load_tree();
    if (!tree) return fail(verdict::damaged, file + ": the stored tree: " + tree.message());
    if (auto ok = storage::verify_recovered_tree(store, *tree, **verifier); !ok)
        return fail(verdict::damaged, file + ": " + ok.message());
    const auto size = tree->size();
    progress("the latest checkpoint is signed and is the stored tree (" + std::to_string(size) +
             " entries); checking every entry and tile");
    if (auto ok = storage::audit_tree(store, *tree); !ok)
        return fail(verdict::damaged, file + ": " + ok.message());
    out.counts.entries = size;

    // Every checkpoint the log ever signed here: its signature, and its root is
    // the tree's at its size (tiles checked above; a cache saves rehashing them).
    tiles::tile_cache subtrees(store, 64);
    for (std::uint64_t after = 0;;) {
        auto next = store.checkpoint_boundary(after, after + 1);
        if (!next) return fail(verdict::damaged, file + ": checkpoints: " + next.message());
        if (*next == 0) break;
        auto at = std::to_string(*next);
        auto text = store.checkpoint_at(*next);
        if (!text || !*text)
            return fail(verdict::damaged,
                        file + ": the checkpoint at size " + at + " is unreadable");
        auto cp = parse_signed_checkpoint(**text);
        if (!cp)
            return fail(verdict::damaged,
                        file + ": the checkpoint at size " + at + ": " + cp.message());
        if (auto signed_ok = note::open(cp->signed_note, {verifier->get()}); !signed_ok)
            return fail(verdict::damaged, file + ": the checkpoint at size " + at +
                                              " is not signed by the log's key");
        if (cp->body.size != *next || *next > size)
            return fail(verdict::damaged, file + ": the checkpoint stored at size " + at +
                                              " is for size " + std::to_string(cp->body.size));
        auto root = tiles::root_at(subtrees, size, *next);
        if (!root || *root != cp->body.root)
            return fail(verdict::damaged,
                        file + ": the checkpoint at size " + at +
                            " has another root than the tree at that size (index " +
                            std::to_string(*next - 1) + " and below)");
        ++out.counts.checkpoints;
        after = *next;
    }

    // Identity records: what the registry rules make of the (checked) entries.
    progress("checkpoints consistent (" + std::to_string(out.counts.checkpoints) +
             "); replaying the identity registry");
    std::map<std::string, storage::identity_record> replayed;
    for (std::uint64_t i = 0; i < size; ++i) {
        auto raw = store.entry(i);
        if (!raw || !*raw) return fail(verdict::damaged, file + ": entry " + std::to_string(i));
        auto e = decode_entry(**raw);
        if (!e) continue; // the tree holds it as it is; only registry entries matter here
        auto found = replayed.find(e->identity);
        std::optional<storage::identity_record> current;
        if (found != replayed.end()) current = found->second;
        auto after = actors::admit(current, *e, i);
        if (!after) continue; // refused entries never reach a ledger; not the store's doing
        if (*after) replayed[e->identity] = std::move(**after);
    }
    std::string from;
    for (;;) {
        auto names = store.identity_names(from, 1000);
        if (!names) return fail(verdict::damaged, file + ": identities: " + names.message());
        for (const auto& name : *names) {
            auto rec = store.identity(name);
            if (!rec || !*rec)
                return fail(verdict::damaged,
                            file + ": the identity record of '" + name + "' is unreadable");
            auto expected = replayed.find(name);
            if (expected == replayed.end() ||
                storage::encode(expected->second) != storage::encode(**rec))
                return fail(verdict::damaged, file + ": the identity record of '" + name +
                                                  "' is not what the log's entries make it");
            replayed.erase(expected);
            ++out.counts.identities;
        }
        if (names->size() < 1000) break;
        from = names->back();
    }
    if (!replayed.empty())
        return fail(verdict::damaged,
                    file + ": the identity record of '" + replayed.begin()->first + "' is missing");

    auto tokens = store.tokens();
    if (!tokens) return fail(verdict::damaged, file + ": tokens: " + tokens.message());
    out.counts.tokens = tokens->size();
    return out;
}

} // namespace civic::node
