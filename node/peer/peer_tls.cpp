#include "node/peer/peer_tls.hpp"

#include "node/http/connection_book.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace civic::node {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using tls_stream = ssl::stream<tcp::socket>;

namespace {

constexpr const char* private_loopback = "127.254.0.1";

// TLS 1.2 only with ECDHE and an AEAD cipher; TLS 1.3's suites all are.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

/// Loads the node's certificate, key and CA into `ctx`, once: every connection
/// shares it (no file is opened per connection), and requires the other side's
/// certificate signed by the CA.
status configure(ssl::context& ctx, const peer_tls_options& o) {
    error_code ec;
    SSL_CTX* raw = ctx.native_handle();
    if (SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(raw, tls12_ciphers) != 1)
        return make_error("peer TLS: cannot restrict protocol versions and ciphers");
    SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    ctx.use_certificate_chain_file(o.cert_file, ec);
    if (ec) return make_error(o.cert_file + ": " + ec.message());
    ctx.use_private_key_file(o.key_file, ssl::context::pem, ec);
    if (ec) return make_error(o.key_file + ": " + ec.message());
    ctx.load_verify_file(o.ca_file, ec);
    if (ec) return make_error(o.ca_file + ": " + ec.message());
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return make_error("peer TLS: " + ec.message());
    return {};
}

/// The common name of the certificate the other side presented (verified by
/// OpenSSL against the CA during the handshake), or empty.
std::string peer_name(tls_stream& s) {
    X509* cert = SSL_get1_peer_certificate(s.native_handle());
    if (!cert) return {};
    char cn[256] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    X509_free(cert);
    return cn;
}

class relay;

} // namespace

struct peer_tls::impl {
    peer_tls_options options;
    ssl::context server_ctx{ssl::context::tls_server};
    ssl::context client_ctx{ssl::context::tls_client};
    std::atomic<std::uint16_t> caf_port{0};

    // The public port's connections; those still in their handshake stand in
    // its line: when the port is full, the oldest gives way.
    connection_book<relay> book;
    log_limiter warn;

    std::map<std::pair<std::string, std::uint16_t>, std::uint16_t> forwarder_ports;
    std::string loopback = "127.0.0.1"; // where CAF and the forwarders listen
    std::chrono::milliseconds accept_backoff{0};
    std::uint16_t bound_port = 0;
    std::vector<std::thread> threads;
    // Last, so that destroyed first: its handlers hold relays, whose
    // destructors update the book above.
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    asio::steady_timer accept_retry{ioc};
    std::vector<std::unique_ptr<tcp::acceptor>> forwarders;

    explicit impl(peer_tls_options o) : options(std::move(o)), warn(options.on_warning) {}
    void accept();
    void accept_forwarded(std::size_t which, std::string host, std::uint16_t port,
                          std::string name);
    void admit(tcp::socket socket);
    void refused(const char* reason, const std::string& line) {
        if (options.on_refused) options.on_refused(reason);
        warn("peer port: " + line);
    }
};

namespace {

/// One relayed connection: `outer` is the side that connected to us (a peer on
/// the public port, or this node's CAF on a forwarder), `inner` the side we open
/// (CAF on 127.0.0.1, or the peer). Bytes flow both ways once both handshakes
/// are done; either side closing closes both.
class relay : public std::enable_shared_from_this<relay> {
public:
    relay(tcp::socket outer, peer_tls::impl& front, std::optional<address_key> key)
        : front_(front), key_(key), outer_(std::move(outer), front.server_ctx),
          inner_(tcp::socket(outer_.get_executor()), front.client_ctx),
          deadline_(outer_.get_executor()), resolver_(outer_.get_executor()) {}
    ~relay() {
        if (key_) front_.book.release(*key_);
        if (bound_ && front_.options.directory) front_.options.directory->release(*bound_);
    }

    connection_book<relay>::place place_in_book;

    asio::any_io_executor executor() { return outer_.get_executor(); }

    /// A peer on the public port: its certificate must name a node of the topology.
    void start_inbound() {
        asio::dispatch(executor(), [self = shared_from_this()] {
            self->arm_deadline();
            self->outer_.async_handshake(ssl::stream_base::server, [self](error_code ec) {
                self->left_handshaking_list();
                if (ec)
                    return self->fail("handshake_failed", "TLS handshake failed: " + ec.message());
                auto name = peer_name(self->outer_);
                bool known = std::any_of(self->front_.options.peers.begin(),
                                         self->front_.options.peers.end(),
                                         [&name](const auto& p) { return p.second == name; });
                if (!known)
                    return self->fail("unknown_peer", "a certificate for '" + name +
                                                          "', which names no other node of "
                                                          "this topology");
                self->peer_ = name;
                self->connect_inner(self->front_.loopback, self->front_.caf_port.load(),
                                    self->front_.options.node_name,
                                    [self] { self->start_relaying(); });
            });
        });
    }

    /// This node's CAF on a forwarder: the peer first, whose certificate must
    /// name `name`, and only then the TLS handshake with CAF (which must present
    /// this node's own certificate). A peer that is down or wrong thus fails
    /// CAF's connect in its TLS handshake, before any BASP state exists: a
    /// connection that closed during the BASP handshake made CAF 0.17 report
    /// other, healthy peers unreachable.
    void start_outbound(std::string host, std::uint16_t port, std::string name) {
        asio::dispatch(executor(), [self = shared_from_this(), host = std::move(host), port,
                                    name = std::move(name)] {
            self->arm_deadline();
            self->peer_ = name;
            self->from_peer_is_inner_ = true;
            self->connect_inner(host, port, name, [self] {
                self->outer_.async_handshake(ssl::stream_base::server, [self](error_code ec) {
                    if (ec) return self->close();
                    if (peer_name(self->outer_) != self->front_.options.node_name)
                        return self->fail("unknown_peer", "a forwarder was used by '" +
                                                              peer_name(self->outer_) +
                                                              "', not this node");
                    self->start_relaying();
                });
            });
        });
    }

    void evict() {
        if (relaying_) return;
        fail("full", "the oldest unfinished handshake gave way to a new connection");
    }

private:
    void arm_deadline() {
        deadline_.expires_after(front_.options.handshake_timeout);
        deadline_.async_wait([self = shared_from_this()](error_code ec) {
            if (ec || self->relaying_) return;
            self->fail("handshake_timeout",
                       "no TLS connection within " +
                           std::to_string(self->front_.options.handshake_timeout.count()) + " ms");
        });
    }

    void left_handshaking_list() { front_.book.leave_line(*this); }

    /// Opens TLS to (host, port), which must prove it is `name` (its
    /// certificate's DNS name); then `connected`.
    template <class F>
    void connect_inner(const std::string& host, std::uint16_t port, const std::string& name,
                       F connected) {
        inner_.set_verify_callback(ssl::host_name_verification(name));
        resolver_.async_resolve(
            host, std::to_string(port),
            [self = shared_from_this(), host, port, name,
             connected](error_code ec, tcp::resolver::results_type found) {
                if (ec) return self->fail("handshake_failed", host + ": " + ec.message());
                asio::async_connect(
                    self->inner_.lowest_layer(), found,
                    [self, host, port, name, connected](error_code connect_ec,
                                                        const tcp::endpoint&) {
                        if (connect_ec) return self->close(); // a peer that is down: CAF retries
                        self->inner_.async_handshake(
                            ssl::stream_base::client,
                            [self, host, port, name, connected](error_code tls_ec) {
                                if (tls_ec)
                                    return self->fail("wrong_peer",
                                                      host + ":" + std::to_string(port) +
                                                          " did not prove it is '" + name +
                                                          "': " + tls_ec.message());
                                connected();
                            });
                    });
            });
    }

    void start_relaying() {
        relaying_ = true;
        deadline_.cancel();
        // Small messages both ways (a forwarded request, its receipt): with
        // Nagle's algorithm each waited for the other side's delayed ACK, and
        // forwarded signing fell from about 6,000/s to 450/s at 140 ms.
        error_code ignored;
        outer_.lowest_layer().set_option(tcp::no_delay(true), ignored);
        inner_.lowest_layer().set_option(tcp::no_delay(true), ignored);
        pump(outer_, inner_, outer_buffer_);
        pump(inner_, outer_, inner_buffer_);
    }

    void pump(tls_stream& from, tls_stream& to, std::array<char, 16384>& buffer) {
        from.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &from, &to,
                                                    &buffer](error_code ec, std::size_t n) {
            if (ec) return self->close();
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(buffer.data());
            auto out = asio::buffer(buffer.data(), n);
            bool from_peer = &from == (self->from_peer_is_inner_ ? &self->inner_ : &self->outer_);
            if (from_peer) {
                if (!self->guard(bytes, n)) return;
                out = asio::buffer(self->passed_);
            } else {
                self->watch_.feed(bytes, n); // this node's CAF: who asks the peer what
            }
            asio::async_write(to, out,
                              [self, &from, &to, &buffer](error_code write_ec, std::size_t) {
                                  if (write_ec) return self->close();
                                  self->pump(from, to, buffer);
                              });
        });
    }

    // The front's receiver check, and the answers to what this node's CAF asked
    // the peer's named actors (CAF's own exchange with a new peer's SpawnServ).
    basp::receiver_check receiver_check() {
        if (!front_.options.may_receive) return {};
        return [this](std::uint64_t dest, bool named) {
            return front_.options.may_receive(dest, named) || (!named && watch_.asked(dest));
        };
    }

    // Responses only to what this node's CAF asked the peer over this connection.
    basp::response_check response_check() {
        if (!front_.options.may_receive) return {};
        return [this](std::uint64_t dest, std::uint64_t request) {
            return watch_.answer(dest, request);
        };
    }

    // Holds what the peer sends to protocol/basp_guard.hpp, and binds the CAF
    // node its handshake names to the name its certificate proved. False (and
    // the connection closed) when either fails.
    bool guard(const std::uint8_t* data, std::size_t n) {
        passed_.clear();
        const auto dropped_before = guard_.dropped();
        if (auto checked = guard_.feed(data, n, passed_); !checked) {
            fail("basp", "node '" + peer_ + "': " + checked.message());
            return false;
        }
        if (guard_.dropped() != dropped_before) {
            if (front_.options.on_dropped) front_.options.on_dropped();
            front_.warn("peer port: dropped a message from node '" + peer_ + "' to actor " +
                        std::to_string(guard_.last_dropped_receiver()) +
                        ", which this node does not expose to peers");
        }
        auto& directory = front_.options.directory;
        if (!bound_ && guard_.peer_node() && directory) {
            if (!directory->bind(*guard_.peer_node(), peer_)) {
                fail("node_taken", "node '" + peer_ +
                                       "' names a CAF node that a connection with another "
                                       "node's certificate holds");
                return false;
            }
            bound_ = guard_.peer_node();
        }
        return true;
    }

    void fail(const char* reason, const std::string& why) {
        if (closed_) return;
        std::string where;
        error_code ignored;
        auto remote = outer_.lowest_layer().remote_endpoint(ignored);
        if (!ignored) where = " from " + remote.address().to_string();
        front_.refused(reason, "closed a connection" + where + ": " + why);
        close();
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        left_handshaking_list();
        deadline_.cancel();
        resolver_.cancel();
        error_code ignored;
        outer_.lowest_layer().close(ignored);
        inner_.lowest_layer().close(ignored);
    }

    peer_tls::impl& front_;
    std::optional<address_key> key_; // inbound connections count against the caps
    tls_stream outer_;
    tls_stream inner_;
    asio::steady_timer deadline_;
    tcp::resolver resolver_;
    bool relaying_ = false;
    bool closed_ = false;
    std::string peer_;                // the node the peer's certificate names
    bool from_peer_is_inner_ = false; // outbound: the peer is the side we opened
    basp::outgoing_watch watch_;      // what this node's CAF sends the peer
    basp::stream_guard guard_{front_.options.max_frame, receiver_check(), response_check()};
    std::string passed_;               // what the guard let through, being written
    std::optional<std::string> bound_; // the CAF node bound to peer_ in the directory
    std::array<char, 16384> outer_buffer_{};
    std::array<char, 16384> inner_buffer_{};
};

} // namespace

void peer_tls::impl::accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (ec) {
            // Out of descriptors: accepting again at once would spin (see http_server).
            accept_backoff = next_accept_backoff(accept_backoff);
            warn("peer port: accept failed: " + ec.message() + "; accepting again in " +
                 std::to_string(accept_backoff.count()) + " ms");
            accept_retry.expires_after(accept_backoff);
            accept_retry.async_wait([this](error_code wait_ec) {
                if (!wait_ec) accept();
            });
            return;
        }
        accept_backoff = std::chrono::milliseconds(0);
        admit(std::move(socket));
        accept();
    });
}

void peer_tls::impl::admit(tcp::socket socket) {
    error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (ec) return;
    auto key = address_key_of(remote.address());
    auto [refusal, evicted] = book.admit(key);
    if (refusal) {
        socket.close(ec);
        return refused(refusal, std::string(refusal) == "full"
                                    ? "at its limit of " + std::to_string(book.max_total()) +
                                          " connections, all authenticated"
                                    : "too many connections from " + remote.address().to_string() +
                                          " (at most " + std::to_string(book.max_per_address()) +
                                          ")");
    }
    if (evicted) asio::post(evicted->executor(), [evicted] { evicted->evict(); });
    auto admitted = std::make_shared<relay>(std::move(socket), *this, key);
    book.stand_in_line(admitted);
    admitted->start_inbound();
}

void peer_tls::impl::accept_forwarded(std::size_t which, std::string host, std::uint16_t port,
                                      std::string name) {
    forwarders[which]->async_accept(asio::make_strand(ioc), [this, which, host, port, name](
                                                                error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec)
            std::make_shared<relay>(std::move(socket), *this, std::nullopt)
                ->start_outbound(host, port, name);
        if (ec) {
            // Rare (descriptors): try again shortly, without spinning.
            auto retry = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(50));
            retry->async_wait([this, which, host, port, name, retry](error_code) {
                accept_forwarded(which, host, port, name);
            });
            return;
        }
        accept_forwarded(which, host, port, name);
    });
}

result<std::unique_ptr<peer_tls>> peer_tls::start(peer_tls_options options) {
    auto front = std::unique_ptr<peer_tls>(new peer_tls());
    front->impl_ = std::make_unique<impl>(std::move(options));
    auto& m = *front->impl_;
    auto& o = m.options;
    m.book.set_caps(o.max_connections == 0 ? connection_budget_now() : o.max_connections,
                    o.max_connections_per_address);
    o.max_connections = m.book.max_total(); // what is in force, for whoever asks
    o.max_connections_per_address = m.book.max_per_address();
    CIVIC_TRY(configure(m.server_ctx, o));
    CIVIC_TRY(configure(m.client_ctx, o));

    error_code ec;
    auto address =
        asio::ip::make_address(o.listen_host == "localhost" ? "127.0.0.1" : o.listen_host, ec);
    if (ec) return make_error("peer port: bad listen address '" + o.listen_host + "'");
    tcp::endpoint endpoint{address, o.listen_port};
    m.acceptor.open(endpoint.protocol(), ec);
    if (!ec) m.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) m.acceptor.bind(endpoint, ec);
    if (!ec) m.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return make_error("cannot listen on " + o.listen_host + ":" +
                          std::to_string(o.listen_port) + ": " + ec.message());
    m.bound_port = m.acceptor.local_endpoint().port();

    // The loopback listeners on an address of their own where the system has it:
    // their ephemeral ports can then never take a port a topology gave to a node
    // on 127.0.0.1 that has not started yet.
    {
        tcp::acceptor probe(m.ioc);
        tcp::endpoint own{asio::ip::make_address(private_loopback), std::uint16_t{0}};
        probe.open(own.protocol(), ec);
        if (!ec) probe.bind(own, ec);
        if (!ec) m.loopback = private_loopback;
        ec.clear();
    }
    for (const auto& [endpoint_of_peer, name] : o.peers) {
        auto acceptor = std::make_unique<tcp::acceptor>(m.ioc);
        tcp::endpoint loopback{asio::ip::make_address(m.loopback), std::uint16_t{0}};
        acceptor->open(loopback.protocol(), ec);
        if (!ec) acceptor->bind(loopback, ec);
        if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return make_error("peer forwarder for " + name + ": " + ec.message());
        m.forwarder_ports[endpoint_of_peer] = acceptor->local_endpoint().port();
        m.forwarders.push_back(std::move(acceptor));
        m.accept_forwarded(m.forwarders.size() - 1, endpoint_of_peer.first, endpoint_of_peer.second,
                           name);
    }
    for (int i = 0; i < 2; ++i)
        m.threads.emplace_back([&m] { m.ioc.run(); });
    return front;
}

void peer_tls::relay_to(std::uint16_t caf_port) {
    impl_->caf_port = caf_port;
    asio::post(impl_->ioc, [m = impl_.get()] { m->accept(); });
}

std::uint16_t peer_tls::port() const { return impl_->bound_port; }

std::uint16_t peer_tls::forwarder_port(const std::string& host, std::uint16_t port) const {
    auto it = impl_->forwarder_ports.find({host, port});
    return it == impl_->forwarder_ports.end() ? 0 : it->second;
}

std::size_t peer_tls::connections() const { return impl_->book.open(); }

const peer_tls_options& peer_tls::options() const { return impl_->options; }

const std::string& peer_tls::loopback() const { return impl_->loopback; }

peer_tls::~peer_tls() { stop(); }

void peer_tls::stop() {
    if (!impl_ || impl_->threads.empty()) return;
    asio::post(impl_->ioc, [m = impl_.get()] {
        error_code ignored;
        m->acceptor.close(ignored);
        m->accept_retry.cancel();
        for (auto& f : m->forwarders)
            f->close(ignored);
    });
    impl_->ioc.stop();
    for (auto& t : impl_->threads)
        t.join();
    impl_->threads.clear();
}

} // namespace civic::node
