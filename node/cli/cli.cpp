// The civic-attest command table, its usage text, and run_cli, which parses a
// command's options and runs it. The commands are in one file per family
// (see commands.hpp).
#include "node/cli/cli.hpp"

#include "node/cli/commands.hpp"
#include "node/cli/simulate.hpp"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <ostream>

namespace civic::node {
namespace po = boost::program_options;

namespace cli_detail {
namespace {

constexpr const char* version_text = "civic-attest 0.1.0";

// A subcommand: its options, what it does, and how it runs.
struct command {
    const char* summary;
    void (*describe)(po::options_description&);
    int (*run)(const po::variables_map&, std::ostream& out, std::ostream& err);
};

// --------------------------------------------------------------- version ----

void describe_none(po::options_description&) {}
int run_version(const po::variables_map&, std::ostream& out, std::ostream&) {
    out << version_text << "\n";
    return exit_ok;
}

const std::map<std::string, command>& commands() {
    static const std::map<std::string, command> table = {
        {"keygen",
         {"make a log or witness signing key, or an identity's key for its owner", describe_keygen,
          run_keygen}},
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
        {"witness",
         {"run a witness of any logs, from a log list (logs/v0, reloaded on SIGHUP), until "
          "SIGINT/SIGTERM",
          describe_witness, run_witness}},
        {"token",
         {"add or revoke an API token (token add|revoke --data DIR ...)", describe_token,
          run_token}},
        {"sign",
         {"sign a document through a node and write its .tlog-proof", describe_sign, run_sign}},
        {"monitor",
         {"follow a log for identities: a JSON line per new entry of theirs, alarms on a "
          "statement not in the owner's journal, a key change, or two histories",
          describe_monitor, run_monitor}},
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
        {"audit",
         {"audit a log from its tlog-tiles API or a static copy: signatures, the whole tree, every "
          "tile, entry and registry rule, consistency with the last run (exit 0 clean, 1 "
          "violations, 2 unreachable or usage)",
          describe_audit, run_audit}},
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
} // namespace cli_detail

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        cli_detail::usage(args.empty() ? err : out);
        return args.empty() ? exit_usage : exit_ok;
    }
    if (args[0] == "--version") return cli_detail::run_version({}, out, err);
    auto it = cli_detail::commands().find(args[0]);
    if (it == cli_detail::commands().end()) {
        err << "civic-attest: unknown command '" << args[0] << "'\n";
        cli_detail::usage(err);
        return exit_usage;
    }
    const cli_detail::command& cmd = it->second;
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
    } catch (const cli_detail::bad_answer& e) {
        err << "civic-attest " << args[0] << ": the node's answer is malformed: " << e.what()
            << "\n";
    }
    return exit_failed;
}

} // namespace civic::node
