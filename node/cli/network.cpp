// topology: checks a topology file and lists its nodes; certs: the network's
// TLS material.
#include "node/cli/commands.hpp"
#include "node/config/certs.hpp"
#include "node/config/topology.hpp"

#include <ostream>

namespace civic::node::cli_detail {

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

} // namespace civic::node::cli_detail
