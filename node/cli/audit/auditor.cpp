#include "node/cli/audit/auditor.hpp"

#include "node/cli/audit/entries.hpp"
#include "node/cli/audit/history.hpp"
#include "node/cli/audit/report.hpp"
#include "node/cli/audit/tree.hpp"
#include "node/cli/exit_code.hpp"
#include "node/system/files.hpp"

#include <chrono>
#include <future>
#include <memory>
#include <ostream>

namespace civic::node::audit {
namespace {

/// Bundles read before their signatures are checked together: enough work to
/// share between threads, little enough memory (about 1.3 MB of entries).
constexpr std::uint64_t batch_bundles = 16;

/// A part of the run that may end it: its exit code, or nothing to go on.
using stop = std::optional<int>;

/// A batch whose signatures are being checked on other threads while the
/// next batch is read: over HTTP, reading and checking then overlap.
struct checks_in_flight {
    std::vector<bundle_done> batch; // owns the bytes `raw` points into
    std::vector<byte_view> raw;
    std::vector<std::uint64_t> indexes;
    std::future<std::vector<checked_entry>> checked;
};

class auditor {
public:
    auditor(log_source& source, audit_state& state, const audit_trust& trust,
            const audit_settings& settings, std::ostream& out, std::ostream& err, std::ostream* tty)
        : source_(source), state_(state), trust_(trust), settings_(settings), out_(out), err_(err),
          tty_(tty), found_(out) {}

    int run();
    /// "audit: read N resources (B bytes) in S s; E entries checked, R entries/s" on err.
    void report_reads();

private:
    stop fetch_checkpoint(seen_checkpoint& now);
    bool check_signatures(const seen_checkpoint& now);
    stop check_state_matches(const seen_checkpoint& now);
    stop check_history(const std::string& earlier_text, const seen_checkpoint& now);
    /// nullopt: the tree of `target` verified; exit_failed: it did not.
    stop audit_to(const seen_checkpoint& target);
    stop conclude(tree_audit& tree, const seen_checkpoint& target);
    /// Starts checking a batch's signatures (nothing for an empty batch).
    std::unique_ptr<checks_in_flight> start_checks(std::vector<bundle_done> batch);
    /// Waits for them and replays the registry's rules over the batch, in log order.
    status replay(std::unique_ptr<checks_in_flight> checks);
    status commit_progress(const tree_audit& tree, const seen_checkpoint& target);
    int finish(const seen_checkpoint& now);
    int state_failed(const std::string& message);

    log_source& source_;
    audit_state& state_;
    const audit_trust& trust_;
    const audit_settings& settings_;
    std::ostream& out_;
    std::ostream& err_;
    std::ostream* tty_;
    violations found_;
    std::uint64_t violations_before_ = 0;
    std::uint64_t entries_checked_ = 0;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

int auditor::run() {
    seen_checkpoint now;
    if (auto s = fetch_checkpoint(now)) return *s;
    if (!check_signatures(now)) return finish(now);
    if (auto s = check_state_matches(now)) return *s;
    auto& record = state_.record();
    violations_before_ = record.violations;
    if (record.progress) {
        // An audit an earlier run left unfinished: its checkpoint first.
        auto target_text = record.progress->checkpoint;
        if (auto s = check_history(target_text, now)) return *s;
        auto target = parse_signed_checkpoint(target_text);
        if (!target) return state_failed("its checkpoint in progress: " + target.message());
        err_ << "audit: going on with the audit of size " << target->body.size
             << " an earlier run left at " << record.progress->size << "\n";
        if (auto s = audit_to({target_text, target->body}))
            return *s == exit_failed ? finish(now) : *s;
    }
    if (record.verified) {
        if (auto s = check_history(record.verified->checkpoint, now)) return *s;
        if (record.verified->size == now.body.size) {
            err_ << "audit: nothing new since the verified checkpoint of size " << now.body.size
                 << "\n";
            return finish(now);
        }
    }
    if (auto s = audit_to(now); s && *s != exit_failed) return *s;
    return finish(now);
}

stop auditor::fetch_checkpoint(seen_checkpoint& now) {
    auto body = source_.fetch("checkpoint", max_checkpoint_bytes());
    if (!body || !*body) {
        err_ << "civic-attest audit: --log: "
             << (body ? source_.locate("checkpoint") + ": the log has no checkpoint"
                      : body.message())
             << "\n";
        return exit_usage;
    }
    auto parsed = parse_signed_checkpoint(**body);
    if (!parsed) {
        err_ << "civic-attest audit: --log: " << source_.locate("checkpoint")
             << " does not parse: " << parsed.message() << "\n";
        return exit_usage;
    }
    now = seen_checkpoint{std::move(**body), std::move(parsed->body)};
    return std::nullopt;
}

bool auditor::check_signatures(const seen_checkpoint& now) {
    if (auto signed_ok = trust_.log_key.verify(now.text); !signed_ok) {
        found_.at_tile("checkpoint", "not signed by --vkey: " + signed_ok.message());
        return false;
    }
    if (!trust_.witnesses) return true;
    auto verdict = trust_.witnesses->verify(now.text);
    if (!verdict) {
        found_.at_tile("checkpoint", "--policy: " + verdict.message());
        return true;
    }
    std::string names;
    for (const auto& w : verdict->witnesses)
        names += (names.empty() ? "" : ", ") + w;
    auto cosigned = std::to_string(verdict->witnesses.size()) + " of the policy's witnesses (" +
                    (names.empty() ? "none" : names) + ")";
    if (!verdict->quorum)
        found_.at_tile("checkpoint",
                       "--policy: cosigned by " + cosigned + ": the policy's quorum is not met");
    else
        err_ << "audit: cosigned by " << cosigned << ": the policy's quorum is met\n";
    return true;
}

stop auditor::check_state_matches(const seen_checkpoint& now) {
    auto& record = state_.record();
    if (state_.fresh()) {
        record.origin = now.body.origin;
        record.vkey = trust_.vkey;
        record.tree_only = settings_.tree_only;
        return std::nullopt;
    }
    std::string wrong;
    if (record.origin != now.body.origin || record.vkey != trust_.vkey)
        wrong = "it holds the audit of the log " + record.origin + " (" + record.vkey +
                "), not of this one";
    else if (record.tree_only != settings_.tree_only)
        wrong = std::string("it was made ") + (record.tree_only ? "with" : "without") +
                " --tree-only, so its registry does not fit this run";
    if (wrong.empty()) return std::nullopt;
    err_ << "civic-attest audit: --state " << state_.directory() << ": " << wrong
         << "; give another --state\n";
    return exit_usage;
}

stop auditor::check_history(const std::string& earlier_text, const seen_checkpoint& now) {
    auto earlier = parse_signed_checkpoint(earlier_text);
    if (!earlier) return state_failed("its checkpoint: " + earlier.message());
    served_tile_reader served(source_);
    auto finding =
        compare_history({earlier_text, earlier->body}, now, served, state_.verified_tiles());
    if (!finding) {
        err_ << "civic-attest audit: --log: " << finding.message() << "\n";
        return exit_usage;
    }
    if (finding->how != history_finding::relation::split) {
        if (!finding->message.empty()) err_ << "audit: " << finding->message << "\n";
        return std::nullopt;
    }
    found_.security_error(finding->message);
    if (settings_.keep_state) {
        auto written = write_evidence(state_.directory(), *finding, now.body.origin, now.body.size,
                                      "civic-attest audit --log " + settings_.log);
        if (!written) return state_failed("the evidence: " + written.message());
        out_ << "evidence: " << *written << "\n";
    }
    return finish(now);
}

stop auditor::audit_to(const seen_checkpoint& target) {
    auto& record = state_.record();
    CIVIC_ASSERT(!record.progress || record.progress->checkpoint == target.text);
    const tree_snapshot* start = record.progress   ? &*record.progress
                                 : record.verified ? &*record.verified
                                                   : nullptr;
    auto tree = tree_audit::resume(start, target.body.size, target.body.root,
                                   settings_.tree_only ? max_tlog_entry_size : max_entry_size);
    if (!tree) return state_failed(tree.message());
    if (!record.progress) record.progress = tree->snapshot(target.text);
    err_ << "audit: recomputing the tree from index " << tree->size() << " to size "
         << target.body.size << (settings_.tree_only ? "" : ", checking every entry") << "\n";
    progress_line bar(tty_, target.body.size);
    std::uint64_t since_commit = 0;
    std::unique_ptr<checks_in_flight> checking; // the batch before this one
    while (!tree->done() && !tree->stuck()) {
        std::vector<bundle_done> batch;
        std::optional<error> failed;
        std::uint64_t bundles = 0;
        while (bundles < std::min(batch_bundles, settings_.commit_every) && !tree->done() &&
               !tree->stuck()) {
            auto step = tree->advance(source_, state_, found_);
            if (!step) {
                failed = std::move(step).err();
                break;
            }
            ++bundles;
            // Tree-only needs no entry past its leaf hash: nothing is held.
            if (!settings_.tree_only) batch.push_back(std::move(*step));
        }
        // The batch before this one was checked while this one was read.
        if (auto ok = replay(std::move(checking)); !ok) return state_failed(ok.message());
        checking = start_checks(std::move(batch));
        since_commit += bundles;
        if (failed || since_commit >= settings_.commit_every || tree->done()) {
            // Progress covers only entries whose rules were replayed.
            if (auto ok = replay(std::move(checking)); !ok) return state_failed(ok.message());
            if (auto ok = commit_progress(*tree, target); !ok) return state_failed(ok.message());
            since_commit = 0;
        }
        bar.update(tree->size());
        if (failed) {
            bar.finish();
            err_ << "civic-attest audit: --log: " << failed->message << "; the state keeps the "
                 << "audit at index " << tree->size() << ", the next run goes on from there\n";
            return exit_usage;
        }
    }
    if (auto ok = replay(std::move(checking)); !ok) return state_failed(ok.message());
    bar.finish();
    return conclude(*tree, target);
}

stop auditor::conclude(tree_audit& tree, const seen_checkpoint& target) {
    auto& record = state_.record();
    if (tree.stuck() || !tree.root_matches()) {
        found_.at_tile(
            "checkpoint",
            tree.stuck() ? "the tree cannot be recomputed past index " + std::to_string(tree.size())
                         : "the tree the log serves has root " + base64_encode(tree.root()) +
                               " at size " + std::to_string(tree.size()) +
                               ", the checkpoint signs " + base64_encode(target.body.root));
        record.violations = violations_before_ + found_.count();
        if (auto ok = state_.drop_progress(); !ok) return state_failed(ok.message());
        return exit_failed;
    }
    record.progress = tree.snapshot(target.text);
    record.violations = violations_before_ + found_.count();
    if (auto ok = state_.promote_progress(); !ok) return state_failed(ok.message());
    if (settings_.keep_state)
        if (auto ok = replace_file_durably(state_.directory() + "/checkpoint", target.text); !ok)
            return state_failed(ok.message());
    return std::nullopt;
}

std::unique_ptr<checks_in_flight> auditor::start_checks(std::vector<bundle_done> batch) {
    if (batch.empty()) return nullptr;
    auto checks = std::make_unique<checks_in_flight>();
    checks->batch = std::move(batch);
    for (const auto& done : checks->batch)
        for (std::size_t i = 0; i < done.trusted.size(); ++i)
            if (done.trusted[i]) {
                checks->raw.push_back(done.bundle.entry(done.first - done.begin + i));
                checks->indexes.push_back(done.first + i);
            }
    auto* raw = &checks->raw;
    auto threads = settings_.threads;
    checks->checked =
        std::async(std::launch::async, [raw, threads] { return check_entries(*raw, threads); });
    return checks;
}

status auditor::replay(std::unique_ptr<checks_in_flight> checks) {
    if (!checks) return {};
    auto checked = checks->checked.get();
    registry_replay registry(state_, found_);
    for (std::size_t j = 0; j < checked.size(); ++j)
        CIVIC_TRY(registry.apply(checks->indexes[j], checked[j]));
    entries_checked_ += checks->raw.size();
    return {};
}

status auditor::commit_progress(const tree_audit& tree, const seen_checkpoint& target) {
    auto& record = state_.record();
    record.progress = tree.snapshot(target.text);
    record.violations = violations_before_ + found_.count();
    return state_.commit();
}

int auditor::state_failed(const std::string& message) {
    err_ << "civic-attest audit: --state " << state_.directory() << ": " << message << "\n";
    return exit_usage;
}

void auditor::report_reads() {
    const auto& counts = source_.counts();
    auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    err_ << "audit: read " << counts.resources << " resources (" << counts.bytes << " bytes) in "
         << seconds << " s";
    if (entries_checked_ > 0 && seconds > 0)
        err_ << "; " << entries_checked_ << " entries checked, "
             << static_cast<std::uint64_t>(static_cast<double>(entries_checked_) / seconds)
             << " entries/s";
    err_ << "\n";
}

int auditor::finish(const seen_checkpoint& now) {
    found_.finish();
    out_ << "audit: " << now.body.origin << " size " << now.body.size << ": ";
    if (found_.count() == 0)
        out_ << "clean";
    else
        out_ << found_.count() << (found_.count() == 1 ? " violation" : " violations");
    if (violations_before_ > 0)
        out_ << " (and " << violations_before_ << " found by earlier runs with this state)";
    out_ << "\n";
    return found_.count() == 0 ? exit_ok : exit_failed;
}

} // namespace

int run_audit_once(log_source& source, audit_state& state, const audit_trust& trust,
                   const audit_settings& settings, std::ostream& out, std::ostream& err,
                   std::ostream* tty) {
    auditor run(source, state, trust, settings, out, err, tty);
    int code = run.run();
    run.report_reads();
    return code;
}

} // namespace civic::node::audit
