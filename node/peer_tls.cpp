#include "node/peer_tls.hpp"

#include "node/http_server.hpp" // http_connection_budget

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

#include <sys/resource.h>

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

using address_key = std::array<unsigned char, 9>;

address_key address_key_of(const asio::ip::address& address) {
    address_key key{};
    if (address.is_v4() || address.to_v6().is_v4_mapped()) {
        auto v4 = address.is_v4()
                      ? address.to_v4()
                      : asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
        auto b = v4.to_bytes();
        key[0] = 4;
        std::copy(b.begin(), b.end(), key.begin() + 1);
    } else {
        auto b = address.to_v6().to_bytes();
        key[0] = 6;
        std::copy_n(b.begin(), 8, key.begin() + 1);
    }
    return key;
}

class relay;

} // namespace

struct peer_tls::impl {
    peer_tls_options options;
    ssl::context server_ctx{ssl::context::tls_server};
    ssl::context client_ctx{ssl::context::tls_client};
    std::atomic<std::uint16_t> caf_port{0};

    std::mutex mutex; // the connection book of the public port
    std::size_t open = 0;
    std::map<address_key, std::size_t> per_address;
    std::list<std::weak_ptr<relay>> handshaking; // oldest first
    std::mutex warning_mutex;
    std::chrono::steady_clock::time_point last_warning{};
    std::size_t warnings_suppressed = 0;

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

    void accept();
    void accept_forwarded(std::size_t which, std::string host, std::uint16_t port,
                          std::string name);
    void admit(tcp::socket socket);
    void warn(const std::string& line);
    void refused(const char* reason, const std::string& line) {
        if (options.on_refused) options.on_refused(reason);
        warn("peer port: " + line);
    }
    void released(const address_key& key) {
        std::lock_guard lock(mutex);
        --open;
        if (auto it = per_address.find(key); it != per_address.end() && --it->second == 0)
            per_address.erase(it);
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
        if (key_) front_.released(*key_);
    }

    // The place in the front's list of unfinished handshakes; guarded by its mutex.
    std::list<std::weak_ptr<relay>>::iterator handshaking_position;
    bool in_handshaking_list = false;

    asio::any_io_executor executor() { return outer_.get_executor(); }

    /// A peer on the public port: its certificate must name a node of the topology.
    void start_inbound() {
        asio::dispatch(executor(), [self = shared_from_this()] {
            self->arm_deadline();
            self->outer_.async_handshake(ssl::stream_base::server, [self](error_code ec) {
                self->left_handshaking_list();
                if (ec) return self->fail("handshake_failed", "TLS handshake failed: " + ec.message());
                auto name = peer_name(self->outer_);
                bool known = std::any_of(
                    self->front_.options.peers.begin(), self->front_.options.peers.end(),
                    [&name](const auto& p) { return p.second == name; });
                if (!known)
                    return self->fail("unknown_peer", "a certificate for '" + name +
                                                          "', which names no other node of "
                                                          "this topology");
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
            self->fail("handshake_timeout", "no TLS connection within " +
                                                std::to_string(
                                                    self->front_.options.handshake_timeout.count()) +
                                                " ms");
        });
    }

    void left_handshaking_list() {
        std::lock_guard lock(front_.mutex);
        if (in_handshaking_list) front_.handshaking.erase(handshaking_position);
        in_handshaking_list = false;
    }

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
        pump(outer_, inner_, outer_buffer_);
        pump(inner_, outer_, inner_buffer_);
    }

    void pump(tls_stream& from, tls_stream& to, std::array<char, 16384>& buffer) {
        from.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &from, &to,
                                                    &buffer](error_code ec, std::size_t n) {
            if (ec) return self->close();
            asio::async_write(to, asio::buffer(buffer.data(), n),
                              [self, &from, &to, &buffer](error_code write_ec, std::size_t) {
                                  if (write_ec) return self->close();
                                  self->pump(from, to, buffer);
                              });
        });
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
    std::array<char, 16384> outer_buffer_{};
    std::array<char, 16384> inner_buffer_{};
};

} // namespace

void peer_tls::impl::warn(const std::string& line) {
    if (!options.on_warning) return;
    auto now = std::chrono::steady_clock::now();
    std::string out;
    {
        std::lock_guard lock(warning_mutex);
        if (now - last_warning < std::chrono::seconds(1)) {
            ++warnings_suppressed;
            return;
        }
        last_warning = now;
        out = line;
        if (warnings_suppressed > 0)
            out += " (" + std::to_string(warnings_suppressed) + " more since the last line)";
        warnings_suppressed = 0;
    }
    options.on_warning(out);
}

void peer_tls::impl::accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (ec) {
            // Out of descriptors: accepting again at once would spin (see http_server).
            accept_backoff = std::clamp(accept_backoff * 2, std::chrono::milliseconds(5),
                                        std::chrono::milliseconds(1000));
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
    std::shared_ptr<relay> evicted;
    const char* refusal = nullptr;
    std::shared_ptr<relay> admitted;
    {
        std::lock_guard lock(mutex);
        auto& from_there = per_address[key];
        if (from_there >= options.max_connections_per_address) {
            refusal = "per_address";
        } else if (open >= options.max_connections) {
            while (!handshaking.empty() && !evicted) {
                evicted = handshaking.front().lock();
                if (evicted) evicted->in_handshaking_list = false;
                handshaking.pop_front();
            }
            if (!evicted) refusal = "full";
        }
        if (refusal) {
            if (from_there == 0) per_address.erase(key);
        } else {
            ++open;
            ++from_there;
            admitted = std::make_shared<relay>(std::move(socket), *this, key);
            admitted->handshaking_position = handshaking.insert(handshaking.end(), admitted);
            admitted->in_handshaking_list = true;
        }
    }
    if (refusal) {
        socket.close(ec);
        return refused(refusal, std::string(refusal) == "full"
                                    ? "at its limit of " + std::to_string(options.max_connections) +
                                          " connections, all authenticated"
                                    : "too many connections from " + remote.address().to_string() +
                                          " (at most " +
                                          std::to_string(options.max_connections_per_address) +
                                          ")");
    }
    if (evicted) asio::post(evicted->executor(), [evicted] { evicted->evict(); });
    admitted->start_inbound();
}

void peer_tls::impl::accept_forwarded(std::size_t which, std::string host, std::uint16_t port,
                                      std::string name) {
    forwarders[which]->async_accept(
        asio::make_strand(ioc), [this, which, host, port, name](error_code ec, tcp::socket socket) {
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
    front->impl_ = std::make_unique<impl>();
    auto& m = *front->impl_;
    m.options = std::move(options);
    auto& o = m.options;
    if (o.max_connections == 0) {
        rlimit limit{};
        std::uint64_t descriptors = 1024;
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
            descriptors = limit.rlim_cur;
        o.max_connections = http_connection_budget(descriptors);
    }
    o.max_connections_per_address = std::clamp<std::size_t>(
        o.max_connections_per_address, 1, std::max<std::size_t>(1, o.max_connections / 2));
    CIVIC_TRY(configure(m.server_ctx, o));
    CIVIC_TRY(configure(m.client_ctx, o));

    error_code ec;
    auto address = asio::ip::make_address(o.listen_host == "localhost" ? "127.0.0.1" : o.listen_host,
                                          ec);
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
        m.accept_forwarded(m.forwarders.size() - 1, endpoint_of_peer.first,
                           endpoint_of_peer.second, name);
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

std::size_t peer_tls::connections() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->open;
}

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
