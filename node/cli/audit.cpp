// audit: an auditor anyone can run against a log's public tlog-tiles API (or
// a static copy of it). The parts are in node/cli/audit/: where it reads
// (source), what it reads (served), the recomputed tree (tree), the entries
// and the registry (entries), checkpoints against the last verified one
// (history), what it keeps (state), and one run (auditor).
#include "node/cli/audit/auditor.hpp"
#include "node/cli/commands.hpp"
#include "node/system/files.hpp"
#include "protocol/note.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>
#include <unistd.h>

namespace civic::node::cli_detail {

namespace fs = std::filesystem;

namespace {

/// A temporary state for a run without --state, removed when the run ends.
struct scratch_state_dir {
    std::string path;
    ~scratch_state_dir() {
        std::error_code ignored;
        if (!path.empty()) fs::remove_all(path, ignored);
    }
};

/// --policy: its log with the --vkey key's name must have that key.
result<policy_verifier> audit_policy(const std::string& file_name, const std::string& vkey) {
    auto text = read_file(file_name);
    if (!text) return make_error("--policy " + text.message());
    auto p = parse_policy(*text);
    if (!p) return make_error("--policy " + file_name + ": " + p.message());
    auto key = note::parse_vkey(vkey);
    bool listed = false;
    for (const auto& log : p->logs)
        if (log.key.name == key->name) {
            if (log.key.public_key != key->public_key || log.key.key_id != key->key_id)
                return make_error("--policy " + file_name + ": its log " + log.key.name +
                                  " has another key than --vkey");
            listed = true;
        }
    if (!listed) return make_error("--policy " + file_name + ": it lists no log " + key->name);
    auto v = policy_verifier::make(*p);
    if (!v) return make_error("--policy " + file_name + ": " + v.message());
    return v;
}

/// A positive number flag, or `fallback`.
result<std::uint64_t> positive_flag(const po::variables_map& vm, const char* flag,
                                    std::uint64_t fallback) {
    CIVIC_TRY_ASSIGN(n, number_flag(vm, flag));
    if (!n) return fallback;
    if (*n == 0) return make_error(std::string("--") + flag + " must be at least 1");
    return *n;
}

/// --state DIR (made if missing), or a fresh temporary directory.
result<std::string> state_directory(const po::variables_map& vm, scratch_state_dir& scratch) {
    if (vm.count("state")) {
        auto dir = vm["state"].as<std::string>();
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec || !fs::is_directory(dir, ec))
            return make_error("--state " + dir + ": not a directory it can make or use");
        return dir;
    }
    auto pattern = (fs::temp_directory_path() / "civic-audit-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
        return make_error("cannot make a temporary state directory in " +
                          fs::temp_directory_path().string() + " (give --state)");
    scratch.path = pattern;
    return pattern;
}

struct audit_setup {
    audit::audit_trust trust;
    audit::audit_settings settings;
    audit::fetch_limits limits;
    std::uint64_t identity_cache = 100000;
};

result<audit_setup> read_audit_flags(const po::variables_map& vm) {
    CIVIC_TRY_ASSIGN(vkey, read_vkey_arg(vm["vkey"].as<std::string>()));
    CIVIC_TRY_ASSIGN(log_key, trust_log_key(vkey, "--vkey"));
    audit_setup s{audit::audit_trust{std::move(log_key), std::nullopt, vkey}, {}, {}, 100000};
    if (vm.count("policy")) {
        CIVIC_TRY_ASSIGN(witnesses, audit_policy(vm["policy"].as<std::string>(), vkey));
        s.trust.witnesses = std::move(witnesses);
    }
    s.settings.tree_only = vm.count("tree-only") > 0;
    s.settings.keep_state = vm.count("state") > 0;
    s.settings.log = vm["log"].as<std::string>();
    auto cores = std::max(1u, std::thread::hardware_concurrency());
    CIVIC_TRY_ASSIGN(threads, positive_flag(vm, "threads", cores));
    CIVIC_TRY_ASSIGN(commit_every, positive_flag(vm, "commit-every", 64));
    CIVIC_TRY_ASSIGN(timeout, positive_flag(vm, "timeout-ms", 10000));
    CIVIC_TRY_ASSIGN(attempts, positive_flag(vm, "attempts", 3));
    CIVIC_TRY_ASSIGN(cache, positive_flag(vm, "identity-cache", 100000));
    if (threads > 256) return make_error("--threads: at most 256");
    if (attempts > 100) return make_error("--attempts: at most 100");
    s.settings.threads = static_cast<unsigned>(threads);
    s.settings.commit_every = commit_every;
    s.limits.timeout = std::chrono::milliseconds(timeout);
    s.limits.attempts = static_cast<unsigned>(attempts);
    s.identity_cache = cache;
    return s;
}

} // namespace

void describe_audit(po::options_description& o) {
    o.add_options()("log", po::value<std::string>()->required(),
                    "the log: http://HOST:PORT[/PREFIX] (its tlog-tiles API), or a directory "
                    "holding a static copy of it (DIR/checkpoint, DIR/tile/...)")(
        "vkey", po::value<std::string>()->required(),
        "the log's verifier key, or a file whose first line is one")(
        "policy", po::value<std::string>(),
        "a tlog-policy file: the checkpoint's witness cosignatures must meet its quorum")(
        "state", po::value<std::string>(),
        "a directory kept between runs (made if missing): the last verified checkpoint, the "
        "recomputed tree and the registry, so that the next run reads only what is new, and "
        "evidence of split views (default: a temporary directory, removed at the end)")(
        "tree-only",
        "check only the checkpoint, the tree and its tiles: any C2SP tlog-tiles log, no entry "
        "format assumed")("threads", po::value<std::string>(),
                          "threads checking entry signatures (default: one per core)")(
        "timeout-ms", po::value<std::string>(), "per request to the log (default 10000)")(
        "attempts", po::value<std::string>(),
        "tries per request when the log cannot be reached or answers 5xx (default 3)")(
        "commit-every", po::value<std::string>(),
        "entry bundles between durable progress records in --state (default 64)")(
        "identity-cache", po::value<std::string>(),
        "registry records kept in memory; the rest stay in --state's LMDB (default 100000)");
}

int run_audit(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    auto setup = read_audit_flags(vm);
    if (!setup) {
        err << "civic-attest audit: " << setup.message() << "\n";
        return exit_usage;
    }
    auto source = audit::open_log_source(setup->settings.log, setup->limits);
    if (!source) {
        err << "civic-attest audit: --log " << source.message() << "\n";
        return exit_usage;
    }
    scratch_state_dir scratch;
    auto dir = state_directory(vm, scratch);
    if (!dir) {
        err << "civic-attest audit: " << dir.message() << "\n";
        return exit_usage;
    }
    auto state = audit::audit_state::open(*dir, setup->identity_cache);
    if (!state) {
        err << "civic-attest audit: --state " << state.message() << "\n";
        return exit_usage;
    }
    // The progress line only where someone watches it.
    std::ostream* tty = &err == &std::cerr && ::isatty(STDERR_FILENO) ? &err : nullptr;
    return audit::run_audit_once(**source, **state, setup->trust, setup->settings, out, err, tty);
}

} // namespace civic::node::cli_detail
