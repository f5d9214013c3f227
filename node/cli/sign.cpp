// sign: signs a document, through a node (custodial identities) or here with
// the owner's key (--key) and submits the signed entry; either way only the
// document's hash leaves this machine.
#include "node/cli/commands.hpp"
#include "node/system/files.hpp"

#include <fstream>
#include <ostream>

namespace civic::node::cli_detail {

void describe_sign(po::options_description& o) {
    describe_server(o);
    describe_token_file(o, "signing");
    o.add_options()("identity", po::value<std::string>()->required(), "the identity to sign for")(
        "file", po::value<std::string>()->required(), "the document to sign")(
        "out", po::value<std::string>(), "where to write the proof (default: FILE.tlog-proof)")(
        "key", po::value<std::string>(),
        "the identity's key file (keygen --identity): sign here and submit the signed entry; "
        "the node never sees the key")("journal", po::value<std::string>(),
                                       "append what was signed (index, leaf hash) to this file, "
                                       "for `monitor --journal`")(
        "witnessed", po::bool_switch(),
        "wait for the network's witnesses: the proof carries their cosignatures once a "
        "checkpoint covering the entry meets the policy's quorum (the node answers with the "
        "log-signed proof if that takes longer than it waits)");
}

int run_sign(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto node = open_node(vm, "civic-attest sign", err);
    if (!node) return exit_usage;
    if (auto ok = node->authorize(vm); !ok) {
        err << node->who << ": " << ok.message() << "\n";
        return exit_usage;
    }
    auto path = vm["file"].as<std::string>();
    auto doc = read_file(path);
    if (!doc) {
        err << "civic-attest sign: --file " << doc.message() << "\n";
        return exit_usage;
    }
    // Only the document's hash leaves this machine.
    auto identity = vm["identity"].as<std::string>();
    auto content = sha256(byte_view(*doc));
    bool witnessed = vm["witnessed"].as<bool>();
    std::optional<nlohmann::json> reply;
    if (vm.count("key")) {
        auto key = read_owner_key(vm, "key", identity);
        if (!key) return node->usage_error(key.message());
        reply = submit_owner_entry(
            *node, sign_owner_entry(entry_kind::statement, identity, *key, content, {}), witnessed);
    } else {
        nlohmann::json body{{"identity", identity}, {"content_sha256", hex_encode(content)}};
        if (witnessed) body["witnessed"] = true;
        reply = node->json("POST", "/api/sign", body.dump());
    }
    if (!reply) return exit_failed;
    auto proof_text = reply->at("proof").get<std::string>();
    auto index = reply->at("index").get<std::uint64_t>();
    auto out_path = vm.count("out") ? vm["out"].as<std::string>() : path + ".tlog-proof";
    std::ofstream proof(out_path, std::ios::binary | std::ios::trunc);
    proof << proof_text;
    proof.close();
    if (!proof) {
        err << "civic-attest sign: --out " << out_path << ": write failed\n";
        return exit_failed;
    }
    err << "civic-attest sign: " << path << " is entry " << index << " of the log";
    if (witnessed) {
        auto quorum = reply->value("quorum", false);
        err << (quorum ? ", witnessed: the proof meets the network's quorum"
                       : ", not yet witnessed: the proof is log-signed (the witnesses did not "
                         "cosign in time)");
    }
    err << "\n";
    // After the proof: a journal that cannot be written loses no proof.
    if (vm.count("journal"))
        if (auto ok = append_journal(vm["journal"].as<std::string>(), *reply); !ok) {
            err << "civic-attest sign: entry " << index
                << " is logged but not journaled: " << ok.message() << "\n";
            return exit_failed;
        }
    out << out_path << "\n";
    return exit_ok;
}

} // namespace civic::node::cli_detail
