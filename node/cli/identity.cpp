// identity: registers, rotates, revokes and lists a node's identities. With
// --key the identity's owner holds its key: each change is signed here and
// submitted whole, and no node ever sees the key.
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
        << keys.size() << (keys.size() == 1 ? " key" : " keys")
        << (id.value("kind", "") == "owner-held" ? " owner-held" : "") << "\n";
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

/// --revoke, checked: the public key to revoke.
result<std::optional<ed25519::public_key>> revoked_key_flag(const po::variables_map& vm) {
    if (!vm.count("revoke")) return std::optional<ed25519::public_key>{};
    auto text = vm["revoke"].as<std::string>();
    auto decoded = hex_decode(text);
    ed25519::public_key key{};
    if (!decoded || decoded->size() != key.size())
        return make_error("--revoke '" + text + "': must be 64 hex digits");
    std::copy(decoded->begin(), decoded->end(), key.begin());
    return std::optional(key);
}

void report_revoked(const node_client& node, const std::string& name, const std::string& key,
                    std::uint64_t index, bool retired) {
    *node.err << node.who << ": revoked key " << key << " of '" << name << "' (entry " << index
              << " of the log)" << (retired ? "; the identity is retired: it can sign no more" : "")
              << "\n";
}

int revoke_identity_key(const node_client& node, const std::string& name,
                        const po::variables_map& vm) {
    auto revoked = revoked_key_flag(vm);
    if (!revoked) return node.usage_error(revoked.message());
    std::string body;
    if (*revoked) body = nlohmann::json{{"public_key", hex_encode(**revoked)}}.dump();
    auto reply = node.json("POST", "/api/identities/" + name + "/revoke", body);
    if (!reply) return exit_failed;
    report_revoked(node, name, key_hex(*reply, "revoked_key"),
                   reply->at("index").get<std::uint64_t>(), reply->at("retired").get<bool>());
    return exit_ok;
}

// ---- the owner's key (--key): signed here, submitted whole ----

int add_owned_identity(const node_client& node, const std::string& name,
                       const ed25519::secret_key& key, std::ostream& out) {
    bytes marker(owner_held_marker.begin(), owner_held_marker.end());
    auto reply = submit_owner_entry(
        node, sign_owner_entry(entry_kind::identity_registration, name, key, hash{}, marker));
    if (!reply) return exit_failed;
    out << hex_encode(key.public_key_bytes()) << "\n";
    *node.err << node.who << ": registered '" << name << "' with the key its owner holds (entry "
              << reply->at("index").get<std::uint64_t>()
              << " of the log); its public key is on stdout\n";
    return exit_ok;
}

int rotate_owned_identity(const node_client& node, const std::string& name,
                          const ed25519::secret_key& key, const po::variables_map& vm,
                          std::ostream& out) {
    if (!vm.count("new-key"))
        return node.usage_error("rotate --key needs --new-key FILE (keygen --identity)");
    auto next = read_owner_key(vm, "new-key", name);
    if (!next) return node.usage_error(next.message());
    auto next_public = next->public_key_bytes();
    if (next_public == key.public_key_bytes())
        return node.usage_error("--new-key holds the same key as --key");
    auto reply =
        submit_owner_entry(node, sign_owner_entry(entry_kind::key_rotation, name, key, hash{},
                                                  bytes(next_public.begin(), next_public.end())));
    if (!reply) return exit_failed;
    out << hex_encode(next_public) << "\n";
    *node.err << node.who << ": '" << name << "' now signs with the key in "
              << vm["new-key"].as<std::string>() << " (entry "
              << reply->at("index").get<std::uint64_t>() << " of the log), on stdout; it replaces "
              << hex_encode(key.public_key_bytes()) << "\n";
    return exit_ok;
}

int revoke_owned_key(const node_client& node, const std::string& name,
                     const ed25519::secret_key& key, const po::variables_map& vm) {
    auto revoked = revoked_key_flag(vm);
    if (!revoked) return node.usage_error(revoked.message());
    // By default the key revokes itself: a key believed stolen is retired.
    auto target = *revoked ? **revoked : key.public_key_bytes();
    auto reply =
        submit_owner_entry(node, sign_owner_entry(entry_kind::key_revocation, name, key, hash{},
                                                  bytes(target.begin(), target.end())));
    if (!reply) return exit_failed;
    auto record = node.get("/api/identities/" + name);
    bool retired = record && record->at("retired").get<bool>();
    report_revoked(node, name, hex_encode(target), reply->at("index").get<std::uint64_t>(),
                   retired);
    return exit_ok;
}

int change_owned_identity(const node_client& node, const std::string& action,
                          const std::string& name, const po::variables_map& vm, std::ostream& out) {
    auto key = read_owner_key(vm, "key", name);
    if (!key) return node.usage_error(key.message());
    if (action == "add") return add_owned_identity(node, name, *key, out);
    if (action == "rotate") return rotate_owned_identity(node, name, *key, vm, out);
    return revoke_owned_key(node, name, *key, vm);
}

} // namespace

void describe_identity(po::options_description& o) {
    o.add_options()("action", po::value<std::string>()->required(), "add | rotate | revoke | list");
    describe_server(o);
    describe_token_file(o, "add, rotate, revoke (the admin token)");
    o.add_options()("identity", po::value<std::string>(),
                    "add, rotate, revoke: the identity's name; list: show only this one")(
        "key", po::value<std::string>(),
        "add, rotate, revoke: the identity's key file (keygen --identity), held by its owner: "
        "the change is signed here and no node ever sees the key (add: a token that may "
        "register; rotate, revoke: one that may sign for the identity)")(
        "new-key", po::value<std::string>(),
        "rotate --key: the new key's file (keygen --identity)")(
        "revoke", po::value<std::string>(),
        "revoke: the public key to revoke (64 hex digits); default: the current key (with "
        "--key: the key in that file), which retires the identity")(
        "page-size", po::value<std::string>()->default_value("1000"),
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
    if (action != "revoke" && vm.count("revoke")) return usage_error("--revoke is only for revoke");
    if (action == "list" && vm.count("key")) return usage_error("list takes no --key");
    if (!vm.count("key") && vm.count("new-key")) return usage_error("--new-key needs --key");
    if (action == "list") return list_identities(*node, vm, out);
    if (name.empty()) return usage_error("--identity is required");
    if (auto ok = node->authorize(vm); !ok) return usage_error(ok.message());
    if (vm.count("key")) return change_owned_identity(*node, action, name, vm, out);
    if (action == "add") return add_identity(*node, name, out);
    if (action == "rotate") return rotate_identity(*node, name, out);
    return revoke_identity_key(*node, name, vm);
}

} // namespace civic::node::cli_detail
