#include "node/cli.hpp"

#include "node/files.hpp"
#include "node/http_client.hpp"
#include "node/service.hpp"
#include "protocol/bundle.hpp"
#include "protocol/tiles.hpp"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

namespace civic::node {
namespace po = boost::program_options;

namespace {

constexpr const char* version_text = "civic-attest 0.1.0";

// A subcommand: its options, what it does, and how it runs.
struct command {
    const char* summary;
    void (*describe)(po::options_description&);
    int (*run)(const po::variables_map&, std::ostream& out, std::ostream& err);
};

// ---------------------------------------------------------------- keygen ----

void describe_keygen(po::options_description& o) {
    o.add_options()("name", po::value<std::string>()->required(),
                    "key name: the log origin, or the witness name (e.g. example.org/log)")(
        "witness", "make a witness cosigning key (cosignature/v1) instead of a log key")(
        "out", po::value<std::string>(),
        "write the secret key to this new file (mode 0600) and print the verifier key; "
        "without --out the secret key is printed and the verifier key goes to stderr");
}

int run_keygen(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
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
        if (auto ok = write_secret_file(path, secret + "\n"); !ok) {
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

// ---------------------------------------------------------------- verify ----

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

result<policy_verifier> load_trust(const po::variables_map& vm) {
    if (vm.count("policy") == vm.count("log-key"))
        return make_error("give exactly one of --policy FILE and --log-key VKEY");
    std::string text;
    std::string source;
    if (vm.count("policy")) {
        source = "--policy " + vm["policy"].as<std::string>();
        auto file = read_file(vm["policy"].as<std::string>());
        if (!file) return make_error("--policy " + file.message());
        text = std::move(*file);
    } else {
        source = "--log-key";
        text = "log " + vm["log-key"].as<std::string>() + "\nquorum none\n";
    }
    auto p = parse_policy(text);
    if (!p) return make_error(source + ": " + p.message());
    auto v = policy_verifier::make(*p);
    if (!v) return make_error(source + ": " + v.message());
    return v;
}

int run_verify(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto trust = load_trust(vm);
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

// --------------------------------------------------------- protocol-demo ----

void describe_demo(po::options_description& o) {
    o.add_options()("dir", po::value<std::string>()->required(),
                    "an empty or new directory for the demo's files")(
        "entries", po::value<unsigned>()->default_value(1000),
        "how many statements to log (1..1000000)");
}

status write_public(const std::filesystem::path& path, const std::string& content) {
    std::ofstream f(path, std::ios::binary);
    f << content;
    f.close();
    if (!f) return make_error(path.string() + ": write failed");
    return {};
}

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

// ------------------------------------------------------------------ init ----

void describe_init(po::options_description& o) {
    o.add_options()("data", po::value<std::string>()->required(),
                    "the new data directory")("origin", po::value<std::string>()->required(),
                                              "the log's origin, e.g. example.org/civic-log");
}

int run_init(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto dir = vm["data"].as<std::string>();
    auto made = init_data_dir(dir, vm["origin"].as<std::string>());
    if (!made) {
        err << "civic-attest init: " << made.message() << "\n";
        return exit_usage;
    }
    out << made->log_vkey << "\n";
    err << "civic-attest init: data directory " << dir << " ready; log verifier key in " << dir
        << "/log.vkey, admin token in " << dir << "/admin.token (mode 0600)\n";
    return exit_ok;
}

// ----------------------------------------------------------------- serve ----

void describe_serve(po::options_description& o) {
    o.add_options()("data", po::value<std::string>()->required(), "data directory made by init")(
        "listen", po::value<std::string>()->default_value("127.0.0.1:8080"), "HTTP address:port")(
        "http-threads", po::value<unsigned>()->default_value(2), "HTTP I/O threads")(
        "max-batch", po::value<std::size_t>()->default_value(10000),
        "most entries per write transaction")("max-pending",
                                              po::value<std::size_t>()->default_value(100000),
                                              "most entries waiting for a batch");
}

int run_serve(const po::variables_map& vm, std::ostream&, std::ostream& err) {
    service_options options;
    options.data_dir = vm["data"].as<std::string>();
    auto listen = vm["listen"].as<std::string>();
    auto colon = listen.rfind(':');
    auto port = colon == std::string::npos ? result<std::uint64_t>(make_error("no port"))
                                           : parse_decimal(listen.substr(colon + 1), 65535);
    if (!port) {
        err << "civic-attest serve: --listen '" << listen << "': expected ADDRESS:PORT\n";
        return exit_usage;
    }
    options.http.address = listen.substr(0, colon);
    options.http.port = static_cast<std::uint16_t>(*port);
    options.http.threads = vm["http-threads"].as<unsigned>();
    options.ledger.max_batch_entries = vm["max-batch"].as<std::size_t>();
    options.ledger.max_pending = vm["max-pending"].as<std::size_t>();

    // Block the stop signals before any thread starts, then wait for one here.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    auto node = service::start(options);
    if (!node) {
        err << "civic-attest serve: " << node.message() << "\n";
        return exit_failed;
    }
    err << "civic-attest serve: listening on " << options.http.address << ":"
        << (*node)->http_port() << "\n";
    int sig = 0;
    sigwait(&stop_signals, &sig);
    err << "civic-attest serve: stopping (signal " << sig << ")\n";
    (*node)->stop();
    return exit_ok;
}

// ------------------------------------------------------------------ sign ----

void describe_sign(po::options_description& o) {
    o.add_options()("server", po::value<std::string>()->default_value("http://127.0.0.1:8080"),
                    "the node")("token-file", po::value<std::string>(),
                                "file holding the API token (mode 0600)")(
        "identity", po::value<std::string>()->required(), "the identity to sign for")(
        "file", po::value<std::string>()->required(), "the document to sign")(
        "out", po::value<std::string>(), "where to write the proof (default: FILE.tlog-proof)");
}

int run_sign(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto server = parse_server_url(vm["server"].as<std::string>());
    if (!server) {
        err << "civic-attest sign: --server: " << server.message() << "\n";
        return exit_usage;
    }
    std::string token;
    if (vm.count("token-file")) {
        auto text = read_secret_file(vm["token-file"].as<std::string>());
        if (!text) {
            err << "civic-attest sign: --token-file " << text.message() << "\n";
            return exit_usage;
        }
        token = text->substr(0, text->find('\n'));
    } else if (const char* env = std::getenv("CIVIC_ATTEST_TOKEN")) {
        token = env;
    } else {
        err << "civic-attest sign: give --token-file or set CIVIC_ATTEST_TOKEN\n";
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
    auto res = http_call(*server, "POST", "/api/sign", body.dump(), "Bearer " + token,
                         std::chrono::seconds(30));
    if (!res) {
        err << "civic-attest sign: " << res.message() << "\n";
        return exit_failed;
    }
    auto reply = nlohmann::json::parse(res->body, nullptr, false);
    if (res->status != 200 || reply.is_discarded() || !reply.contains("proof")) {
        err << "civic-attest sign: the node answered " << res->status << ": " << res->body << "\n";
        return exit_failed;
    }
    auto out_path = vm.count("out") ? vm["out"].as<std::string>() : path + ".tlog-proof";
    std::ofstream proof(out_path, std::ios::binary | std::ios::trunc);
    proof << reply["proof"].get<std::string>();
    proof.close();
    if (!proof) {
        err << "civic-attest sign: --out " << out_path << ": write failed\n";
        return exit_failed;
    }
    err << "civic-attest sign: " << path << " is entry " << reply["index"] << " of the log\n";
    out << out_path << "\n";
    return exit_ok;
}

// ----------------------------------------------------------------- token ----

void describe_token(po::options_description& o) {
    o.add_options()("action", po::value<std::string>()->required(),
                    "add | revoke")("data", po::value<std::string>()->required(), "data directory")(
        "identity", po::value<std::vector<std::string>>(),
        "add: an identity the token may sign for (repeatable)")(
        "label", po::value<std::string>()->default_value(""), "add: a note on who holds it")(
        "admin", "add: the token may register identities and sign for all")(
        "token", po::value<std::string>(), "revoke: the token");
}

int run_token(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto action = vm["action"].as<std::string>();
    auto dir = vm["data"].as<std::string>();
    // LMDB allows this process to write while a server holds the same store open.
    auto store = storage::ledger_store::open({dir + "/ledger"});
    if (!store) {
        err << "civic-attest token: --data " << dir << ": " << store.message() << "\n";
        return exit_usage;
    }
    if (action == "add") {
        storage::token_record record{vm["label"].as<std::string>(), vm.count("admin") > 0, {}};
        if (vm.count("identity")) record.identities = vm["identity"].as<std::vector<std::string>>();
        for (const auto& id : record.identities)
            if (auto ok = check_identity_name(id); !ok) {
                err << "civic-attest token: --identity '" << id << "': " << ok.message() << "\n";
                return exit_usage;
            }
        if (record.identities.empty() && !record.admin) {
            err << "civic-attest token: give --identity (repeatable) or --admin\n";
            return exit_usage;
        }
        auto token = make_token();
        if (auto ok = (*store)->put_token(sha256(byte_view(token)), record); !ok) {
            err << "civic-attest token: " << ok.message() << "\n";
            return exit_failed;
        }
        out << token << "\n";
        return exit_ok;
    }
    if (action == "revoke") {
        if (!vm.count("token")) {
            err << "civic-attest token revoke: --token is required\n";
            return exit_usage;
        }
        if (auto ok = (*store)->delete_token(sha256(byte_view(vm["token"].as<std::string>())));
            !ok) {
            err << "civic-attest token: " << ok.message() << "\n";
            return exit_failed;
        }
        return exit_ok;
    }
    err << "civic-attest token: unknown action '" << action << "' (add or revoke)\n";
    return exit_usage;
}

// --------------------------------------------------------------- version ----

void describe_none(po::options_description&) {}
int run_version(const po::variables_map&, std::ostream& out, std::ostream&) {
    out << version_text << "\n";
    return exit_ok;
}

const std::map<std::string, command>& commands() {
    static const std::map<std::string, command> table = {
        {"keygen", {"make a log or witness signing key", describe_keygen, run_keygen}},
        {"vkey", {"print the verifier key of a secret key file", describe_vkey, run_vkey}},
        {"verify",
         {"verify a .tlog-proof bundle offline against a policy or log key", describe_verify,
          run_verify}},
        {"protocol-demo",
         {"walk through keys, ledger, checkpoint, cosignatures, bundle and offline verification",
          describe_demo, run_demo}},
        {"version", {"print the version", describe_none, run_version}},
        {"init",
         {"make a new data directory: log key, admin token, store", describe_init, run_init}},
        {"serve",
         {"run a node with every role (single-node default) until SIGINT/SIGTERM", describe_serve,
          run_serve}},
        {"token",
         {"add or revoke an API token (token add|revoke --data DIR ...)", describe_token,
          run_token}},
        {"sign",
         {"sign a document through a node and write its .tlog-proof", describe_sign, run_sign}},
    };
    return table;
}

void usage(std::ostream& os) {
    os << "usage: civic-attest <command> [options]   (civic-attest <command> "
          "--help)\n\ncommands:\n";
    for (const auto& [name, cmd] : commands())
        os << "  " << name << std::string(16 - name.size(), ' ') << cmd.summary << "\n";
}

} // namespace

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        usage(args.empty() ? err : out);
        return args.empty() ? exit_usage : exit_ok;
    }
    if (args[0] == "--version") return run_version({}, out, err);
    auto it = commands().find(args[0]);
    if (it == commands().end()) {
        err << "civic-attest: unknown command '" << args[0] << "'\n";
        usage(err);
        return exit_usage;
    }
    const command& cmd = it->second;
    po::options_description options("civic-attest " + args[0] + " options");
    cmd.describe(options);
    options.add_options()("help,h", "show this help");
    po::variables_map vm;
    try {
        std::vector<std::string> rest(args.begin() + 1, args.end());
        po::positional_options_description positional;
        if (args[0] == "token") positional.add("action", 1);
        po::store(po::command_line_parser(rest).options(options).positional(positional).run(), vm);
        if (vm.count("help")) {
            out << "civic-attest " << args[0] << ": " << cmd.summary << "\n\n" << options;
            return exit_ok;
        }
        po::notify(vm);
    } catch (const po::error& e) {
        err << "civic-attest " << args[0] << ": " << e.what() << "\n" << options;
        return exit_usage;
    }
    return cmd.run(vm, out, err);
}

} // namespace civic::node
