// A blocking HTTP/1.1 test client (Boost.Beast) on one keep-alive connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <string>

namespace civic::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

/// A blocking HTTP/1.1 client on one keep-alive connection.
struct client {
    asio::io_context ioc;
    beast::tcp_stream stream{ioc};
    beast::flat_buffer buffer;

    explicit client(std::uint16_t port) {
        stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    }
    bhttp::response<bhttp::string_body> send(bhttp::verb verb, const std::string& target,
                                             std::string body = "",
                                             const std::string& authorization = "") {
        bhttp::request<bhttp::string_body> req{verb, target, 11};
        req.set(bhttp::field::host, "127.0.0.1");
        if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
        req.body() = std::move(body);
        req.prepare_payload();
        bhttp::write(stream, req);
        bhttp::response<bhttp::string_body> res;
        bhttp::read(stream, buffer, res);
        return res;
    }
    bhttp::response<bhttp::string_body> get(const std::string& target) {
        return send(bhttp::verb::get, target);
    }
};

} // namespace civic::test
