// promote: manual failover. The arguments, progress and exit codes are here;
// the promotion itself is node/leadership/'s.
#include "node/cli/commands.hpp"
#include "node/leadership/leadership.hpp"

#include <ostream>

namespace civic::node::cli_detail {

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
    auto fail = [&](const std::string& why, int code) {
        err << "civic-attest promote: " << why << "\n";
        return code;
    };
    auto target =
        leadership::find_candidate(vm["topology"].as<std::string>(), vm["name"].as<std::string>());
    if (!target) return fail(target.message(), exit_usage);
    leadership::promotion_request request;
    request.target = std::move(*target);
    if (vm.count("secrets-from")) request.secrets_from = vm["secrets-from"].as<std::string>();
    request.force = vm.count("force") > 0;

    auto done = leadership::promote(request, [&err](const std::string& line) {
        err << "civic-attest promote: " << line << "\n";
    });
    if (!done) return fail(done.message(), exit_failed);
    const auto& name = request.target.node.name;
    err << "civic-attest promote: " << name << " leads under epoch " << done->epoch << " with "
        << done->entries << " entries (" << done->identity_keys_copied << " identity keys, "
        << done->tokens_copied << " tokens copied); start it with: civic-attest node --topology "
        << request.target.network.file << " --name " << name << "\n";
    out << done->epoch << "\n";
    return exit_ok;
}

} // namespace civic::node::cli_detail
