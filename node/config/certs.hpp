// The network's TLS material: one CA per network, one certificate per node
// (ECDSA P-256, SHA-256), made by `civic-attest certs --topology FILE`. Nodes
// accept only peers whose certificate this CA signed: CAF 0.17's openssl module
// otherwise falls back to an anonymous cipher.
#pragma once

#include "node/config/topology.hpp"

#include <string>
#include <vector>

namespace civic::node {

struct certs_report {
    bool made_ca = false;
    std::vector<std::string> made; // node names whose certificate was made now
    std::vector<std::string> kept; // node names whose certificate already existed
};

/// Makes `dir` (mode 0700) with ca.crt and ca.key, and NAME.crt and NAME.key for
/// every node of the topology. Existing files are kept: a second run only adds
/// certificates for nodes that have none, signed by the existing CA. Keys are 0600.
result<certs_report> make_network_certs(const topology& t, const std::string& dir);

/// Whether the certificate in `cert_file` was signed by the CA in `ca_file` and
/// names `node` (its common name); the error says why not.
status check_node_cert(const std::string& ca_file, const std::string& cert_file,
                       const std::string& node);

} // namespace civic::node
