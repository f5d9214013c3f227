// keygen, vkey: one key at a time; logkey, keys: every key a topology's
// network needs, and its policy file.
#include "node/cli/commands.hpp"
#include "node/config/from_topology.hpp"
#include "node/config/topology.hpp"
#include "node/system/files.hpp"
#include "protocol/entry.hpp"
#include "protocol/note.hpp"

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

namespace civic::node::cli_detail {

namespace {

/// Writes a secret key file (0600), making its directory first.
status write_key_file(const std::string& path, const std::string& secret) {
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    return write_secret_file(path, {secret, "\n"});
}

} // namespace

status write_public(const std::filesystem::path& path, const std::string& content) {
    std::ofstream f(path, std::ios::binary);
    f << content;
    f.close();
    if (!f) return make_error(path.string() + ": write failed");
    return {};
}

// ---------------------------------------------------------------- keygen ----

void describe_keygen(po::options_description& o) {
    o.add_options()("name", po::value<std::string>(),
                    "key name: the log origin, or the witness name (e.g. example.org/log)")(
        "witness", "make a witness cosigning key (cosignature/v1) instead of a log key")(
        "identity", po::value<std::string>(),
        "instead of --name: make the key of this identity on its owner's machine (needs --out; "
        "register it with `identity add --key`); its public key is printed")(
        "out", po::value<std::string>(),
        "write the secret key to this new file (mode 0600) and print the verifier key; "
        "without --out the secret key is printed and the verifier key goes to stderr");
}

namespace {

/// keygen --identity: a key its owner keeps. No node ever sees it.
int make_identity_key(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto name = vm["identity"].as<std::string>();
    if (auto ok = check_identity_name(name); !ok) {
        err << "civic-attest keygen: --identity '" << name << "': " << ok.message() << "\n";
        return exit_usage;
    }
    if (vm.count("name") || vm.count("witness") || !vm.count("out")) {
        err << "civic-attest keygen: --identity needs --out FILE, and takes no --name or "
               "--witness\n";
        return exit_usage;
    }
    auto key = ed25519::secret_key::generate();
    auto secret = note::format_signer_key(name, note::type_ed25519, key);
    auto path = vm["out"].as<std::string>();
    auto written = write_key_file(path, secret);
    ed25519::wipe(secret.data(), secret.size());
    if (!written) {
        err << "civic-attest keygen: --out " << written.message() << "\n";
        return exit_failed;
    }
    out << hex_encode(key.public_key_bytes()) << "\n";
    err << "civic-attest keygen: the key of '" << name << "' is in " << path
        << " (mode 0600; keep it, and a copy, safe); its public key is on stdout\n";
    return exit_ok;
}

} // namespace

int run_keygen(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    if (vm.count("identity")) return make_identity_key(vm, out, err);
    if (!vm.count("name")) {
        err << "civic-attest keygen: give --name (a log or witness key) or --identity\n";
        return exit_usage;
    }
    auto name = vm["name"].as<std::string>();
    if (!note::valid_key_name(name)) {
        err << "civic-attest keygen: --name '" << name
            << "': key names must be non-empty, with no spaces and no '+'\n";
        return exit_usage;
    }
    std::uint8_t type = vm.count("witness") ? note::type_cosignature_v1 : note::type_ed25519;
    auto key = ed25519::secret_key::generate();
    auto secret = note::format_signer_key(name, type, key);
    const auto& pk = key.public_key_bytes();
    auto vkey =
        note::format_vkey({name, note::key_id(name, type, pk), type, bytes(pk.begin(), pk.end())});
    int code = exit_ok;
    if (vm.count("out")) {
        auto path = vm["out"].as<std::string>();
        if (auto ok = write_secret_file(path, {secret, "\n"}); !ok) {
            err << "civic-attest keygen: --out " << ok.message() << "\n";
            code = exit_failed;
        } else {
            out << vkey << "\n";
        }
    } else {
        out << secret << "\n";
        err << vkey << "\n";
    }
    ed25519::wipe(secret.data(), secret.size());
    return code;
}

// ------------------------------------------------------------------ vkey ----

void describe_vkey(po::options_description& o) {
    o.add_options()("key", po::value<std::string>()->required(),
                    "secret key file written by keygen --out");
}

int run_vkey(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto path = vm["key"].as<std::string>();
    auto key = read_signer_key_file(path);
    if (!key) {
        err << "civic-attest vkey: --key " << key.message() << "\n";
        return exit_usage;
    }
    const auto& pk = key->key.public_key_bytes();
    out << note::format_vkey({key->name, note::key_id(key->name, key->type, pk), key->type,
                              bytes(pk.begin(), pk.end())})
        << "\n";
    return exit_ok;
}

// ---------------------------------------------------------------- logkey ----

void describe_logkey(po::options_description& o) {
    o.add_options()("topology", po::value<std::string>()->required(), "the topology file");
}

/// Makes the log key once and writes it to every node that may lead, and its
/// verifier key to the topology's log_vkey: the log's identity for the network.
int run_logkey(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto t = load_topology(vm["topology"].as<std::string>());
    if (!t) {
        err << "civic-attest logkey: " << t.message() << "\n";
        return exit_usage;
    }
    std::error_code ec;
    if (std::filesystem::exists(t->log_vkey, ec)) {
        err << "civic-attest logkey: " << t->log_vkey
            << " exists: this network has its log key already (remove it and every node's "
               "log_key to start a new log)\n";
        return exit_usage;
    }
    auto key = ed25519::secret_key::generate();
    auto secret = note::format_signer_key(t->origin, note::type_ed25519, key);
    std::size_t written = 0;
    for (const auto& n : t->nodes) {
        if (n.log_key.empty()) continue;
        if (auto ok = write_key_file(n.log_key, secret); !ok) {
            ed25519::wipe(secret.data(), secret.size());
            err << "civic-attest logkey: nodes[" << n.name << "].log_key: " << ok.message() << "\n";
            return exit_failed;
        }
        ++written;
    }
    ed25519::wipe(secret.data(), secret.size());
    note::ed25519_signer log(t->origin, std::move(key));
    auto vkey = note::format_vkey(log.verifier_key());
    if (auto ok = write_public(t->log_vkey, vkey + "\n"); !ok) {
        err << "civic-attest logkey: log_vkey: " << ok.message() << "\n";
        return exit_failed;
    }
    err << "civic-attest logkey: the log key is in " << written
        << " node key file(s); its verifier key in " << t->log_vkey << "\n";
    out << vkey << "\n";
    return exit_ok;
}

// ------------------------------------------------------------------ keys ----

/// Makes every key a network needs that is still missing (the log key as
/// `logkey` does, each witness's cosigning key) and writes the policy file.
int run_keys(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto t = load_topology(vm["topology"].as<std::string>());
    if (!t) {
        err << "civic-attest keys: " << t.message() << "\n";
        return exit_usage;
    }
    std::error_code ec;
    if (!std::filesystem::exists(t->log_vkey, ec)) {
        std::ostringstream ignored;
        if (int rc = run_logkey(vm, ignored, err); rc != exit_ok) return rc;
    }
    auto vkey = read_file(t->log_vkey);
    if (!vkey) {
        err << "civic-attest keys: log_vkey " << t->log_vkey << ": " << vkey.message() << "\n";
        return exit_failed;
    }
    std::size_t made = 0;
    for (const auto& n : t->nodes) {
        if (!n.has(node_role::witness) || std::filesystem::exists(n.witness_key, ec)) continue;
        auto key = ed25519::secret_key::generate();
        auto secret = note::format_signer_key(n.name, note::type_cosignature_v1, key);
        auto ok = write_key_file(n.witness_key, secret);
        ed25519::wipe(secret.data(), secret.size());
        if (!ok) {
            err << "civic-attest keys: nodes[" << n.name << "].witness_key: " << ok.message()
                << "\n";
            return exit_failed;
        }
        ++made;
    }
    auto policy = expanded_policy(*t, vkey->substr(0, vkey->find_first_of("\r\n")));
    if (!policy) {
        err << "civic-attest keys: " << t->file << ": policy: " << policy.message() << "\n";
        return exit_failed;
    }
    if (auto ok = write_public(t->policy_file, *policy); !ok) {
        err << "civic-attest keys: policy_file: " << ok.message() << "\n";
        return exit_failed;
    }
    err << "civic-attest keys: " << made << " new witness key(s); the network's policy is in "
        << t->policy_file << "\n";
    out << *policy;
    return exit_ok;
}

} // namespace civic::node::cli_detail
