// sign: signs a document through a node; only its hash leaves this machine.
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
        "out", po::value<std::string>(), "where to write the proof (default: FILE.tlog-proof)");
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
    nlohmann::json body{{"identity", vm["identity"].as<std::string>()},
                        {"content_sha256", hex_encode(sha256(byte_view(*doc)))}};
    auto reply = node->json("POST", "/api/sign", body.dump());
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
    err << "civic-attest sign: " << path << " is entry " << index << " of the log\n";
    out << out_path << "\n";
    return exit_ok;
}

} // namespace civic::node::cli_detail
