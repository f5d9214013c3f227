// identity: registers, rotates, revokes and lists a node's identities.
#include "node/cli/commands.hpp"
#include "protocol/entry.hpp"

#include <ostream>

namespace civic::node::cli_detail {

namespace {

/// identity list stops after this many pages, so a node that keeps answering
/// "next" cannot keep it running for ever.
constexpr int max_list_pages = 10000;

/// One line of identity list: name, current key (or "retired"), number of keys.
void print_identity(const nlohmann::json& id, std::ostream& out) {
    auto name = id.at("identity").get<std::string>();
    if (!check_identity_name(name)) throw bad_answer("an identity name is not valid");
    const auto& keys = id.at("keys");
    if (!keys.is_array() || keys.empty()) throw bad_answer("'" + name + "' has no keys");
    bool retired = id.at("retired").get<bool>();
    out << name << " " << (retired ? "retired" : key_hex(keys.back(), "public_key")) << " "
        << keys.size() << (keys.size() == 1 ? " key" : " keys") << "\n";
}

int list_identities(const node_client& node, const po::variables_map& vm, std::ostream& out) {
    if (vm.count("identity")) {
        auto reply = node.get("/api/identities/" + vm["identity"].as<std::string>());
        if (!reply) return exit_failed;
        print_identity(*reply, out);
        return exit_ok;
    }
    auto page_size = parse_decimal(vm["page-size"].as<std::string>(), 1000);
    if (!page_size || *page_size == 0) {
        *node.err << node.who << ": --page-size must be 1..1000\n";
        return exit_usage;
    }
    std::string after;
    for (int page = 0; page < max_list_pages; ++page) {
        auto target = "/api/identities?limit=" + std::to_string(*page_size);
        if (!after.empty()) target += "&after=" + after;
        auto reply = node.get(target);
        if (!reply) return exit_failed;
        for (const auto& id : reply->at("identities"))
            print_identity(id, out);
        if (!reply->contains("next")) return exit_ok;
        // Names come in order: a "next" that does not move on would loop.
        auto next = reply->at("next").get<std::string>();
        if (!check_identity_name(next) || next <= after)
            throw bad_answer("'next' is not a valid name after '" + after + "'");
        after = std::move(next);
    }
    *node.err << node.who << ": stopped after " << max_list_pages
              << " pages: the node kept answering 'next'\n";
    return exit_failed;
}

int add_identity(const node_client& node, const std::string& name, std::ostream& out) {
    auto reply = node.json("POST", "/api/identities", nlohmann::json{{"identity", name}}.dump());
    if (!reply) return exit_failed;
    out << key_hex(*reply, "public_key") << "\n";
    *node.err << node.who << ": registered '" << name << "' (entry "
              << reply->at("index").get<std::uint64_t>()
              << " of the log); its public key is on stdout\n";
    return exit_ok;
}

int rotate_identity(const node_client& node, const std::string& name, std::ostream& out) {
    auto reply = node.json("POST", "/api/identities/" + name + "/rotate");
    if (!reply) return exit_failed;
    out << key_hex(*reply, "public_key") << "\n";
    *node.err << node.who << ": '" << name << "' has a new key (entry "
              << reply->at("index").get<std::uint64_t>() << " of the log), on stdout";
    if (reply->contains("previous_key"))
        *node.err << "; it replaces " << key_hex(*reply, "previous_key");
    *node.err << "\n";
    return exit_ok;
}

int revoke_identity_key(const node_client& node, const std::string& name,
                        const po::variables_map& vm) {
    std::string body;
    if (vm.count("key")) {
        auto key = vm["key"].as<std::string>();
        auto decoded = hex_decode(key);
        if (!decoded || decoded->size() != ed25519::public_key{}.size())
            return node.usage_error("--key '" + key + "': must be 64 hex digits");
        body = nlohmann::json{{"public_key", hex_encode(*decoded)}}.dump();
    }
    auto reply = node.json("POST", "/api/identities/" + name + "/revoke", body);
    if (!reply) return exit_failed;
    *node.err << node.who << ": revoked key " << key_hex(*reply, "revoked_key") << " of '" << name
              << "' (entry " << reply->at("index").get<std::uint64_t>() << " of the log)"
              << (reply->at("retired").get<bool>()
                      ? "; the identity is retired: it can sign no more"
                      : "")
              << "\n";
    return exit_ok;
}

} // namespace

void describe_identity(po::options_description& o) {
    o.add_options()("action", po::value<std::string>()->required(), "add | rotate | revoke | list");
    describe_server(o);
    describe_token_file(o, "add, rotate, revoke (the admin token)");
    o.add_options()("identity", po::value<std::string>(),
                    "add, rotate, revoke: the identity's name; list: show only this one")(
        "key", po::value<std::string>(),
        "revoke: the key to revoke (64 hex digits); default: the current key, which retires "
        "the identity")("page-size", po::value<std::string>()->default_value("1000"),
                        "list: identities asked for per request (1..1000)");
}

int run_identity(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto action = vm["action"].as<std::string>();
    if (action != "add" && action != "rotate" && action != "revoke" && action != "list") {
        err << "civic-attest identity: unknown action '" << action
            << "' (add, rotate, revoke or list)\n";
        return exit_usage;
    }
    auto node = open_node(vm, "civic-attest identity " + action, err);
    if (!node) return exit_usage;
    auto usage_error = [&](const std::string& message) { return node->usage_error(message); };
    std::string name;
    if (vm.count("identity")) {
        name = vm["identity"].as<std::string>();
        // Checked here too: the name becomes part of a URL.
        if (auto ok = check_identity_name(name); !ok)
            return usage_error("--identity '" + name + "': " + ok.message());
    }
    if (action != "revoke" && vm.count("key")) return usage_error("--key is only for revoke");
    if (action == "list") return list_identities(*node, vm, out);
    if (name.empty()) return usage_error("--identity is required");
    if (auto ok = node->authorize(vm); !ok) return usage_error(ok.message());
    if (action == "add") return add_identity(*node, name, out);
    if (action == "rotate") return rotate_identity(*node, name, out);
    return revoke_identity_key(*node, name, vm);
}

} // namespace civic::node::cli_detail
