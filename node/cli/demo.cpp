// protocol-demo: the whole protocol in one process, from keys to an offline
// verification, with the files it makes left in --dir.
#include "node/cli/commands.hpp"
#include "protocol/bundle.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "protocol/merkle.hpp"
#include "protocol/note.hpp"
#include "protocol/tiles.hpp"

#include <ctime>
#include <filesystem>
#include <map>
#include <ostream>

namespace civic::node::cli_detail {

void describe_demo(po::options_description& o) {
    o.add_options()("dir", po::value<std::string>()->required(),
                    "an empty or new directory for the demo's files")(
        "entries", po::value<unsigned>()->default_value(1000),
        "how many statements to log (1..1000000)");
}

// One function on purpose: the six steps read as the walk-through they print,
// and each uses what the steps before it made.
int run_demo(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    namespace fs = std::filesystem;
    fs::path dir = vm["dir"].as<std::string>();
    unsigned count = vm["entries"].as<unsigned>();
    if (count < 1 || count > 1000000) {
        err << "civic-attest protocol-demo: --entries must be 1..1000000\n";
        return exit_usage;
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || (fs::exists(dir / "policy.txt"))) {
        err << "civic-attest protocol-demo: --dir " << dir.string()
            << ": must be a new or empty directory\n";
        return exit_usage;
    }
    auto step = [&](const std::string& s) { out << "\n== " << s << "\n"; };

    step("1. Keys: one log key, three witness keys, one identity key (Ed25519, libsodium)");
    const std::string origin = "demo.civic-attest.example/log";
    note::ed25519_signer log(origin, ed25519::secret_key::generate());
    std::vector<note::cosigner> witnesses;
    for (int i = 1; i <= 3; ++i)
        witnesses.emplace_back("witness" + std::to_string(i) + ".example",
                               ed25519::secret_key::generate());
    auto clerk = ed25519::secret_key::generate();
    out << "log vkey:      " << note::format_vkey(log.verifier_key()) << "\n";
    for (const auto& w : witnesses)
        out << "witness vkey:  " << note::format_vkey(w.verifier_key()) << "\n";

    step("2. Ledger: register an identity, then log " + std::to_string(count) +
         " signed statements");
    tiles::memory_tiles tree;
    std::vector<entry> logged;
    entry reg;
    reg.kind = entry_kind::identity_registration;
    reg.timestamp_ms = 1795000000000;
    reg.identity = "town-of-example/clerk";
    reg.public_key = clerk.public_key_bytes();
    reg.sign(clerk);
    logged.push_back(reg);
    tree.append(merkle::leaf_hash(reg.encode()));
    std::uint64_t chosen = 1 + count / 2;
    std::string chosen_doc;
    for (unsigned i = 0; i < count; ++i) {
        std::string doc =
            "Council minutes no. " + std::to_string(i) + ": the library opens on Sundays.\n";
        entry e;
        e.timestamp_ms = 1795000000000 + i + 1;
        e.identity = reg.identity;
        e.public_key = clerk.public_key_bytes();
        e.content_hash = sha256(byte_view(doc));
        e.sign(clerk);
        if (logged.size() == chosen) chosen_doc = doc;
        tree.append(merkle::leaf_hash(e.encode()));
        logged.push_back(std::move(e));
    }
    out << "tree size " << tree.size() << ", root " << base64_encode(tree.root()) << "\n";

    step("3. Checkpoint: signed by the log, cosigned by two of the three witnesses");
    checkpoint cp{origin, tree.size(), tree.root(), {}};
    note::note signed_cp{cp.text(), {log.sign(cp.text())}};
    auto now = static_cast<std::uint64_t>(std::time(nullptr));
    signed_cp.signatures.push_back(witnesses[0].cosign(cp.text(), now));
    signed_cp.signatures.push_back(witnesses[1].cosign(cp.text(), now));
    auto checkpoint_text = note::serialize(signed_cp);
    out << checkpoint_text;

    step("4. Bundle: a c2sp.org/tlog-proof@v1 file for entry " + std::to_string(chosen));
    auto inclusion = tiles::inclusion_proof(tree, chosen, tree.size());
    if (!inclusion) {
        err << "civic-attest protocol-demo: " << inclusion.message() << "\n";
        return exit_failed;
    }
    auto proof = make_bundle(logged[chosen], chosen, *inclusion, checkpoint_text).serialize();
    std::string policy_text = "# Trust the demo log if two of its three witnesses cosigned.\nlog " +
                              note::format_vkey(log.verifier_key()) + "\n";
    for (std::size_t i = 0; i < witnesses.size(); ++i)
        policy_text += "witness W" + std::to_string(i + 1) + " " +
                       note::format_vkey(witnesses[i].verifier_key()) + "\n";
    policy_text += "group two-of-three 2 W1 W2 W3\nquorum two-of-three\n";
    for (auto [name, content] : std::map<std::string, std::string>{
             {"document.txt", chosen_doc},
             {"document.tlog-proof", proof},
             {"policy.txt", policy_text},
             {"tampered.txt", chosen_doc.substr(0, chosen_doc.size() - 9) + "Mondays.\n"}}) {
        if (auto ok = write_public(dir / name, content); !ok) {
            err << "civic-attest protocol-demo: " << ok.message() << "\n";
            return exit_failed;
        }
    }
    out << proof << "\nwrote " << (dir / "document.tlog-proof").string()
        << ", document.txt, tampered.txt, policy.txt\n";

    step("5. Offline verification (what 'civic-attest verify' does)");
    auto trust = policy_verifier::make(*parse_policy(policy_text));
    auto good = verify_bundle(*trust, proof, sha256(byte_view(chosen_doc)));
    for (const auto& c : good.checks)
        out << "  " << (c.passed ? "ok  " : "FAIL") << " " << c.name << ": " << c.detail << "\n";
    out << "document.txt: " << (good.valid ? "VALID" : "INVALID") << "\n";
    auto bad = verify_bundle(
        *trust, proof,
        sha256(byte_view(chosen_doc.substr(0, chosen_doc.size() - 9) + "Mondays.\n")));
    out << "tampered.txt: " << (bad.valid ? "VALID" : "INVALID") << "\n";

    step("6. Consistency: the log's earlier tree is a prefix of today's");
    std::uint64_t old_size = tree.size() / 3 + 1;
    auto old_root = tiles::root_at(tree, tree.size(), old_size);
    auto consistency = tiles::consistency_proof(tree, old_size, tree.size());
    bool consistent =
        old_root && consistency &&
        merkle::verify_consistency(old_size, tree.size(), *consistency, *old_root, tree.root())
            .ok();
    out << "size " << old_size << " -> " << tree.size() << ": "
        << (consistency ? consistency->size() : 0) << "-hash proof, "
        << (consistent ? "consistent" : "NOT consistent") << "\n";
    return good.valid && !bad.valid && consistent ? exit_ok : exit_failed;
}

} // namespace civic::node::cli_detail
