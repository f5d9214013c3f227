// Inside the civic-attest command line: each command's options and run
// function (one .cpp per family, cli.cpp tables them), and the helpers that
// several families share. Not for use outside node/cli/.
#pragma once

#include "node/cli/exit_code.hpp"
#include "node/http/client.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "protocol/policy.hpp"
#include "protocol/result.hpp"

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace civic::node::cli_detail {
namespace po = boost::program_options;

// ------------------------------------------------------------ commands ----
// describe_X adds command X's options; run_X runs it with the parsed options,
// results a script may capture on `out`, everything else on `err`.

// keys.cpp: keys of one node, and of a whole network from its topology.
void describe_keygen(po::options_description& o);
int run_keygen(const po::variables_map& vm, std::ostream& out, std::ostream& err);
void describe_vkey(po::options_description& o);
int run_vkey(const po::variables_map& vm, std::ostream& out, std::ostream& err);
void describe_logkey(po::options_description& o); // `keys` takes the same options
int run_logkey(const po::variables_map& vm, std::ostream& out, std::ostream& err);
int run_keys(const po::variables_map& vm, std::ostream& out, std::ostream& err);

// verify.cpp: offline verification of a proof bundle.
void describe_verify(po::options_description& o);
int run_verify(const po::variables_map& vm, std::ostream& out, std::ostream& err);

// demo.cpp: the protocol walk-through.
void describe_demo(po::options_description& o);
int run_demo(const po::variables_map& vm, std::ostream& out, std::ostream& err);

// admin.cpp: a node's data directory: init, tokens, fsck.
void describe_init(po::options_description& o);
int run_init(const po::variables_map& vm, std::ostream& out, std::ostream& err);
void describe_token(po::options_description& o);
int run_token(const po::variables_map& vm, std::ostream& out, std::ostream& err);
void describe_fsck(po::options_description& o);
int run_fsck(const po::variables_map& vm, std::ostream& out, std::ostream& err);

// run.cpp: running a node, alone (serve), as a witness of any logs (witness) or
// from a topology (node).
void describe_serve(po::options_description& o);
int run_serve(const po::variables_map& vm, std::ostream& out, std::ostream& err);
void describe_witness(po::options_description& o);
int run_witness(const po::variables_map& vm, std::ostream& out, std::ostream& err);
void describe_node(po::options_description& o);
int run_node(const po::variables_map& vm, std::ostream& out, std::ostream& err);

// promote.cpp: manual failover (the protocol is in node/leadership/).
void describe_promote(po::options_description& o);
int run_promote(const po::variables_map& vm, std::ostream& out, std::ostream& err);

// network.cpp: a topology's nodes, and its TLS material.
void describe_topology(po::options_description& o);
int run_topology(const po::variables_map& vm, std::ostream& out, std::ostream& err);
void describe_certs(po::options_description& o);
int run_certs(const po::variables_map& vm, std::ostream& out, std::ostream& err);

// sign.cpp, identity.cpp, log.cpp: commands that talk to a node (client.cpp).
void describe_sign(po::options_description& o);
int run_sign(const po::variables_map& vm, std::ostream& out, std::ostream& err);
void describe_identity(po::options_description& o);
int run_identity(const po::variables_map& vm, std::ostream& out, std::ostream& err);
void describe_log(po::options_description& o);
int run_log(const po::variables_map& vm, std::ostream& out, std::ostream& err);

// monitor.cpp: following a log for the identities in it.
void describe_monitor(po::options_description& o);
int run_monitor(const po::variables_map& vm, std::ostream& out, std::ostream& err);

// audit.cpp: an auditor of any log's tlog-tiles API (the parts in audit/).
void describe_audit(po::options_description& o);
int run_audit(const po::variables_map& vm, std::ostream& out, std::ostream& err);

// ----------------------------------------------------- shared helpers ----

/// Writes a public file (a policy, a verifier key, a proof) whole.
status write_public(const std::filesystem::path& path, const std::string& content);

/// A policy that trusts one log key and needs no witnesses: what --log-key and
/// --vkey mean. `source` names the flag in errors.
result<policy_verifier> trust_log_key(const std::string& vkey, const std::string& source);

/// The API token: the first line of --token-file (standard input for "-"), else
/// $CIVIC_ATTEST_TOKEN when `from_environment`. Never from the command line:
/// any user of the machine can read that with ps.
result<std::string> read_token(const po::variables_map& vm, bool from_environment = true);

// ---------------------------------------------- talking to a node (client.cpp) ----

/// A node's answer that is not what the API promises (a field missing, a key
/// that is not hex): run_cli reports it, with nlohmann's type errors, as exit 1.
struct bad_answer : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// --server, defaulting to a node on this machine.
void describe_server(po::options_description& o);
/// --token-file, for the actions named by `who_needs_it`.
void describe_token_file(po::options_description& o, const char* who_needs_it);

/// One command's calls to a node. Each call reports its own failure on err,
/// prefixed with the command: the node's error code and message with the HTTP
/// status, or why the node could not be reached; the caller just exits 1.
struct node_client {
    std::string who; // "civic-attest identity add"
    http_endpoint server;
    std::string authorization;
    std::ostream* err;

    /// Sets the bearer token from --token-file or $CIVIC_ATTEST_TOKEN.
    status authorize(const po::variables_map& vm);
    /// Reports a bad flag or combination of flags; returns exit_usage.
    int usage_error(const std::string& message) const;
    /// The body of a 2xx answer. With `not_found`, a 404 is no failure to
    /// report: it sets *not_found instead.
    std::optional<std::string> text(const std::string& method, const std::string& target,
                                    const std::string& body = "", bool* not_found = nullptr) const;
    /// A 2xx answer's JSON object.
    std::optional<nlohmann::json> json(const std::string& method, const std::string& target,
                                       const std::string& body = "",
                                       bool* not_found = nullptr) const;
    std::optional<nlohmann::json> get(const std::string& target) const {
        return json("GET", target);
    }
};

/// A --vkey argument: a verifier key, or a file whose first line is one.
result<std::string> read_vkey_arg(const std::string& arg);
/// --vkey, as a policy that trusts that one log key.
result<policy_verifier> load_vkey(const po::variables_map& vm);
/// The node's latest checkpoint (its text in `text`, if given); with `trust`,
/// only if the log's signature verifies. Failures are reported.
std::optional<signed_checkpoint> fetch_checkpoint(const node_client& node,
                                                  const policy_verifier* trust,
                                                  std::string* text = nullptr);
/// The hashes of a proof answer, bounded like every proof we verify.
std::vector<hash> proof_hashes(const nlohmann::json& reply);
/// The leaf hash of entry `index`, from the bytes the node serves.
std::optional<hash> fetch_leaf_hash(const node_client& node, std::uint64_t index);
/// GET /api/proof/consistency's target.
std::string consistency_target(std::uint64_t old_size, std::uint64_t new_size);

/// Text from a log or node, safe to put on a terminal: control characters
/// (escape sequences) and invalid UTF-8 become '?', cut to `max_echo` bytes.
std::string printable(std::string_view text, std::size_t max_echo);

/// The node named by --server for command `who`; a bad URL is reported on err.
std::optional<node_client> open_node(const po::variables_map& vm, std::string who,
                                     std::ostream& err);

// ------------------------------------- an identity's owner (owner.cpp) ----

/// The secret key in the file of option `flag`, which must be `identity`'s.
result<ed25519::secret_key> read_owner_key(const po::variables_map& vm, const char* flag,
                                           const std::string& identity);
/// An entry of `kind` for `identity`, signed here with `key`, stamped now.
bytes sign_owner_entry(entry_kind kind, const std::string& identity, const ed25519::secret_key& key,
                       const hash& content, bytes payload);
/// POST /api/submit: the reply (as /api/sign's), or nothing (reported); a
/// reply holding another entry than `signed_entry` is a bad_answer.
std::optional<nlohmann::json> submit_owner_entry(const node_client& node, const bytes& signed_entry,
                                                 bool witnessed = false);
/// Appends the entry of a sign or submit reply to the owner's journal, durably.
status append_journal(const std::string& path, const nlohmann::json& reply);

/// A 32-byte key the node sent as hex; checked, since it may be printed for scripts.
std::string key_hex(const nlohmann::json& j, const char* field);

/// An unsigned decimal flag, if given; errors name the flag.
result<std::optional<std::uint64_t>> number_flag(const po::variables_map& vm, const char* flag);

/// Fails naming the first of `flags` that was given, for actions that do not use it.
status refuse_flags(const po::variables_map& vm, const std::vector<const char*>& flags,
                    const std::string& action);

} // namespace civic::node::cli_detail
