// One Civic Attest node with every role (the embedded single-node default):
// the data directory, the ledger store, the ledger, committer and signer actors,
// and the HTTP API in front of them.
#pragma once

#include "actors/ledger.hpp"
#include "node/http_server.hpp"

#include <memory>
#include <string>

namespace civic::node {

struct init_result {
    std::string log_vkey;
    std::string admin_token;
};

/// Makes a new data directory: log key (log.key, 0600) and its verifier key
/// (log.vkey), an admin token (admin.token, 0600; only its hash is stored), the
/// LMDB store with the origin, and keys/ for identity keys. Refuses an existing one.
result<init_result> init_data_dir(const std::string& dir, const std::string& origin);

/// A new random API token (printable, 256 bits).
std::string make_token();

struct service_options {
    std::string data_dir;
    http_options http;
    actors::ledger_config ledger;
    std::chrono::milliseconds actor_timeout{10000}; // every request from the HTTP side
};

class service {
public:
    /// Opens the data directory, checks the stored tree against the latest signed
    /// checkpoint (refusing to start, with the reason, when they disagree),
    /// starts the actors and the HTTP server.
    static result<std::unique_ptr<service>> start(const service_options& options);
    ~service();
    std::uint16_t http_port() const;
    void stop();

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

} // namespace civic::node
