// serve: a single node with every role; witness: a witness of any logs, from
// a log list; node: one node of a topology. Each runs until a stop signal, or
// until the node's supervision tree gives up.
#include "node/cli/commands.hpp"
#include "node/config/from_topology.hpp"
#include "node/config/topology.hpp"
#include "node/service/service.hpp"
#include "node/system/limits.hpp"
#include "protocol/entry.hpp"

#include <csignal>
#include <memory>
#include <ostream>
#include <sstream>
#include <unistd.h>

namespace civic::node::cli_detail {

namespace {

/// The HTTP and log flags every running node takes (`witness` too).
void describe_process_flags(po::options_description& o) {
    o.add_options()("http-threads", po::value<unsigned>()->default_value(2), "HTTP I/O threads")(
        "max-connections", po::value<std::size_t>()->default_value(0),
        "most open HTTP connections (0: half the descriptor limit left after a reserve, at most "
        "16384)")("max-connections-per-address", po::value<std::size_t>()->default_value(256),
                  "most open HTTP connections from one client address (an IPv6 /64); raise it "
                  "behind a reverse proxy")(
        "log-level", po::value<std::string>()->default_value("info"),
        "the node's log on stderr: debug | info | warning | error | off")(
        "log-format", po::value<std::string>()->default_value("text"),
        "text (key=value fields) | json (one object per line)");
}

status read_process_flags(const po::variables_map& vm, service_options& options) {
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
    if (options.http.threads == 0 || options.http.threads > 64)
        return make_error("--http-threads must be 1 to 64");
    if (options.http.max_connections_per_address == 0)
        return make_error("--max-connections-per-address must be > 0");
    return {};
}

/// `--listen ADDRESS:PORT` into the HTTP options.
status read_listen(const po::variables_map& vm, service_options& options) {
    auto listen = vm["listen"].as<std::string>();
    auto colon = listen.rfind(':');
    auto port = colon == std::string::npos ? result<std::uint64_t>(make_error("no port"))
                                           : parse_decimal(listen.substr(colon + 1), 65535);
    if (!port) return make_error("--listen '" + listen + "': expected ADDRESS:PORT");
    options.http.address = listen.substr(0, colon);
    options.http.port = static_cast<std::uint16_t>(*port);
    return {};
}

/// The batching and HTTP flags `serve` and `node` share.
void describe_node_flags(po::options_description& o) {
    describe_process_flags(o);
    o.add_options()("max-batch", po::value<std::size_t>()->default_value(10000),
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
        "scrub-entries-per-second", po::value<std::uint64_t>()->default_value(50000),
        "how fast the background scrub checks the store against the verified tree (0: off; "
        "`node`: the topology's scrub.entries_per_second unless given)")(
        "scrub-pass-interval-ms", po::value<std::uint64_t>()->default_value(60000),
        "a scrub pass over the whole store starts at most this often (`node`: the "
        "topology's scrub.pass_interval_ms unless given)");
}

status read_node_flags(const po::variables_map& vm, service_options& options) {
    CIVIC_TRY(read_process_flags(vm, options));
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
    return {};
}

/// Starts the node and runs it until SIGINT or SIGTERM (exit 0), or until its
/// supervision tree gives up (exit 1, for the service manager to restart it).
/// SIGHUP reloads a witness's log list.
int run_until_stopped(const char* who, const service_options& options, std::ostream& err) {
    // Block the signals before any thread starts, then wait for them here.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
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
        if (sig == SIGHUP) {
            if (options.witness.logs_file.empty()) {
                err << "civic-attest " << who << ": SIGHUP: nothing to reload (no log list)"
                    << std::endl;
            } else if (auto reloaded = (*node)->reload_witness_logs()) {
                err << "civic-attest " << who << ": reloaded " << options.witness.logs_file
                    << ": trusts " << *reloaded << " logs" << std::endl;
            } else {
                err << "civic-attest " << who
                    << ": kept the log list in force: " << reloaded.message() << std::endl;
            }
            continue;
        }
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

} // namespace

// ----------------------------------------------------------------- serve ----

void describe_serve(po::options_description& o) {
    o.add_options()("data", po::value<std::string>()->required(), "data directory made by init")(
        "listen", po::value<std::string>()->default_value("127.0.0.1:8080"), "HTTP address:port");
    describe_node_flags(o);
}

int run_serve(const po::variables_map& vm, std::ostream&, std::ostream& err) {
    service_options options;
    options.data_dir = vm["data"].as<std::string>();
    if (auto ok = read_listen(vm, options); !ok) {
        err << "civic-attest serve: " << ok.message() << "\n";
        return exit_usage;
    }
    if (auto ok = read_node_flags(vm, options); !ok) {
        err << "civic-attest serve: " << ok.message() << "\n";
        return exit_usage;
    }
    return run_until_stopped("serve", options, err);
}

// --------------------------------------------------------------- witness ----

void describe_witness(po::options_description& o) {
    o.add_options()("data", po::value<std::string>()->required(),
                    "data directory of its witness store (made if new)")(
        "key", po::value<std::string>()->required(), "its cosigning key (from `keygen --witness`)")(
        "logs", po::value<std::string>()->required(),
        "the logs it cosigns: a log list (logs/v0), reloaded on SIGHUP")(
        "listen", po::value<std::string>()->default_value("127.0.0.1:8080"), "HTTP address:port")(
        "name", po::value<std::string>()->default_value("witness"), "the node's name in its log");
    describe_process_flags(o);
}

int run_witness(const po::variables_map& vm, std::ostream&, std::ostream& err) {
    service_options options;
    options.data_dir = vm["data"].as<std::string>();
    options.holds_ledger = false;
    options.witness.enabled = true;
    options.witness.key_file = vm["key"].as<std::string>();
    options.witness.logs_file = vm["logs"].as<std::string>();
    options.network.node_name = vm["name"].as<std::string>();
    options.network.leading = false;
    if (auto ok = read_listen(vm, options); !ok) {
        err << "civic-attest witness: " << ok.message() << "\n";
        return exit_usage;
    }
    if (auto ok = read_process_flags(vm, options); !ok) {
        err << "civic-attest witness: " << ok.message() << "\n";
        return exit_usage;
    }
    return run_until_stopped("witness", options, err);
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

} // namespace civic::node::cli_detail
