// The TLS front of a node's peer port. CAF 0.17's openssl module cannot be made
// safe on a port that faces the network: it checks a peer's certificate against
// the CA but never its name, accepts TLS 1.2 CBC suites, loads the certificate
// file for every accepted connection (and throws, ending the process, once no
// descriptor is left), and bounds nothing. So CAF listens on 127.0.0.1 only, and
// this front owns the network side:
//
// - inbound: the public peer port, with a cap on connections in all and per
//   client address, a deadline for the TLS handshake (the oldest unfinished
//   handshake gives way when full), TLS 1.3 or 1.2 with AEAD suites, the
//   certificate loaded once, and a client certificate that must name another
//   node of the topology. Then it opens TLS to CAF on 127.0.0.1 and relays.
// - outbound: one loopback listener per peer (on 127.254.0.1 where it exists), which CAF connects
// to in place of
//   the peer; the front opens TLS to the peer and relays only if the peer's
//   certificate names the node that endpoint belongs to. A forwarder accepts only
//   this node's own certificate, so a local user without its key cannot use it.
//
// Process only: the simulator carries BASP over its test network, without TLS.
#pragma once

#include "actors/peer_directory.hpp"
#include "protocol/basp_guard.hpp"
#include "protocol/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace civic::node {

struct peer_tls_options {
    std::string node_name;   // this node: its certificate's name
    std::string listen_host; // the public peer port
    std::uint16_t listen_port = 0;
    std::string ca_file, cert_file, key_file;
    /// Every other node of the topology by its peer endpoint (host, port): the
    /// names an accepted connection may carry, and what each forwarder expects.
    std::map<std::pair<std::string, std::uint16_t>, std::string> peers;
    /// Connections on the public port in all (0: sized from the descriptor
    /// limit: connection_budget) and from one address (at most half of it).
    std::size_t max_connections = 0;
    std::size_t max_connections_per_address = 64;
    /// From accepting a connection to relaying it: TCP connect and the TLS
    /// handshakes on both sides. Long enough for a node busy with a sanitizer
    /// build (CAF's own handshake on loopback took over 1.5 s there); a silent
    /// client holds its slot no longer, and the oldest such gives way when full.
    std::chrono::milliseconds handshake_timeout{10000};
    /// Where each connection's CAF node is bound to its certificate's name, for
    /// the gateway to check roles (may be null). Whatever a peer sends is held
    /// to protocol/basp_guard.hpp: it cannot speak for another node.
    std::shared_ptr<actors::peer_directory> directory;
    /// The largest BASP frame a peer may send (a replicated batch is the largest).
    std::size_t max_frame = std::size_t{64} << 20;
    /// Which of this node's actors a peer may send messages other than
    /// responses to (the gateway, and a replica's replica actor for its
    /// leader); none given: any.
    basp::receiver_check may_receive;
    /// Each message left out by the receiver check.
    std::function<void()> on_dropped;
    /// One line for an operator (refused and evicted connections, a peer with
    /// the wrong certificate), rate-limited to one a second.
    std::function<void(const std::string&)> on_warning;
    /// Each refused or evicted connection: "full", "per_address",
    /// "handshake_timeout", "handshake_failed", "unknown_peer", "wrong_peer",
    /// "basp" (a frame the guard refused), "node_taken" (a CAF node id that a
    /// connection with another certificate holds).
    std::function<void(const char* reason)> on_refused;
};

class peer_tls {
public:
    /// Loads the TLS material, binds the public port and one loopback listener
    /// per peer. Inbound connections wait (in the backlog) until relay_to().
    static result<std::unique_ptr<peer_tls>> start(peer_tls_options options);
    ~peer_tls();
    peer_tls(const peer_tls&) = delete;
    peer_tls& operator=(const peer_tls&) = delete;

    /// Starts relaying inbound connections to CAF's own TLS listener on
    /// 127.0.0.1:caf_port.
    void relay_to(std::uint16_t caf_port);
    /// The public peer port bound.
    std::uint16_t port() const;
    /// The loopback port CAF connects to in place of the peer at (host, port).
    std::uint16_t forwarder_port(const std::string& host, std::uint16_t port) const;
    /// The loopback address CAF and the forwarders listen on: 127.254.0.1 where
    /// the system routes it (Linux routes all of 127.0.0.0/8), else 127.0.0.1.
    const std::string& loopback() const;
    /// Connections open on the public port now.
    std::size_t connections() const;
    const peer_tls_options& options() const;
    void stop();

    struct impl;

private:
    peer_tls() = default;
    std::unique_ptr<impl> impl_;
};

} // namespace civic::node
