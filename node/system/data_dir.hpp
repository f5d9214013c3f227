// A node's data directory: made once, before its first start (`init`, or a
// topology node's first start), with the log key, the admin token and the store.
#pragma once

#include "protocol/result.hpp"

#include <string>

namespace civic::node {

struct init_result {
    std::string log_vkey;
    std::string admin_token;
};

/// Makes a new data directory: log key (log.key, 0600) and its verifier key
/// (log.vkey), an admin token (admin.token, 0600; only its hash is stored), the
/// LMDB store with the origin, and keys/ for identity keys. Refuses an existing one.
/// With `log_key_file`, the log key is read from there (a network's key, shared
/// by the nodes that may lead) instead of made.
result<init_result> init_data_dir(const std::string& dir, const std::string& origin,
                                  const std::string& log_key_file = {});

/// Makes a new replica data directory: the LMDB store with the origin (no
/// keys, no tokens: a replica signs nothing and forwards tokens to the leader).
status init_replica_dir(const std::string& dir, const std::string& origin);

/// A new random API token (printable, 256 bits).
std::string make_token();

} // namespace civic::node
