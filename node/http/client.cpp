#include "node/http/client.hpp"

#include "protocol/bytes.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace civic::node {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

result<http_endpoint> parse_server_url(const std::string& url) {
    constexpr std::string_view scheme = "http://";
    if (url.compare(0, scheme.size(), scheme) != 0)
        return make_error("server URL must start with http://");
    auto rest = url.substr(scheme.size());
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    auto colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size())
        return make_error("server URL must be http://HOST:PORT");
    auto port = parse_decimal(rest.substr(colon + 1), 65535);
    if (!port) return make_error("server URL port: " + port.message());
    return http_endpoint{rest.substr(0, colon), rest.substr(colon + 1)};
}

namespace {

/// Runs one asynchronous operation on `ioc` to completion. The stream's expiry
/// applies only to asynchronous operations: a blocking Beast read waits forever
/// on a server that accepted the connection and stopped (frozen, or wedged).
template <class Start>
beast::error_code run_one(asio::io_context& ioc, Start start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
}

} // namespace

result<http_response> http_call(const http_endpoint& server, const std::string& method,
                                const std::string& target, const std::string& body,
                                const std::string& authorization, std::chrono::milliseconds timeout,
                                std::size_t body_limit) {
    auto fail = [&](const std::string& what) -> result<http_response> {
        return make_error("http://" + server.host + ":" + server.port + target + ": " + what);
    };
    try {
        asio::io_context ioc;
        asio::ip::tcp::resolver resolver(ioc);
        beast::tcp_stream stream(ioc);
        // One deadline for the whole exchange.
        stream.expires_after(timeout);
        auto endpoints = resolver.resolve(server.host, server.port);
        if (auto ec = run_one(ioc, [&](auto done) { stream.async_connect(endpoints, done); }))
            return fail(ec == beast::error::timeout ? "no connection within the timeout"
                                                    : ec.message());
        http::request<http::string_body> req{http::string_to_verb(method), target, 11};
        req.set(http::field::host, server.host);
        req.set(http::field::content_type, "application/json");
        if (!authorization.empty()) req.set(http::field::authorization, authorization);
        req.body() = body;
        req.prepare_payload();
        if (auto ec = run_one(ioc, [&](auto done) { http::async_write(stream, req, done); }))
            return fail(ec.message());
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(body_limit);
        if (auto ec =
                run_one(ioc, [&](auto done) { http::async_read(stream, buffer, parser, done); }))
            return fail(ec == beast::error::timeout ? "no answer within the timeout"
                                                    : ec.message());
        auto res = parser.release();
        http_response out;
        out.status = res.result_int();
        out.content_type = std::string(res[http::field::content_type]);
        out.body = std::move(res.body());
        beast::error_code ignored;
        stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        return out;
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}

} // namespace civic::node
