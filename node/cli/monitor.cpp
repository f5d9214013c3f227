// monitor: follows a log for the people in it. Each round it takes the log's
// signed checkpoint (consistent with the last one it saw, or an alarm with
// evidence), the split-view evidence the node holds, and every new entry of
// each watched identity (GET /api/identities/<name>/entries, each proven in
// the checkpoint); it prints one JSON line per event and alarms on a
// statement the owner's journal does not hold, any key change, and any sign
// of two histories. What it cannot see (an entry the node leaves out of an
// identity's pages) is the auditor's to find: docs/TRUST.md.
#include "node/cli/audit/history.hpp"
#include "node/cli/audit/served.hpp"
#include "node/cli/audit/source.hpp"
#include "node/cli/commands.hpp"
#include "node/system/files.hpp"
#include "protocol/merkle.hpp"
#include "protocol/split_view.hpp"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace civic::node::cli_detail {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::size_t max_watched = 1000;
constexpr std::size_t page_limit = 256;
/// Pages of one identity per round: a node that keeps answering "next"
/// cannot keep one round going for ever (the next round goes on from there).
constexpr int max_pages_per_round = 1000;

/// What the monitor remembers between runs (--state DIR/monitor.json).
struct monitor_state {
    std::string checkpoint; // the last signed checkpoint found consistent
    std::map<std::string, std::optional<std::uint64_t>> seen; // identity -> last index reported
    std::uint64_t evidence_seen = 0; // the node's evidence list, read this far
};

struct monitor_run {
    node_client node;
    std::unique_ptr<audit::log_source> tiles; // the log's tlog-tiles API, for proofs
    policy_verifier trust;
    std::vector<std::string> identities;
    fs::path state_dir;
    std::optional<std::set<std::pair<std::uint64_t, std::string>>> journal; // (index, leaf hex)
    std::optional<std::string> exec;
    std::ostream* out;
    std::size_t alarms = 0;
};

result<monitor_state> load_state(const fs::path& dir) {
    monitor_state st;
    auto path = (dir / "monitor.json").string();
    if (!fs::exists(path)) return st;
    auto text = read_file(path);
    if (!text) return make_error("--state " + text.message());
    auto j = json::parse(*text, nullptr, false);
    try {
        st.checkpoint = j.at("checkpoint").get<std::string>();
        st.evidence_seen = j.at("evidence_seen").get<std::uint64_t>();
        for (const auto& [name, after] : j.at("seen").items())
            st.seen[name] =
                after.is_null() ? std::nullopt : std::optional(after.get<std::uint64_t>());
    } catch (const json::exception& e) {
        return make_error("--state " + path + ": not a monitor state file (" + e.what() + ")");
    }
    return st;
}

/// Written whole or not at all (replace_file_durably).
status save_state(const fs::path& dir, const monitor_state& st) {
    json seen = json::object();
    for (const auto& [name, after] : st.seen)
        seen[name] = after ? json(*after) : json(nullptr);
    auto text =
        json{{"checkpoint", st.checkpoint}, {"seen", seen}, {"evidence_seen", st.evidence_seen}}
            .dump(2);
    if (auto ok = replace_file_durably((dir / "monitor.json").string(), text + "\n"); !ok)
        return make_error("--state " + ok.message());
    return {};
}

result<std::set<std::pair<std::uint64_t, std::string>>> load_journal(const std::string& path) {
    std::set<std::pair<std::uint64_t, std::string>> out;
    if (!fs::exists(path)) return out; // nothing signed yet
    auto text = read_file(path);
    if (!text) return make_error("--journal " + text.message());
    std::istringstream in(*text);
    std::size_t number = 0;
    for (std::string line; std::getline(in, line);) {
        ++number;
        if (line.empty()) continue;
        auto j = json::parse(line, nullptr, false);
        if (!j.is_object() || !j.contains("index") || !j["index"].is_number_unsigned() ||
            !j.contains("leaf_hash") || !j["leaf_hash"].is_string())
            return make_error("--journal " + path + ": line " + std::to_string(number) +
                              " is not a journal line (index, leaf_hash)");
        out.emplace(j["index"].get<std::uint64_t>(), j["leaf_hash"].get<std::string>());
    }
    return out;
}

/// Runs --exec with the event on its standard input, and waits for it.
void run_exec(const std::string& command, const std::string& event, std::ostream& err) {
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) return void(err << "civic-attest monitor: --exec: no pipe\n");
    pid_t child = ::fork();
    if (child == 0) {
        ::dup2(pipe_fds[0], STDIN_FILENO);
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(pipe_fds[0]);
    if (child < 0) {
        ::close(pipe_fds[1]);
        return void(err << "civic-attest monitor: --exec: cannot start it\n");
    }
    auto line = event + "\n";
    auto* previous = std::signal(SIGPIPE, SIG_IGN); // a command that reads nothing
    for (std::size_t done = 0; done < line.size();) {
        auto n = ::write(pipe_fds[1], line.data() + done, line.size() - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    ::close(pipe_fds[1]);
    std::signal(SIGPIPE, previous);
    int wstatus = 0;
    ::waitpid(child, &wstatus, 0);
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
        err << "civic-attest monitor: --exec '" << command << "' failed\n";
}

/// Prints an event; an alarm also goes to --exec.
void report(monitor_run& run, json event, bool alarm) {
    event["alarm"] = alarm;
    auto line = event.dump();
    *run.out << line << "\n";
    run.out->flush();
    if (!alarm) return;
    ++run.alarms;
    if (run.exec) run_exec(*run.exec, line, *run.node.err);
}

/// Whether the checkpoint `now` extends `before` (both verified), proven
/// from the log's own tiles; else an alarm, with evidence anyone can check
/// written under --state (as `audit` writes it).
bool check_extends(monitor_run& run, const std::string& before_text,
                   const signed_checkpoint& before, const std::string& now_text,
                   const signed_checkpoint& now) {
    if (before.body.size == now.body.size && before.body.root == now.body.root) return true;
    audit::served_tile_reader served(*run.tiles);
    auto finding =
        audit::compare_history({before_text, before.body}, {now_text, now.body}, served, served);
    if (!finding) {
        *run.node.err << run.node.who << ": " << finding.message() << "\n";
        return false; // the tiles could not be read: no verdict this round
    }
    using relation = audit::history_finding::relation;
    if (finding->how == relation::extends && finding->message.empty()) return true;
    json event{{"origin", now.body.origin},
               {"size_before", before.body.size},
               {"size_now", now.body.size},
               {"message", finding->message}};
    if (finding->how == relation::extends) {
        // The log's tiles do not prove its own checkpoint: nothing to follow.
        event["event"] = "unproven";
    } else {
        event["event"] = finding->kind;
        auto dir = audit::write_evidence(run.state_dir.string(), *finding, now.body.origin,
                                         now.body.size, run.node.who);
        event["evidence"] = dir ? *dir : "not written: " + dir.message();
    }
    report(run, event, true);
    return false;
}

/// New split-view evidence the node holds, each verified before it alarms.
bool check_node_evidence(monitor_run& run, monitor_state& st) {
    auto page = run.node.get("/api/evidence?from=" + std::to_string(st.evidence_seen));
    if (!page) return false;
    auto log_key = note::make_verifier(run.trust.rules().logs.at(0).key);
    if (!log_key) throw bad_answer("--vkey: " + log_key.message());
    for (const auto& e : page->at("evidence")) {
        split_view_evidence ev{
            e.at("ours").get<std::string>(), e.at("theirs").get<std::string>(), std::nullopt, {}};
        if (auto root = e.value("root_at_smaller", ""); !root.empty())
            if (auto decoded = base64_decode_fixed<32>(root)) ev.root_at_smaller = *decoded;
        std::istringstream proof(e.value("proof", ""));
        for (std::string h; std::getline(proof, h);)
            if (auto decoded = base64_decode_fixed<32>(h)) ev.proof.push_back(*decoded);
        auto kind = check_split_view(ev, **log_key);
        if (!kind) {
            *run.node.err << run.node.who << ": evidence the node holds does not verify ("
                          << kind.message() << "): ignored\n";
            continue;
        }
        report(run, {{"event", "split_view"}, {"kind", to_string(*kind)}, {"evidence", e}}, true);
    }
    st.evidence_seen = page->at("total").get<std::uint64_t>();
    return true;
}

const char* event_name(entry_kind kind) {
    switch (kind) {
    case entry_kind::statement:
        return "statement";
    case entry_kind::identity_registration:
        return "registration";
    case entry_kind::key_rotation:
        return "rotation";
    case entry_kind::key_revocation:
        return "revocation";
    }
    return "unknown";
}

/// One entry of a watched identity, proven in `cp`: its event, and whether it alarms.
void report_entry(monitor_run& run, const std::string& name, const json& item,
                  const signed_checkpoint& cp) {
    auto index = item.at("index").get<std::uint64_t>();
    auto raw = base64_decode(item.at("entry").get<std::string>());
    if (!raw) throw bad_answer("entry " + std::to_string(index) + ": not base64");
    auto leaf = merkle::leaf_hash(*raw);
    auto proof = proof_hashes(json{{"proof", item.at("inclusion_proof")}});
    if (!merkle::verify_inclusion(index, cp.body.size, leaf, proof, cp.body.root))
        throw bad_answer("entry " + std::to_string(index) + ": its inclusion proof fails");
    auto e = decode_entry(*raw);
    if (!e || e->identity != name)
        throw bad_answer("entry " + std::to_string(index) + " is not an entry of '" + name + "'");
    json event{{"event", event_name(e->kind)},
               {"identity", name},
               {"index", index},
               {"timestamp_ms", e->timestamp_ms},
               {"public_key", hex_encode(e->public_key)},
               {"leaf_hash", hex_encode(leaf)}};
    bool alarm = e->kind != entry_kind::statement; // every key change
    if (e->kind == entry_kind::statement) {
        event["content_sha256"] = hex_encode(e->content_hash);
        if (run.journal) {
            bool journaled = run.journal->count({index, hex_encode(leaf)}) > 0;
            event["journaled"] = journaled;
            alarm = !journaled;
        }
    } else if (e->kind != entry_kind::identity_registration) {
        event["payload_key"] = hex_encode(e->payload_key());
    }
    if (!e->signature_valid()) {
        event["signature_valid"] = false;
        alarm = true;
    }
    report(run, event, alarm);
}

/// The new entries of `name`, page by page, each page's checkpoint checked
/// against the round's.
bool follow_identity(monitor_run& run, monitor_state& st, const std::string& name,
                     const std::string& round_text, const signed_checkpoint& round) {
    auto& after = st.seen[name];
    for (int page = 0; page < max_pages_per_round; ++page) {
        auto target = "/api/identities/" + name + "/entries?limit=" + std::to_string(page_limit);
        if (after) target += "&after=" + std::to_string(*after);
        bool missing = false;
        auto reply = run.node.json("GET", target, "", &missing);
        if (missing) return true; // not registered (yet)
        if (!reply) return false;
        auto page_text = reply->at("checkpoint").get<std::string>();
        auto cp = parse_signed_checkpoint(page_text);
        if (!cp || !run.trust.verify(page_text))
            throw bad_answer("the page's checkpoint does not verify with --vkey");
        bool older = cp->body.size <= round.body.size;
        if (!(older ? check_extends(run, page_text, *cp, round_text, round)
                    : check_extends(run, round_text, round, page_text, *cp)))
            return false;
        const auto& items = reply->at("entries");
        for (const auto& item : items) {
            auto index = item.at("index").get<std::uint64_t>();
            if (after && index <= *after) throw bad_answer("entries out of order");
            report_entry(run, name, item, *cp);
            after = index;
        }
        if (!reply->contains("next") || items.empty()) return true;
    }
    return true;
}

/// One round: the checkpoint, the node's evidence, every watched identity.
/// Returns false when the log could not be read whole (unreachable, a bad answer).
bool monitor_round(monitor_run& run, monitor_state& st) {
    std::string text;
    auto cp = fetch_checkpoint(run.node, &run.trust, &text);
    if (!cp) return false;
    if (!st.checkpoint.empty()) {
        auto before = parse_signed_checkpoint(st.checkpoint);
        if (!before) throw bad_answer("the saved checkpoint does not parse");
        if (!check_extends(run, st.checkpoint, *before, text, *cp)) return false;
    }
    if (!check_node_evidence(run, st)) return false;
    for (const auto& name : run.identities)
        if (!follow_identity(run, st, name, text, *cp)) return false;
    st.checkpoint = std::move(text);
    return true;
}

} // namespace

void describe_monitor(po::options_description& o) {
    o.add_options()("log", po::value<std::string>()->required(),
                    "the log's node, http://HOST:PORT")(
        "vkey", po::value<std::string>()->required(),
        "the log's verifier key, or a file holding it")(
        "identity", po::value<std::vector<std::string>>()->required(),
        "an identity to watch (repeat for more)")(
        "state", po::value<std::string>()->required(),
        "a directory for what it saw (checkpoint, last index per identity) and evidence")(
        "journal", po::value<std::string>(),
        "the owner's journal (sign --journal): a statement it does not hold is an alarm")(
        "once", "check up to the current checkpoint and exit (0 quiet, 1 alarms)")(
        "exec", po::value<std::string>(),
        "run this shell command for each alarm, the event on stdin")(
        "interval-ms", po::value<unsigned>()->default_value(10000),
        "between rounds, when following");
}

int run_monitor(const po::variables_map& vm, std::ostream& out, std::ostream& err) {
    const std::string who = "civic-attest monitor";
    auto usage = [&](const std::string& message) {
        err << who << ": " << message << "\n";
        return exit_usage;
    };
    auto server = parse_server_url(vm["log"].as<std::string>());
    if (!server) return usage("--log: " + server.message());
    auto trust = load_vkey(vm);
    if (!trust) return usage(trust.message());
    auto identities = vm["identity"].as<std::vector<std::string>>();
    if (identities.size() > max_watched) return usage("at most 1000 --identity");
    for (const auto& name : identities)
        if (auto ok = check_identity_name(name); !ok)
            return usage("--identity '" + name + "': " + ok.message());
    fs::path state_dir = vm["state"].as<std::string>();
    std::error_code ec;
    fs::create_directories(state_dir, ec);
    if (ec) return usage("--state " + state_dir.string() + ": " + ec.message());
    auto st = load_state(state_dir);
    if (!st) return usage(st.message());
    auto tiles = audit::open_log_source(vm["log"].as<std::string>(), audit::fetch_limits{});
    if (!tiles) return usage("--log: " + tiles.message());
    monitor_run run{node_client{who, *server, "", &err},
                    std::move(*tiles),
                    std::move(*trust),
                    identities,
                    state_dir,
                    std::nullopt,
                    std::nullopt,
                    &out};
    if (vm.count("exec")) run.exec = vm["exec"].as<std::string>();
    auto interval = std::chrono::milliseconds(vm["interval-ms"].as<unsigned>());
    while (true) {
        if (vm.count("journal")) { // read again each round: the owner signs on
            auto journal = load_journal(vm["journal"].as<std::string>());
            if (!journal) return usage(journal.message());
            run.journal = std::move(*journal);
        }
        auto before = run.alarms;
        bool whole = monitor_round(run, *st);
        // What was reported is remembered, even after an alarm.
        if (auto ok = save_state(state_dir, *st); !ok) {
            err << who << ": " << ok.message() << "\n";
            return exit_failed;
        }
        if (vm.count("once")) return run.alarms > 0 ? exit_failed : whole ? exit_ok : exit_usage;
        if (!whole && run.alarms > before) return exit_failed; // two histories: stop
        std::this_thread::sleep_for(interval);
    }
}

} // namespace civic::node::cli_detail
