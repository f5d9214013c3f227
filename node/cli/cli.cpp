#include "node/cli/cli.hpp"

#include "node/cli/fsck.hpp"
#include "node/cli/simulate.hpp"
#include "node/config/certs.hpp"
#include "node/config/from_topology.hpp"
#include "node/config/topology.hpp"
#include "node/http/client.hpp"
#include "node/service/service.hpp"
#include "node/system/files.hpp"
#include "node/system/limits.hpp"
#include "protocol/bundle.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "protocol/merkle.hpp"
#include "protocol/note.hpp"
#include "protocol/policy.hpp"
#include "protocol/tiles.hpp"
#include "storage/ledger_store.hpp"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

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

/// A policy that trusts one log key and needs no witnesses: what --log-key and
/// --vkey mean. `source` names the flag in errors.
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

result<policy_verifier> load_trust(const po::variables_map& vm) {
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

/// The batching and HTTP flags `serve` and `node` share.
void describe_node_flags(po::options_description& o) {
    o.add_options()("http-threads", po::value<unsigned>()->default_value(2),
                    "HTTP I/O threads")("max-batch", po::value<std::size_t>()->default_value(10000),
                                        "most entries per write transaction")(
        "max-batch-bytes", po::value<std::size_t>()->default_value(8 * 1024 * 1024),
        "most entry bytes per write transaction")(
        "batch-linger-ms", po::value<unsigned>()->default_value(0),
        "how long an idle ledger waits for more entries before it commits")(
        "max-pending", po::value<std::size_t>()->default_value(100000),
        "most entries waiting for a batch")(
        "no-space-retry-ms", po::value<unsigned>()->default_value(1000),
        "when a commit finds the disk full, the node is read-only and tries a write again after "
        "this long, doubling up to --no-space-retry-max-ms")(
        "no-space-retry-max-ms", po::value<unsigned>()->default_value(30000),
        "longest wait between two such tries")(
        "max-connections", po::value<std::size_t>()->default_value(0),
        "most open HTTP connections (0: half the descriptor limit left after a reserve, at most "
        "16384)")("max-connections-per-address", po::value<std::size_t>()->default_value(256),
                  "most open HTTP connections from one client address (an IPv6 /64); raise it "
                  "behind a reverse proxy")(
        "scrub-entries-per-second", po::value<std::uint64_t>()->default_value(50000),
        "how fast the background scrub checks the store against the verified tree (0: off; "
        "`node`: the topology's scrub.entries_per_second unless given)")(
        "scrub-pass-interval-ms", po::value<std::uint64_t>()->default_value(60000),
        "a scrub pass over the whole store starts at most this often (`node`: the "
        "topology's scrub.pass_interval_ms unless given)")(
        "log-level", po::value<std::string>()->default_value("info"),
        "the node's log on stderr: debug | info | warning | error | off")(
        "log-format", po::value<std::string>()->default_value("text"),
        "text (key=value fields) | json (one object per line)");
}

status read_node_flags(const po::variables_map& vm, service_options& options) {
    auto level = log::parse_level(vm["log-level"].as<std::string>());
    if (!level)
        return make_error("--log-level '" + vm["log-level"].as<std::string>() +
                          "': expected debug, info, warning, error or off");
    auto style = log::parse_format(vm["log-format"].as<std::string>());
    if (!style)
        return make_error("--log-format '" + vm["log-format"].as<std::string>() +
                          "': expected text or json");
    options.log.min_level = *level;
    options.log.style = *style;
    options.http.threads = vm["http-threads"].as<unsigned>();
    options.http.max_connections = vm["max-connections"].as<std::size_t>();
    options.http.max_connections_per_address = vm["max-connections-per-address"].as<std::size_t>();
    options.ledger.max_batch_entries = vm["max-batch"].as<std::size_t>();
    options.ledger.max_pending = vm["max-pending"].as<std::size_t>();
    options.ledger.max_batch_bytes = vm["max-batch-bytes"].as<std::size_t>();
    options.ledger.batch_linger = std::chrono::milliseconds(vm["batch-linger-ms"].as<unsigned>());
    // `node` takes these from its topology unless the flag is given (the
    // defaults are the same).
    if (!vm["scrub-entries-per-second"].defaulted())
        options.scrub.entries_per_second = vm["scrub-entries-per-second"].as<std::uint64_t>();
    if (!vm["scrub-pass-interval-ms"].defaulted())
        options.scrub.pass_interval =
            std::chrono::milliseconds(vm["scrub-pass-interval-ms"].as<std::uint64_t>());
    if (options.scrub.pass_interval < std::chrono::milliseconds(10) ||
        options.scrub.pass_interval > std::chrono::hours(24) ||
        options.scrub.entries_per_second > 100000000)
        return make_error("--scrub-pass-interval-ms must be 10 to 86400000, "
                          "--scrub-entries-per-second at most 100000000");
    if (options.ledger.max_batch_entries == 0 || options.ledger.max_pending == 0 ||
        options.ledger.max_batch_bytes < max_entry_size)
        return make_error("--max-batch and --max-pending must be > 0, --max-batch-bytes at least "
                          "one entry (" +
                          std::to_string(max_entry_size) + ")");
    if (options.ledger.batch_linger > std::chrono::seconds(10))
        return make_error("--batch-linger-ms must be at most 10000");
    options.ledger.read_only.retry =
        std::chrono::milliseconds(vm["no-space-retry-ms"].as<unsigned>());
    options.ledger.read_only.retry_max =
        std::chrono::milliseconds(vm["no-space-retry-max-ms"].as<unsigned>());
    if (options.ledger.read_only.retry.count() == 0 ||
        options.ledger.read_only.retry_max < options.ledger.read_only.retry ||
        options.ledger.read_only.retry_max > std::chrono::hours(1))
        return make_error("--no-space-retry-ms must be > 0 and at most --no-space-retry-max-ms, "
                          "which is at most 3600000");
    if (options.http.threads == 0 || options.http.threads > 64)
        return make_error("--http-threads must be 1 to 64");
    if (options.http.max_connections_per_address == 0)
        return make_error("--max-connections-per-address must be > 0");
    return {};
}

/// Starts the node and runs it until SIGINT or SIGTERM (exit 0), or until its
/// supervision tree gives up (exit 1, for the service manager to restart it).
int run_until_stopped(const char* who, const service_options& options, std::ostream& err) {
    // Block the stop signals before any thread starts, then wait for one here.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    auto descriptors = raise_descriptor_limit();
    auto node = service::start(options);
    if (!node) {
        err << "civic-attest " << who << ": " << node.message() << "\n";
        return exit_failed;
    }
    // One write: the node's actors (the scrubber) may log meanwhile, and
    // scripts read the port from this line.
    std::ostringstream started;
    started << "civic-attest " << who << ": node '" << options.network.node_name << "' ("
            << (*node)->role_name() << ") listening on " << options.http.address << ":"
            << (*node)->http_port();
    if ((*node)->caf_port() != 0)
        started << ", peers on " << options.network.caf_host << ":" << (*node)->caf_port()
                << (options.network.insecure_dev ? " (INSECURE: no TLS)" : " (TLS)");
    started << "\n";
    err << started.str() << std::flush;
    const auto& limits = (*node)->http_limits();
    err << "civic-attest " << who << ": " << describe(descriptors) << "; HTTP connections: at most "
        << limits.max_connections << ", " << limits.max_connections_per_address
        << " per client address" << std::endl;
    if (!(*node)->role_note().empty())
        err << "civic-attest " << who << ": " << (*node)->role_note() << std::endl;
    const timespec poll{0, 200 * 1000 * 1000};
    while (true) {
        int sig = sigtimedwait(&stop_signals, nullptr, &poll);
        if (sig > 0) {
            err << "civic-attest " << who << ": stopping (signal " << sig << ")" << std::endl;
            (*node)->stop();
            return exit_ok;
        }
        if (auto failed = (*node)->failure()) {
            err << "civic-attest " << who << ": " << *failed << "; exiting" << std::endl;
            (*node)->stop();
            return exit_failed;
        }
    }
}

void describe_serve(po::options_description& o) {
    o.add_options()("data", po::value<std::string>()->required(), "data directory made by init")(
        "listen", po::value<std::string>()->default_value("127.0.0.1:8080"), "HTTP address:port");
    describe_node_flags(o);
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
    if (auto ok = read_node_flags(vm, options); !ok) {
        err << "civic-attest serve: " << ok.message() << "\n";
        return exit_usage;
    }
    return run_until_stopped("serve", options, err);
}

// ------------------------------------------------------------------ node ----

void describe_node(po::options_description& o) {
    o.add_options()("topology", po::value<std::string>()->required(), "the topology file")(
        "name", po::value<std::string>()->required(), "which of its nodes this is")(
        "insecure-dev",
        "talk to peers without TLS (development on one machine only: anyone who can reach the "
        "CAF port can join or forward requests)")(
        "crash-after-persist", po::value<unsigned>(),
        "fault injection for tests: a witness kills its own process (SIGKILL) after its Nth "
        "durable round of cosignatures, before answering it")(
        "test-equivocate",
        "test mode: a leader gossips another tree of the same size to every second peer (an "
        "equivocating log), to show that the network catches it");
    describe_node_flags(o);
}

int run_node(const po::variables_map& vm, std::ostream&, std::ostream& err) {
    auto t = load_topology(vm["topology"].as<std::string>());
    if (!t) {
        err << "civic-attest node: " << t.message() << "\n";
        return exit_usage;
    }
    auto name = vm["name"].as<std::string>();
    const node_spec* self = t->find(name);
    if (!self) {
        err << "civic-attest node: --name '" << name << "': no such node in " << t->file << "\n";
        return exit_usage;
    }
    auto options = node_options(*t, *self, vm.count("insecure-dev") > 0);
    if (!options) {
        err << "civic-attest node: " << options.message() << "\n";
        return exit_usage;
    }
    if (auto ok = read_node_flags(vm, *options); !ok) {
        err << "civic-attest node: " << ok.message() << "\n";
        return exit_usage;
    }
    options->test_equivocate = vm.count("test-equivocate") > 0;
    if (vm.count("crash-after-persist")) {
        auto rounds_left = std::make_shared<unsigned>(vm["crash-after-persist"].as<unsigned>());
        options->witness.after_persist = [rounds_left] {
            if (*rounds_left > 0 && --*rounds_left == 0) ::kill(::getpid(), SIGKILL);
        };
    }
    return run_until_stopped("node", *options, err);
}

// --------------------------------------------------------------- promote ----

void describe_promote(po::options_description& o) {
    o.add_options()("topology", po::value<std::string>()->required(), "the topology file")(
        "name", po::value<std::string>()->required(),
        "the replica to promote (may_lead, with the log key; stopped)")(
        "secrets-from", po::value<std::string>(),
        "the old leader's data directory, or a backup of it: its identity keys and API tokens "
        "are copied, so that identities keep signing and clients keep their tokens")(
        "force", "promote even if the old leader answers, or another replica holds more entries");
}

/// Promotes a stopped replica to leader under a new epoch. Safe by default: it
/// refuses while the old leader answers, or when another replica holds more
/// entries (this one may lack acknowledged entries).
int run_promote(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    namespace fs = std::filesystem;
    auto fail = [&](const std::string& why, int code = exit_failed) {
        err << "civic-attest promote: " << why << "\n";
        return code;
    };
    auto t = load_topology(vm["topology"].as<std::string>());
    if (!t) return fail(t.message(), exit_usage);
    auto name = vm["name"].as<std::string>();
    const node_spec* self = t->find(name);
    if (!self) return fail("--name '" + name + "': no such node in " + t->file, exit_usage);
    if (!self->may_lead || self->log_key.empty())
        return fail(t->file + ": nodes[" + name + "]: may_lead is not set (or there is no log_key)",
                    exit_usage);
    bool force = vm.count("force") > 0;

    auto store = storage::ledger_store::open({(fs::path(self->data) / "ledger").string()});
    if (!store) return fail(self->data + ": " + store.message() + " (is the node stopped?)");
    auto own_size = (*store)->stored_size();
    auto newest = storage::stored_epoch(**store);

    // What the other nodes say: nobody may lead now, nobody may hold more.
    for (const auto& n : t->nodes) {
        if (n.name == name) continue;
        auto reply = http_call({n.host, std::to_string(n.http_port)}, "GET", "/api/status", "", "",
                               std::chrono::seconds(3));
        if (!reply || reply->status != 200) {
            err << "civic-attest promote: " << n.name << ": no answer (down)\n";
            continue;
        }
        auto j = nlohmann::json::parse(reply->body, nullptr, false);
        if (!j.is_object()) continue;
        auto epoch = j.value("epoch", std::uint64_t{0});
        auto size = j.value("size", std::uint64_t{0});
        newest = std::max(newest, epoch);
        err << "civic-attest promote: " << n.name << ": " << j.value("role", "?") << ", epoch "
            << epoch << ", " << size << " entries\n";
        if (j.value("role", "") == "leader" && !force)
            return fail(n.name + " answers as the leader: stop it first (or --force)");
        if (size > own_size && !force)
            return fail(n.name + " holds " + std::to_string(size) + " entries, " + name + " only " +
                        std::to_string(own_size) +
                        ": promote the replica that holds the most (or --force)");
    }

    // The log key, checked against the network's verifier key.
    auto key = read_signer_key_file(self->log_key);
    if (!key) return fail("nodes[" + name + "].log_key: " + key.message());
    auto vkey_text = read_file(t->log_vkey);
    if (!vkey_text) return fail("log_vkey: " + vkey_text.message());
    auto secret = note::format_signer_key(t->origin, note::type_ed25519, key->key);
    note::ed25519_signer signer(t->origin, std::move(key->key));
    if (note::format_vkey(signer.verifier_key()) !=
        vkey_text->substr(0, vkey_text->find_first_of("\r\n"))) {
        ed25519::wipe(secret.data(), secret.size());
        return fail("nodes[" + name + "].log_key is not the key of " + t->log_vkey);
    }
    auto copied = write_secret_key_file((fs::path(self->data) / "log.key").string(), secret);
    if (!copied && !fs::exists(fs::path(self->data) / "log.key")) return fail(copied.message());

    // Identity keys and tokens from the old leader (or its backup).
    std::size_t keys_copied = 0, tokens_copied = 0;
    if (vm.count("secrets-from")) {
        fs::path from = vm["secrets-from"].as<std::string>();
        std::error_code ec;
        fs::create_directories(fs::path(self->data) / "keys", ec);
        for (const auto& file : fs::directory_iterator(from / "keys", ec)) {
            if (file.path().extension() != ".key") continue;
            auto target = fs::path(self->data) / "keys" / file.path().filename();
            if (fs::exists(target)) continue;
            fs::copy_file(file.path(), target, ec);
            if (ec) return fail(target.string() + ": " + ec.message());
            fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write, ec);
            ++keys_copied;
        }
        if (ec) return fail((from / "keys").string() + ": " + ec.message());
        auto old = storage::ledger_store::open({(from / "ledger").string()});
        if (!old) return fail(from.string() + ": " + old.message());
        auto tokens = (*old)->tokens();
        if (!tokens) return fail(from.string() + ": " + tokens.message());
        for (const auto& [digest, record] : *tokens) {
            if (auto ok = (*store)->put_token(digest, record); !ok) return fail(ok.message());
            ++tokens_copied;
        }
        if (fs::exists(from / "admin.token") && !fs::exists(fs::path(self->data) / "admin.token"))
            fs::copy_file(from / "admin.token", fs::path(self->data) / "admin.token", ec);
    }

    auto epoch = newest + 1;
    if (auto ok = storage::store_epoch(**store, epoch); !ok) return fail(ok.message());
    if (auto ok = (*store)->put_setting(storage::role_setting, "leader"); !ok)
        return fail(ok.message());
    err << "civic-attest promote: " << name << " leads under epoch " << epoch << " with "
        << own_size << " entries (" << keys_copied << " identity keys, " << tokens_copied
        << " tokens copied); start it with: civic-attest node --topology " << t->file << " --name "
        << name << "\n";
    out << epoch << "\n";
    return exit_ok;
}

// -------------------------------------------------------------- topology ----

void describe_topology(po::options_description& o) {
    o.add_options()("topology", po::value<std::string>()->required(), "the topology file");
}

/// Validates a topology and lists its nodes, one per line (for scripts):
/// NAME ROLES HOST HTTP_PORT CAF_PORT DATA, roles joined by ','.
int run_topology(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto t = load_topology(vm["topology"].as<std::string>());
    if (!t) {
        err << "civic-attest topology: " << t.message() << "\n";
        return exit_usage;
    }
    for (const auto& n : t->nodes) {
        std::string roles;
        for (auto r : n.roles)
            roles += std::string(roles.empty() ? "" : ",") + to_string(r);
        out << n.name << " " << roles << " " << n.host << " " << n.http_port << " " << n.caf_port
            << " " << n.data << "\n";
    }
    return exit_ok;
}

// ---------------------------------------------------------------- logkey ----

void describe_logkey(po::options_description& o) {
    o.add_options()("topology", po::value<std::string>()->required(), "the topology file");
}

/// Writes a secret key file (0600), making its directory first.
status write_key_file(const std::string& path, const std::string& secret) {
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    return write_secret_file(path, {secret, "\n"});
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

// ----------------------------------------------------------- node client ----

constexpr const char* default_server = "http://127.0.0.1:8080";
constexpr auto call_timeout = std::chrono::seconds(30);
/// Most characters of a node's text repeated in an error message.
constexpr std::size_t max_echo = 300;

/// A node's answer that is not what the API promises (a field missing, a key
/// that is not hex): run_cli reports it, with nlohmann's type errors, as exit 1.
struct bad_answer : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Text from a node, safe to put on a terminal: control characters (escape
/// sequences) become '?', invalid UTF-8 bytes too, and it is cut to max_echo.
std::string printable(std::string_view text) {
    bool cut = text.size() > max_echo;
    text = text.substr(0, max_echo);
    bool utf8 = note::valid_utf8(text);
    std::string out;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        out += u < 0x20 || u == 0x7f || (u >= 0x80 && !utf8) ? '?' : c;
    }
    return cut ? out + "..." : out;
}

void describe_server(po::options_description& o) {
    o.add_options()("server", po::value<std::string>()->default_value(default_server),
                    "the node, http://HOST:PORT");
}

void describe_token_file(po::options_description& o, const char* who_needs_it) {
    o.add_options()("token-file", po::value<std::string>(),
                    (std::string(who_needs_it) +
                     ": file holding the API token (mode 0600); default: $CIVIC_ATTEST_TOKEN")
                        .c_str());
}

/// The API token: the first line of --token-file (standard input for "-"), else
/// $CIVIC_ATTEST_TOKEN when `from_environment`. Never from the command line:
/// any user of the machine can read that with ps.
result<std::string> read_token(const po::variables_map& vm, bool from_environment = true) {
    std::string token;
    std::string source = "CIVIC_ATTEST_TOKEN";
    if (vm.count("token-file") && vm["token-file"].as<std::string>() == "-") {
        source = "--token-file - (standard input)";
        std::getline(std::cin, token);
        if (!token.empty() && token.back() == '\r') token.pop_back();
    } else if (vm.count("token-file")) {
        source = "--token-file " + vm["token-file"].as<std::string>();
        auto text = read_secret_file(vm["token-file"].as<std::string>());
        if (!text) return make_error("--token-file " + text.message());
        token = text->substr(0, text->find_first_of("\r\n"));
        ed25519::wipe(text->data(), text->size());
    } else if (!from_environment) {
        return make_error("give --token-file FILE, or --token-file - to read it from standard "
                          "input");
    } else if (const char* env = std::getenv("CIVIC_ATTEST_TOKEN")) {
        token = env;
    } else {
        return make_error("give --token-file FILE or set CIVIC_ATTEST_TOKEN");
    }
    // It goes into an HTTP header: printable ASCII, no spaces.
    bool printable_ascii = !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
        return c > ' ' && c < 0x7f;
    });
    if (!printable_ascii)
        return make_error(source + ": not a token (empty, or spaces or control characters)");
    return token;
}

/// One command's calls to a node. Each call reports its own failure on err,
/// prefixed with the command: the node's error code and message with the HTTP
/// status, or why the node could not be reached; the caller just exits 1.
struct node_client {
    std::string who; // "civic-attest identity add"
    http_endpoint server;
    std::string authorization;
    std::ostream* err;

    /// Sets the bearer token from --token-file or $CIVIC_ATTEST_TOKEN.
    status authorize(const po::variables_map& vm) {
        auto token = read_token(vm);
        if (!token) return token.err();
        authorization = "Bearer " + *token;
        return {};
    }

    /// Reports a bad flag or combination of flags; returns exit_usage.
    int usage_error(const std::string& message) const {
        *err << who << ": " << message << "\n";
        return exit_usage;
    }

    /// The body of a 2xx answer.
    std::optional<std::string> text(const std::string& method, const std::string& target,
                                    const std::string& body = "") const {
        auto res = http_call(server, method, target, body, authorization, call_timeout);
        if (!res) {
            // No answer: refused, timed out, or too large (http_call bounds it).
            *err << who << ": request failed: " << res.message() << "\n";
            return std::nullopt;
        }
        if (res->status >= 200 && res->status < 300) return std::move(res->body);
        auto reply = nlohmann::json::parse(res->body, nullptr, false);
        *err << who << ": the node answered " << res->status;
        if (reply.is_object() && reply.contains("error") && reply["error"].is_string() &&
            reply.contains("message") && reply["message"].is_string())
            *err << " " << printable(reply["error"].get<std::string>()) << ": "
                 << printable(reply["message"].get<std::string>()) << "\n";
        else
            *err << ": " << printable(res->body) << "\n";
        return std::nullopt;
    }

    /// A 2xx answer's JSON object.
    std::optional<nlohmann::json> json(const std::string& method, const std::string& target,
                                       const std::string& body = "") const {
        auto answer = text(method, target, body);
        if (!answer) return std::nullopt;
        auto reply = nlohmann::json::parse(*answer, nullptr, false);
        if (!reply.is_object()) {
            *err << who << ": the node's answer is not a JSON object: " << printable(*answer)
                 << "\n";
            return std::nullopt;
        }
        return reply;
    }
    std::optional<nlohmann::json> get(const std::string& target) const {
        return json("GET", target);
    }
};

/// The node named by --server for command `who`; a bad URL is reported on err.
std::optional<node_client> open_node(const po::variables_map& vm, std::string who,
                                     std::ostream& err) {
    auto server = parse_server_url(vm["server"].as<std::string>());
    if (!server) {
        err << who << ": --server: " << server.message() << "\n";
        return std::nullopt;
    }
    return node_client{std::move(who), std::move(*server), "", &err};
}

/// A 32-byte key the node sent as hex; checked, since it may be printed for scripts.
std::string key_hex(const nlohmann::json& j, const char* field) {
    auto text = j.at(field).get<std::string>();
    auto decoded = hex_decode(text);
    if (!decoded || decoded->size() != ed25519::public_key{}.size())
        throw bad_answer(std::string("'") + field + "' is not 64 hex digits");
    return text;
}

/// An unsigned decimal flag, if given; errors name the flag.
result<std::optional<std::uint64_t>> number_flag(const po::variables_map& vm, const char* flag) {
    if (!vm.count(flag)) return std::optional<std::uint64_t>();
    auto text = vm[flag].as<std::string>();
    auto n = parse_decimal(text);
    if (!n) return make_error(std::string("--") + flag + " '" + text + "': " + n.message());
    return std::optional<std::uint64_t>(*n);
}

/// Fails naming the first of `flags` that was given, for actions that do not use it.
status refuse_flags(const po::variables_map& vm, const std::vector<const char*>& flags,
                    const std::string& action) {
    for (const char* flag : flags)
        if (vm.count(flag))
            return make_error(std::string("--") + flag + " is not used by '" + action + "'");
    return {};
}

// ------------------------------------------------------------------ sign ----

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

// ----------------------------------------------------------------- token ----

void describe_token(po::options_description& o) {
    o.add_options()("action", po::value<std::string>()->required(),
                    "add | revoke")("data", po::value<std::string>()->required(), "data directory")(
        "identity", po::value<std::vector<std::string>>(),
        "add: an identity the token may sign for (repeatable)")(
        "label", po::value<std::string>()->default_value(""), "add: a note on who holds it")(
        "admin", "add: the token may register identities and sign for all")(
        "token-file", po::value<std::string>(),
        "revoke: file holding the token to revoke (its first line; - reads standard input)")(
        "token", po::value<std::string>(),
        "refused: a token on the command line shows in ps (use --token-file)");
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
        if (vm.count("token")) {
            err << "civic-attest token revoke: --token: a token on the command line can be read "
                   "by any user of this machine (ps); give --token-file FILE, or --token-file - "
                   "and the token on standard input\n";
            return exit_usage;
        }
        auto token = read_token(vm, false);
        if (!token) {
            err << "civic-attest token revoke: " << token.message() << "\n";
            return exit_usage;
        }
        auto digest = sha256(byte_view(*token));
        ed25519::wipe(token->data(), token->size());
        auto deleted = (*store)->delete_token(digest);
        if (!deleted) {
            err << "civic-attest token: " << deleted.message() << "\n";
            return exit_failed;
        }
        if (!*deleted) {
            err << "civic-attest token revoke: no such token in " << dir
                << " (a typo, or revoked already): nothing revoked\n";
            return exit_failed;
        }
        err << "civic-attest token revoke: revoked\n";
        return exit_ok;
    }
    err << "civic-attest token: unknown action '" << action << "' (add or revoke)\n";
    return exit_usage;
}

// -------------------------------------------------------------- identity ----

/// identity list stops after this many pages, so a node that keeps answering
/// "next" cannot keep it running for ever.
constexpr int max_list_pages = 10000;

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

    if (action == "add") {
        auto reply =
            node->json("POST", "/api/identities", nlohmann::json{{"identity", name}}.dump());
        if (!reply) return exit_failed;
        out << key_hex(*reply, "public_key") << "\n";
        err << node->who << ": registered '" << name << "' (entry "
            << reply->at("index").get<std::uint64_t>()
            << " of the log); its public key is on stdout\n";
        return exit_ok;
    }
    if (action == "rotate") {
        auto reply = node->json("POST", "/api/identities/" + name + "/rotate");
        if (!reply) return exit_failed;
        out << key_hex(*reply, "public_key") << "\n";
        err << node->who << ": '" << name << "' has a new key (entry "
            << reply->at("index").get<std::uint64_t>() << " of the log), on stdout";
        if (reply->contains("previous_key"))
            err << "; it replaces " << key_hex(*reply, "previous_key");
        err << "\n";
        return exit_ok;
    }
    std::string body;
    if (vm.count("key")) {
        auto key = vm["key"].as<std::string>();
        auto decoded = hex_decode(key);
        if (!decoded || decoded->size() != ed25519::public_key{}.size())
            return usage_error("--key '" + key + "': must be 64 hex digits");
        body = nlohmann::json{{"public_key", hex_encode(*decoded)}}.dump();
    }
    auto reply = node->json("POST", "/api/identities/" + name + "/revoke", body);
    if (!reply) return exit_failed;
    err << node->who << ": revoked key " << key_hex(*reply, "revoked_key") << " of '" << name
        << "' (entry " << reply->at("index").get<std::uint64_t>() << " of the log)"
        << (reply->at("retired").get<bool>() ? "; the identity is retired: it can sign no more"
                                             : "")
        << "\n";
    return exit_ok;
}

// ------------------------------------------------------------------- log ----

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

/// --vkey: a verifier key, or a file whose first line is one.
result<policy_verifier> load_vkey(const po::variables_map& vm) {
    auto arg = vm["vkey"].as<std::string>();
    auto key = arg;
    if (!note::parse_vkey(arg)) {
        auto file = read_file(arg);
        if (!file)
            return make_error("--vkey: '" + arg +
                              "' is neither a verifier key nor a readable file (" + file.message() +
                              ")");
        key = file->substr(0, file->find_first_of("\r\n"));
    }
    return trust_log_key(key, "--vkey " + arg);
}

/// The node's latest checkpoint; with `trust`, only if the log's signature verifies.
std::optional<signed_checkpoint> fetch_checkpoint(const node_client& node,
                                                  const policy_verifier* trust,
                                                  std::string* text = nullptr) {
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

/// The hashes of a proof answer, bounded like every proof we verify.
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

// ----------------------------------------------------------------- certs ----

void describe_certs(po::options_description& o) {
    o.add_options()("topology", po::value<std::string>()->required(), "the topology file")(
        "out", po::value<std::string>(), "where to write them (default: the topology's tls_dir)");
}

int run_certs(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto t = load_topology(vm["topology"].as<std::string>());
    if (!t) {
        err << "civic-attest certs: " << t.message() << "\n";
        return exit_usage;
    }
    auto dir = vm.count("out") ? vm["out"].as<std::string>() : t->tls_dir;
    auto made = make_network_certs(*t, dir);
    if (!made) {
        err << "civic-attest certs: " << made.message() << "\n";
        return exit_failed;
    }
    err << "civic-attest certs: " << (made->made_ca ? "made" : "kept") << " the CA " << dir
        << "/ca.crt; made " << made->made.size() << " node certificate(s), kept "
        << made->kept.size() << "\n";
    out << dir << "\n";
    return exit_ok;
}

// ------------------------------------------------------------------ fsck ----

void describe_fsck(po::options_description& o) {
    o.add_options()(
        "data", po::value<std::string>()->required(),
        "the data directory of a stopped node (its ledger/ store, log.vkey or log.key)");
}

int run_fsck(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto dir = vm["data"].as<std::string>();
    auto outcome = check_data_dir(dir, [&err](const std::string& line) {
        err << "civic-attest fsck: " << line << std::endl;
    });
    using verdict = fsck_outcome::verdict;
    if (outcome.result == verdict::unopenable) {
        err << "civic-attest fsck: cannot check " << dir << ": " << outcome.what << "\n";
        return exit_usage;
    }
    if (outcome.result == verdict::damaged) {
        err << "civic-attest fsck: DAMAGED: " << outcome.what << "\n";
        return exit_failed;
    }
    const auto& c = outcome.counts;
    out << "civic-attest fsck: " << dir << " is clean: " << c.entries << " entries, "
        << c.checkpoints << " checkpoints, " << c.identities << " identities, " << c.tokens
        << " tokens checked against the signed tree\n";
    return exit_ok;
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
        {"node",
         {"run one node of a topology (its roles, TLS to its peers) until SIGINT/SIGTERM",
          describe_node, run_node}},
        {"promote",
         {"make a stopped replica the leader under a new epoch (manual, safe failover)",
          describe_promote, run_promote}},
        {"topology",
         {"check a topology file and list its nodes: NAME ROLES HOST HTTP_PORT CAF_PORT DATA",
          describe_topology, run_topology}},
        {"logkey",
         {"make a network's log key: into every log_key of a topology, its verifier key into "
          "log_vkey",
          describe_logkey, run_logkey}},
        {"keys",
         {"make a network's missing keys (the log key, each witness's cosigning key) and write "
          "its policy file, with every key filled in (what clients verify bundles against)",
          describe_logkey, run_keys}},
        {"fsck",
         {"check a stopped node's store against its signed tree: every page, entry, tile, "
          "checkpoint and record (exit 0 clean, 1 damaged, naming the first damage, 2 unopenable)",
          describe_fsck, run_fsck}},
        {"certs",
         {"make the network's TLS CA and one certificate per node of a topology", describe_certs,
          run_certs}},
        {"identity",
         {"register, rotate, revoke or list identities on a node (identity add|rotate|revoke|list "
          "--identity NAME ...)",
          describe_identity, run_identity}},
        {"simulate",
         {"run a whole network of a topology in one process on virtual time, deterministically "
          "from a seed, with faults; report time to quorum, lag and invariant violations",
          describe_simulate, run_simulate}},
        {"log",
         {"read a node's log: log checkpoint|entry|proof|consistency [--vkey VKEY] (checks "
          "signatures and proofs)",
          describe_log, run_log}},
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
        // Commands with actions (token add, log proof...) take the action first.
        if (options.find_nothrow("action", false)) positional.add("action", 1);
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
    try {
        return cmd.run(vm, out, err);
    } catch (const nlohmann::json::exception& e) {
        // Commands read answers with at() and get<>(): a missing field lands here.
        err << "civic-attest " << args[0] << ": the node's answer is malformed: " << e.what()
            << "\n";
    } catch (const bad_answer& e) {
        err << "civic-attest " << args[0] << ": the node's answer is malformed: " << e.what()
            << "\n";
    }
    return exit_failed;
}

} // namespace civic::node
