// log: reads a node's log (checkpoint, entry, proof, consistency, bundle) and,
// with --vkey, checks the checkpoint's signature and the proofs against it.
#include "node/cli/commands.hpp"
#include "node/system/files.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/merkle.hpp"
#include "protocol/note.hpp"

#include <ostream>

namespace civic::node::cli_detail {

result<std::string> read_vkey_arg(const std::string& arg) {
    if (note::parse_vkey(arg)) return arg;
    auto file = read_file(arg);
    if (!file)
        return make_error("--vkey: '" + arg + "' is neither a verifier key nor a readable file (" +
                          file.message() + ")");
    auto key = file->substr(0, file->find_first_of("\r\n"));
    if (auto parsed = note::parse_vkey(key); !parsed)
        return make_error("--vkey " + arg + ": " + parsed.message());
    return key;
}

result<policy_verifier> load_vkey(const po::variables_map& vm) {
    auto arg = vm["vkey"].as<std::string>();
    CIVIC_TRY_ASSIGN(key, read_vkey_arg(arg));
    return trust_log_key(key, "--vkey " + arg);
}

std::optional<signed_checkpoint> fetch_checkpoint(const node_client& node,
                                                  const policy_verifier* trust, std::string* text) {
    auto answer = node.text("GET", "/checkpoint");
    if (!answer) return std::nullopt;
    auto parsed = parse_signed_checkpoint(*answer);
    if (!parsed) {
        *node.err << node.who << ": the node's checkpoint does not parse: " << parsed.message()
                  << "\n";
        return std::nullopt;
    }
    if (trust) {
        auto verdict = trust->verify(*answer);
        if (!verdict) {
            *node.err << node.who
                      << ": the checkpoint does NOT verify with --vkey: " << verdict.message()
                      << "\n";
            return std::nullopt;
        }
    }
    if (text) *text = std::move(*answer);
    return std::move(*parsed);
}

std::vector<hash> proof_hashes(const nlohmann::json& reply) {
    const auto& list = reply.at("proof");
    if (!list.is_array() || list.size() > merkle::max_proof_hashes)
        throw bad_answer("'proof' is not a list of at most 64 hashes");
    std::vector<hash> out;
    for (const auto& h : list) {
        auto decoded = base64_decode_fixed<32>(h.get<std::string>());
        if (!decoded) throw bad_answer("'proof': " + decoded.message());
        out.push_back(*decoded);
    }
    return out;
}

/// The leaf hash of entry `index`, from the bytes the node serves.
std::optional<hash> fetch_leaf_hash(const node_client& node, std::uint64_t index) {
    auto reply = node.get("/api/entries/" + std::to_string(index));
    if (!reply) return std::nullopt;
    if (reply->at("index").get<std::uint64_t>() != index)
        throw bad_answer("asked for entry " + std::to_string(index) + ", got another");
    auto raw = base64_decode(reply->at("entry").get<std::string>());
    if (!raw) throw bad_answer("'entry': " + raw.message());
    return merkle::leaf_hash(*raw);
}

std::string consistency_target(std::uint64_t old_size, std::uint64_t new_size) {
    return "/api/proof/consistency?old=" + std::to_string(old_size) +
           "&new=" + std::to_string(new_size);
}

namespace {

int log_checkpoint(const node_client& node, const policy_verifier* trust, std::ostream& out) {
    std::string text;
    auto cp = fetch_checkpoint(node, trust, &text);
    if (!cp) return exit_failed;
    out << text;
    if (trust)
        *node.err << node.who << ": verified: signed by the log " << cp->body.origin
                  << ", tree size " << cp->body.size << "\n";
    else
        *node.err << node.who << ": signature not checked (give --vkey)\n";
    return exit_ok;
}

int log_proof(const node_client& node, const policy_verifier* trust, std::uint64_t index,
              std::optional<std::uint64_t> size, std::ostream& out) {
    // The latest checkpoint gives the default size, and with --vkey the signed root.
    std::optional<signed_checkpoint> cp;
    if (!size || trust) {
        cp = fetch_checkpoint(node, trust);
        if (!cp) return exit_failed;
        if (!size) size = cp->body.size;
    }
    if (trust && *size > cp->body.size) {
        *node.err << node.who << ": --size " << *size << " is beyond the latest checkpoint (size "
                  << cp->body.size << "): there is no signed root to check against\n";
        return exit_failed;
    }
    auto reply = node.get("/api/proof/inclusion?index=" + std::to_string(index) +
                          "&size=" + std::to_string(*size));
    if (!reply) return exit_failed;
    if (reply->at("index").get<std::uint64_t>() != index ||
        reply->at("size").get<std::uint64_t>() != *size)
        throw bad_answer("the proof is for another index or size");
    auto proof = proof_hashes(*reply);
    if (!trust) {
        out << reply->dump(2) << "\n";
        *node.err << node.who
                  << ": not checked (give --vkey to check it against the log's signed "
                     "checkpoint)\n";
        return exit_ok;
    }
    auto leaf = fetch_leaf_hash(node, index);
    if (!leaf) return exit_failed;
    const auto& signed_root = cp->body.root;
    status checked;
    if (*size == cp->body.size) {
        checked = merkle::verify_inclusion(index, *size, *leaf, proof, signed_root);
    } else {
        // An older size has no signed root: the proof implies one, and a
        // consistency proof must show that tree is a prefix of the signed one.
        auto root = merkle::root_from_inclusion(index, *size, *leaf, proof);
        auto consistency = node.get(consistency_target(*size, cp->body.size));
        if (!consistency) return exit_failed;
        checked = root ? merkle::verify_consistency(*size, cp->body.size,
                                                    proof_hashes(*consistency), *root, signed_root)
                       : status(root.err());
    }
    if (!checked) {
        *node.err << node.who << ": the proof does NOT verify: " << checked.message() << "\n";
        return exit_failed;
    }
    out << reply->dump(2) << "\n";
    *node.err << node.who << ": verified: entry " << index << " is in the tree of size " << *size;
    if (*size != cp->body.size)
        *node.err << ", a prefix of the tree of size " << cp->body.size << ",";
    *node.err << " signed by the log " << cp->body.origin << "\n";
    return exit_ok;
}

int log_consistency(const node_client& node, const po::variables_map& vm,
                    const policy_verifier* trust, std::ostream& out) {
    auto usage_error = [&](const std::string& message) {
        *node.err << node.who << ": " << message << "\n";
        return exit_usage;
    };
    auto old_size = number_flag(vm, "old");
    auto new_size = number_flag(vm, "new");
    if (!old_size) return usage_error(old_size.message());
    if (!new_size) return usage_error(new_size.message());
    if (!*old_size) return usage_error("--old is required");
    if (**old_size == 0) return usage_error("--old must be at least 1");
    if (*new_size && **new_size < **old_size) return usage_error("--new must be at least --old");
    std::optional<hash> old_root;
    if (vm.count("old-root")) {
        auto decoded = base64_decode_fixed<32>(vm["old-root"].as<std::string>());
        if (!decoded) return usage_error("--old-root: " + decoded.message());
        if (!trust)
            return usage_error("--old-root needs --vkey: the new root must come from a signed "
                               "checkpoint");
        old_root = *decoded;
    }
    std::optional<signed_checkpoint> cp;
    if (!*new_size || trust) {
        cp = fetch_checkpoint(node, trust);
        if (!cp) return exit_failed;
    }
    auto new_tree = *new_size ? **new_size : cp->body.size;
    if (old_root && new_tree != cp->body.size) {
        *node.err << node.who << ": --new " << new_tree << ": the node signs only its latest "
                  << "checkpoint (size " << cp->body.size << "); omit --new to check against it\n";
        return exit_failed;
    }
    auto reply = node.get(consistency_target(**old_size, new_tree));
    if (!reply) return exit_failed;
    if (reply->at("old").get<std::uint64_t>() != **old_size ||
        reply->at("new").get<std::uint64_t>() != new_tree)
        throw bad_answer("the proof is for other sizes");
    auto proof = proof_hashes(*reply);
    if (!old_root) {
        out << reply->dump(2) << "\n";
        *node.err << node.who << ": not checked (give --old-root, the root you kept for size "
                  << **old_size << (trust ? ")\n" : ", and --vkey)\n");
        return exit_ok;
    }
    auto checked =
        merkle::verify_consistency(**old_size, new_tree, proof, *old_root, cp->body.root);
    if (!checked) {
        *node.err << node.who << ": the proof does NOT verify: the tree of size " << **old_size
                  << " with --old-root is not a prefix of the signed checkpoint: "
                  << checked.message() << "\n";
        return exit_failed;
    }
    out << reply->dump(2) << "\n";
    *node.err << node.who << ": verified: the tree of size " << **old_size
              << " with --old-root is a prefix of the checkpoint of size " << new_tree
              << " signed by " << cp->body.origin << "\n";
    return exit_ok;
}

} // namespace

void describe_log(po::options_description& o) {
    o.add_options()("action", po::value<std::string>()->required(),
                    "checkpoint | entry | proof | consistency | bundle");
    describe_server(o);
    o.add_options()(
        "vkey", po::value<std::string>(),
        "the log's verifier key, or a file holding it (e.g. DATA/log.vkey): checkpoint, proof, "
        "consistency check the checkpoint's signature, and the proof against it")(
        "index", po::value<std::string>(), "entry, proof, bundle: the entry's index")(
        "size", po::value<std::string>(),
        "proof: the tree size to prove inclusion in (default: the latest checkpoint's)")(
        "old", po::value<std::string>(), "consistency: the older tree size")(
        "new", po::value<std::string>(),
        "consistency: the newer tree size (default: the latest checkpoint's)")(
        "old-root", po::value<std::string>(),
        "consistency: the root (base64) you kept for size --old; with --vkey the proof is "
        "checked against it");
}

int run_log(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto action = vm["action"].as<std::string>();
    std::vector<const char*> unused;
    if (action == "checkpoint")
        unused = {"index", "size", "old", "new", "old-root"};
    else if (action == "entry")
        unused = {"vkey", "size", "old", "new", "old-root"};
    else if (action == "proof")
        unused = {"old", "new", "old-root"};
    else if (action == "consistency")
        unused = {"index", "size"};
    else if (action == "bundle")
        unused = {"vkey", "size", "old", "new", "old-root"};
    else {
        err << "civic-attest log: unknown action '" << action
            << "' (checkpoint, entry, proof, consistency or bundle)\n";
        return exit_usage;
    }
    auto node = open_node(vm, "civic-attest log " + action, err);
    if (!node) return exit_usage;
    auto usage_error = [&](const std::string& message) { return node->usage_error(message); };
    if (auto ok = refuse_flags(vm, unused, "log " + action); !ok) return usage_error(ok.message());
    std::optional<policy_verifier> trust;
    if (vm.count("vkey")) {
        auto loaded = load_vkey(vm);
        if (!loaded) return usage_error(loaded.message());
        trust = std::move(*loaded);
    }
    const policy_verifier* trusted = trust ? &*trust : nullptr;
    if (action == "checkpoint") return log_checkpoint(*node, trusted, out);
    if (action == "consistency") return log_consistency(*node, vm, trusted, out);

    auto index = number_flag(vm, "index");
    auto size = number_flag(vm, "size");
    if (!index) return usage_error(index.message());
    if (!size) return usage_error(size.message());
    if (!*index) return usage_error("--index is required");
    if (*size && **index >= **size) return usage_error("--index must be below --size");
    if (action == "proof") return log_proof(*node, trusted, **index, *size, out);
    if (action == "bundle") {
        // The proof file against the newest witnessed checkpoint that covers the
        // entry: check it offline with `civic-attest verify --policy`.
        auto reply = node->get("/api/bundle/" + std::to_string(**index));
        if (!reply) return exit_failed;
        *node->err << node->who << ": entry " << **index << " under a checkpoint of size "
                   << reply->at("size").get<std::uint64_t>() << ", cosigned by "
                   << reply->at("witnesses").size() << " witness(es), quorum "
                   << (reply->at("quorum").get<bool>() ? "met" : "not met") << "\n";
        out << reply->at("proof").get<std::string>();
        return exit_ok;
    }
    auto reply = node->get("/api/entries/" + std::to_string(**index));
    if (!reply) return exit_failed;
    out << reply->dump(2) << "\n";
    return exit_ok;
}

} // namespace civic::node::cli_detail
