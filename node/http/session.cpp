#include "node/http/session.hpp"

#include "protocol/bytes.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>

#include <optional>

namespace civic::node {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

struct http_session::impl {
    asio::io_context ioc;
    std::optional<ssl::context> tls_context;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;
    std::uint64_t opened = 0;
    std::uint64_t used = 0; // requests on the open connection
    std::string setup_error;

    bool open() const { return plain.has_value() || secure.has_value(); }
    beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

    void close() {
        beast::error_code ignored;
        if (open()) tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        secure.reset();
        plain.reset();
        buffer.clear();
        used = 0;
    }

    /// Runs one asynchronous operation to completion: the stream's expiry
    /// applies only to asynchronous operations.
    template <class Start>
    beast::error_code run_one(Start start) {
        beast::error_code out = asio::error::would_block;
        start([&out](beast::error_code ec, auto&&...) { out = ec; });
        ioc.restart();
        ioc.run();
        return out;
    }

    template <class F>
    auto with_stream(F f) {
        if (secure) return f(*secure);
        return f(*plain);
    }
};

http_session::http_session(http_origin origin, session_options options)
    : origin_(std::move(origin)), impl_(std::make_unique<impl>()) {
    impl_->buffer.max_size(options.body_limit + 16 * 1024);
    if (!origin_.tls) return;
    impl_->tls_context.emplace(ssl::context::tls_client);
    auto& ctx = *impl_->tls_context;
    beast::error_code ec;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (options.ca_file.empty())
        ctx.set_default_verify_paths(ec);
    else
        ctx.load_verify_file(options.ca_file, ec);
    if (ec)
        impl_->setup_error =
            "cannot load the trusted CA certificates (" +
            (options.ca_file.empty() ? std::string("the system's") : options.ca_file) +
            "): " + ec.message();
    ctx.set_verify_mode(ssl::verify_peer);
}

http_session::~http_session() { impl_->close(); }

std::uint64_t http_session::connections_opened() const { return impl_->opened; }

result<session_reply> http_session::call(const std::string& method, const std::string& path,
                                         const std::string& body, const std::string& content_type,
                                         std::chrono::milliseconds timeout) {
    auto& s = *impl_;
    auto where = origin_.url() + path;
    auto fail = [&](const std::string& what) -> result<session_reply> {
        s.close();
        return make_error(where + ": " + what);
    };
    if (!s.setup_error.empty()) return fail(s.setup_error);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left = [&] {
        auto d = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        return std::max(d, std::chrono::milliseconds(1));
    };
    try {
        for (int attempt = 0; attempt < 2; ++attempt) {
            bool reused = s.open();
            if (!s.open()) {
                asio::ip::tcp::resolver resolver(s.ioc);
                beast::error_code ec;
                // Resolving blocks without a deadline of its own; names in
                // /etc/hosts or literal addresses answer at once.
                auto endpoints = resolver.resolve(origin_.host, origin_.port, ec);
                if (ec) return fail("cannot resolve the host: " + ec.message());
                if (origin_.tls) {
                    s.secure.emplace(s.ioc, *s.tls_context);
                    auto* native = s.secure->native_handle();
                    // SNI, and the certificate must name this host.
                    // (SSL_set_tlsext_host_name without its C cast.)
                    SSL_ctrl(native, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                             const_cast<char*>(origin_.host.c_str()));
                    s.secure->set_verify_callback(ssl::host_name_verification(origin_.host));
                } else {
                    s.plain.emplace(s.ioc);
                }
                s.tcp().expires_after(left());
                if (auto e = s.run_one([&](auto done) { s.tcp().async_connect(endpoints, done); }))
                    return fail(e == beast::error::timeout ? "no connection within the timeout"
                                                           : "cannot connect: " + e.message());
                if (s.secure) {
                    if (auto e = s.run_one([&](auto done) {
                            s.secure->async_handshake(ssl::stream_base::client, done);
                        }))
                        return fail("TLS handshake: " + e.message());
                }
                ++s.opened;
            }
            http::request<http::string_body> req{http::string_to_verb(method),
                                                 origin_.prefix + path, 11};
            req.set(http::field::host, origin_.host);
            req.set(http::field::user_agent, "civic-attest");
            if (!content_type.empty()) req.set(http::field::content_type, content_type);
            req.keep_alive(true);
            req.body() = body;
            req.prepare_payload();
            s.tcp().expires_after(left());
            auto ec = s.with_stream([&](auto& stream) {
                return s.run_one([&](auto done) { http::async_write(stream, req, done); });
            });
            http::response_parser<http::string_body> parser;
            parser.body_limit(s.buffer.max_size());
            if (!ec)
                ec = s.with_stream([&](auto& stream) {
                    return s.run_one(
                        [&](auto done) { http::async_read(stream, s.buffer, parser, done); });
                });
            if (ec) {
                // A kept connection the server closed while idle: once more on a new one.
                bool closed_while_idle =
                    reused &&
                    (ec == http::error::end_of_stream || ec == asio::error::eof ||
                     ec == asio::error::connection_reset || ec == asio::error::broken_pipe);
                s.close();
                if (closed_while_idle && attempt == 0) continue;
                return fail(ec == beast::error::timeout ? "no answer within the timeout"
                                                        : ec.message());
            }
            auto res = parser.release();
            session_reply out;
            out.status = res.result_int();
            out.content_type = std::string(res[http::field::content_type]);
            out.retry_after = std::string(res[http::field::retry_after]);
            out.body = std::move(res.body());
            ++s.used;
            if (!res.keep_alive()) s.close();
            return out;
        }
        return fail("the server closed the connection twice");
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}

} // namespace civic::node
