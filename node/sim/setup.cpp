#include "node/sim/setup.hpp"

#include "node/config/from_topology.hpp"
#include "protocol/note.hpp"
#include "protocol/sha256.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace civic::node::sim {

namespace fs = std::filesystem;

namespace setup_steps {

/// A node's network seed: the run's seed mixed with the node's name.
std::uint64_t mix(std::uint64_t seed, const std::string& name) {
    auto h = sha256(byte_view(std::to_string(seed) + "/" + name));
    std::uint64_t x = 0;
    for (int i = 0; i < 8; ++i)
        x = (x << 8) | h[static_cast<std::size_t>(i)];
    return x;
}

status make_work_directory(const simulation_options& options, prepared_setup& setup) {
    std::error_code ec;
    fs::path base = fs::exists("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    for (int i = 0;; ++i) {
        auto candidate = base / ("civic-sim-" + std::to_string(::getpid()) + "-" +
                                 std::to_string(options.seed) + "-" + std::to_string(i));
        if (fs::create_directory(candidate, ec)) {
            setup.dir = candidate;
            return {};
        }
        if (i > 1000) return make_error("cannot make a work directory under " + base.string());
    }
}

/// The log's key and verifier key, each node's home and each witness's key.
status write_keys(const simulation_options& options, prepared_setup& setup) {
    auto& topo = setup.topo;
    topo.log_vkey = (setup.dir / "log.vkey").string();
    topo.policy_file = (setup.dir / "policy.txt").string();
    auto log_key = derived_key(options.seed, "log");
    auto log_key_file = (setup.dir / "log.key").string();
    auto secret = note::format_signer_key(topo.origin, note::type_ed25519, log_key);
    CIVIC_TRY(write_private_file(log_key_file, secret));
    note::ed25519_signer log_signer(topo.origin, std::move(log_key));
    setup.log_vkey = note::format_vkey(log_signer.verifier_key());
    CIVIC_TRY(write_private_file(topo.log_vkey, setup.log_vkey + "\n"));
    std::error_code ec;
    for (auto& n : topo.nodes) {
        auto home = setup.dir / n.name;
        fs::create_directories(home, ec);
        n.data = (home / "data").string();
        n.log_key = log_key_file;
        if (n.has(node_role::witness)) {
            n.witness_key = (home / "witness.key").string();
            auto key = derived_key(options.seed, "witness/" + n.name);
            CIVIC_TRY(write_private_file(
                n.witness_key, note::format_signer_key(n.name, note::type_cosignature_v1, key)));
        }
    }
    return {};
}

std::string quorum_name(const policy& rules) {
    switch (rules.quorum) {
    case policy::quorum_kind::none:
        return "none";
    case policy::quorum_kind::witness:
        return rules.witnesses[rules.quorum_index].name;
    case policy::quorum_kind::group: {
        const auto& g = rules.groups[rules.quorum_index];
        return g.name + " (" + std::to_string(g.threshold) + " of " +
               std::to_string(g.members.size()) + ")";
    }
    }
    return {};
}

/// The policy's outside witnesses (`witness NAME VKEY URL`, no node) get the
/// simulation's keys, so their models can cosign; each must be placed under
/// outside_witnesses:, which says where it runs and what it allows.
result<std::string> with_simulated_outside_keys(prepared_setup& setup, const std::string& text) {
    const auto& topo = setup.topo;
    std::istringstream lines(text);
    std::string line, out;
    while (std::getline(lines, line)) {
        auto [first, name, vkey, url] = split_policy_line(line);
        if (first != "witness" || url.empty() || topo.find(name)) {
            out += line + "\n";
            continue;
        }
        auto model = std::find_if(topo.outside_witnesses.begin(), topo.outside_witnesses.end(),
                                  [&](const outside_witness_model& m) { return m.name == name; });
        if (model == topo.outside_witnesses.end())
            return make_error(topo.file + ": outside_witnesses: the policy's outside witness '" +
                              name +
                              "' is not placed: the simulator needs its region (outside_witnesses: "
                              "- {name: " +
                              name + ", region: REGION, qpd: N})");
        auto key = outside_witness_key(setup.seed, name);
        out += "witness " + name + " " + note::format_vkey(key.verifier_key()) + " " + url + "\n";
        setup.outside.push_back(*model);
    }
    return out;
}

/// The policy file, its quorum's name and a verifier for the invariants.
status write_policy(prepared_setup& setup) {
    const auto& topo = setup.topo;
    if (topo.policy.empty()) return {};
    auto expanded = expanded_policy(topo, setup.log_vkey);
    if (!expanded) return make_error(topo.file + ": policy: " + expanded.message());
    auto text = with_simulated_outside_keys(setup, *expanded);
    if (!text) return text.err();
    setup.policy_text = *text;
    CIVIC_TRY(write_private_file(topo.policy_file, setup.policy_text));
    auto rules = parse_policy(setup.policy_text);
    if (!rules) return rules.err();
    setup.quorum = quorum_name(*rules);
    auto verifier = policy_verifier::make(*rules, 0);
    if (!verifier) return verifier.err();
    setup.policy = std::make_unique<policy_verifier>(std::move(*verifier));
    return {};
}

/// A planted bug changes the options of one node, or of all.
void plant_bug(const simulation_options& options, const node_list& before, sim_node& n) {
    const auto& spec = *n.spec;
    if (options.plant == sim_plant::careless_witness && spec.has(node_role::witness) &&
        !std::any_of(before.begin(), before.end(), [](const auto& m) { return m->is_witness(); }))
        n.options.witness.test_skip_consistency_check = true;
    if (options.plant == sim_plant::stale_replica && spec.has(node_role::replica) &&
        !std::any_of(before.begin(), before.end(), [](const auto& m) {
            return m->holds_ledger() && !m->options.network.leading;
        }))
        n.options.network.leader_candidates.clear();
    if (options.plant == sim_plant::silent_gossip)
        n.options.network.gossip_period = std::chrono::hours(1000);
}

status build_nodes(const simulation_options& options, const prepared_setup& setup,
                   node_list& nodes) {
    const auto& topo = setup.topo;
    for (const auto& spec : topo.nodes) {
        auto n = std::make_unique<sim_node>();
        n->spec = &spec;
        n->index = static_cast<int>(nodes.size());
        auto node_opts = node_options(topo, spec, true);
        if (!node_opts)
            return make_error(topo.file + ": nodes[" + spec.name + "]: " + node_opts.message());
        n->options = std::move(*node_opts);
        n->options.network.seed = mix(options.seed, spec.name);
        n->options.network.system.deterministic = true;
        n->logger = log::logger::make(spec.name, options.log);
        plant_bug(options, nodes, *n);
        if (options.faults.equivocate_at && n->options.network.leading)
            n->options.test_equivocate = true;
        nodes.push_back(std::move(n));
    }
    return {};
}

status grant_admin_token(const simulation_options& options, prepared_setup& setup,
                         const node_list& nodes) {
    setup.admin_token = "simulation-token/" + std::to_string(options.seed);
    for (const auto& n : nodes) {
        if (!n->options.network.leading) continue;
        auto opened = open_ledger(n->options.data_dir);
        if (!opened) return make_error("nodes[" + n->spec->name + "]: " + opened.message());
        CIVIC_TRY(opened->store->put_token(sha256(byte_view(setup.admin_token)),
                                           storage::token_record{"simulation", true, {}}));
    }
    return {};
}

} // namespace setup_steps

status write_private_file(const fs::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) return make_error(path.string() + ": cannot write");
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace);
    return {};
}

note::cosigner outside_witness_key(std::uint64_t seed, const std::string& name) {
    return note::cosigner(name, derived_key(seed, "outside/" + name));
}

ed25519::secret_key derived_key(std::uint64_t seed, const std::string& name) {
    auto h = sha256(byte_view("civic-attest simulation key/" + std::to_string(seed) + "/" + name));
    auto key = ed25519::secret_key::from_seed(byte_view(h.data(), h.size()));
    return std::move(*key);
}

status prepare(const simulation_options& options, prepared_setup& setup, node_list& nodes) {
    CIVIC_TRY(setup_steps::make_work_directory(options, setup));
    setup.topo = options.topo;
    setup.seed = options.seed;
    CIVIC_TRY(setup_steps::write_keys(options, setup));
    CIVIC_TRY(setup_steps::write_policy(setup));
    CIVIC_TRY(setup_steps::build_nodes(options, setup, nodes));
    return setup_steps::grant_admin_token(options, setup, nodes);
}

void remove_work_directory(prepared_setup& setup) {
    std::error_code ec;
    if (!setup.dir.empty()) fs::remove_all(setup.dir, ec);
}

} // namespace civic::node::sim
