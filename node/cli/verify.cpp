// verify: checks a .tlog-proof bundle offline, against a policy or one log key.
#include "node/cli/commands.hpp"
#include "node/system/files.hpp"
#include "protocol/bundle.hpp"

#include <algorithm>
#include <ostream>

namespace civic::node::cli_detail {

namespace {

/// The log (and witnesses) --policy or --log-key trusts.
result<policy_verifier> load_verify_trust(const po::variables_map& vm) {
    if (vm.count("policy") == vm.count("log-key"))
        return make_error("give exactly one of --policy FILE and --log-key VKEY");
    if (vm.count("log-key")) return trust_log_key(vm["log-key"].as<std::string>(), "--log-key");
    auto source = "--policy " + vm["policy"].as<std::string>();
    auto file = read_file(vm["policy"].as<std::string>());
    if (!file) return make_error("--policy " + file.message());
    auto p = parse_policy(*file);
    if (!p) return make_error(source + ": " + p.message());
    auto v = policy_verifier::make(*p);
    if (!v) return make_error(source + ": " + v.message());
    return v;
}

} // namespace

result<policy_verifier> trust_log_key(const std::string& vkey, const std::string& source) {
    // One line only: the key must not smuggle further policy lines in.
    if (vkey.find_first_of("\r\n") != std::string::npos)
        return make_error(source + ": a verifier key is one line");
    auto p = parse_policy("log " + vkey + "\nquorum none\n");
    if (!p) return make_error(source + ": " + p.message());
    auto v = policy_verifier::make(*p);
    if (!v) return make_error(source + ": " + v.message());
    return v;
}

void describe_verify(po::options_description& o) {
    o.add_options()("proof", po::value<std::string>()->required(), "the .tlog-proof file")(
        "content", po::value<std::string>(),
        "the signed document (its SHA-256 must match the entry)")(
        "content-sha256", po::value<std::string>(),
        "the document's SHA-256 in hex, instead of --content")(
        "policy", po::value<std::string>(),
        "a tlog-policy file: trusted logs, witnesses and quorum")(
        "log-key", po::value<std::string>(),
        "the log's verifier key, instead of --policy (no witnesses needed)")(
        "json", "print the verdict as JSON");
}

int run_verify(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto trust = load_verify_trust(vm);
    if (!trust) {
        err << "civic-attest verify: " << trust.message() << "\n";
        return exit_usage;
    }
    auto proof_path = vm["proof"].as<std::string>();
    auto proof = read_file(proof_path);
    if (!proof) {
        err << "civic-attest verify: --proof " << proof.message() << "\n";
        return exit_usage;
    }
    std::optional<hash> content;
    if (vm.count("content") && vm.count("content-sha256")) {
        err << "civic-attest verify: give at most one of --content and --content-sha256\n";
        return exit_usage;
    }
    if (vm.count("content")) {
        auto doc = read_file(vm["content"].as<std::string>());
        if (!doc) {
            err << "civic-attest verify: --content " << doc.message() << "\n";
            return exit_usage;
        }
        content = sha256(byte_view(*doc));
    } else if (vm.count("content-sha256")) {
        auto h = hex_decode(vm["content-sha256"].as<std::string>());
        if (!h || h->size() != 32) {
            err << "civic-attest verify: --content-sha256 must be 64 hex digits\n";
            return exit_usage;
        }
        content.emplace();
        std::copy(h->begin(), h->end(), content->begin());
    } else {
        err << "civic-attest verify: warning: no --content given, so the document itself is not "
               "checked\n";
    }

    auto verdict = verify_bundle(*trust, *proof, content);
    if (vm.count("json")) {
        nlohmann::json j;
        j["valid"] = verdict.valid;
        j["checks"] = nlohmann::json::array();
        for (const auto& c : verdict.checks)
            j["checks"].push_back({{"check", c.name}, {"passed", c.passed}, {"detail", c.detail}});
        out << j.dump(2) << "\n";
    } else {
        out << proof_path << ": " << (verdict.valid ? "VALID" : "INVALID") << "\n";
        for (const auto& c : verdict.checks)
            out << "  " << (c.passed ? "ok  " : "FAIL") << " " << c.name << ": " << c.detail
                << "\n";
    }
    return verdict.valid ? exit_ok : exit_failed;
}

} // namespace civic::node::cli_detail
