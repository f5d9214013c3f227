// A node's data directory: init makes one, token adds and revokes API tokens
// in it (while its node runs, too), fsck checks a stopped node's store.
#include "node/cli/commands.hpp"
#include "node/cli/fsck.hpp"
#include "node/system/data_dir.hpp"
#include "protocol/entry.hpp"
#include "storage/ledger_store.hpp"

#include <ostream>

namespace civic::node::cli_detail {

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

} // namespace civic::node::cli_detail
