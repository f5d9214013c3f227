#include "node/http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <optional>
#include <thread>

namespace civic::node {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

http_response json_error(unsigned status, const std::string& code, const std::string& message) {
    http_response r;
    r.status = status;
    r.body = nlohmann::json{{"error", code}, {"message", message}}.dump();
    return r;
}

struct http_server::impl {
    http_options options;
    http_handler handler;
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    std::vector<std::thread> threads;
    std::atomic<std::size_t> connections{0};
    std::uint16_t bound_port = 0;

    impl(http_options o, http_handler h) : options(std::move(o)), handler(std::move(h)) {}
    void accept();
};

namespace {

class session : public std::enable_shared_from_this<session> {
public:
    session(tcp::socket socket, http_server::impl& server)
        : stream_(std::move(socket)), server_(server), deadline_(stream_.get_executor()) {}
    ~session() { --server_.connections; }

    void start() {
        asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
    }

private:
    void read() {
        parser_.emplace();
        parser_->body_limit(server_.options.max_body);
        parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header));
        // Our own timer, not the stream's expiry (which closes the socket): a client
        // that sends part of a request and stalls gets a 408 before we hang up.
        stream_.expires_never();
        reading_ = true;
        read_timed_out_ = false;
        deadline_.expires_after(server_.options.request_timeout);
        deadline_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
            if (wait_ec || !self->reading_) return;
            self->read_timed_out_ = true;
            beast::error_code ignored;
            self->stream_.socket().cancel(ignored);
        });
        http::async_read(
            stream_, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        reading_ = false;
        deadline_.cancel();
        answered_ = false; // a new request: exactly one answer is owed
        started_ = std::chrono::steady_clock::now();
        target_.clear();
        if (read_timed_out_ && (parser_->got_some() || buffer_.size() > 0)) {
            keep_alive_ = false;
            return write(json_error(408, "request_timeout",
                                    "the request did not arrive within " +
                                        std::to_string(server_.options.request_timeout.count()) +
                                        " ms"));
        }
        if (read_timed_out_ || ec == http::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
            ec == asio::error::eof)
            return close();
        if (ec == http::error::body_limit) {
            keep_alive_ = false;
            return write(json_error(413, "body_too_large",
                                    "request bodies are limited to " +
                                        std::to_string(server_.options.max_body) + " bytes"));
        }
        if (ec == http::error::header_limit) {
            keep_alive_ = false;
            return write(json_error(400, "header_too_large", "request headers are too large"));
        }
        if (ec) {
            keep_alive_ = false;
            return write(json_error(400, "bad_request", "malformed HTTP request: " + ec.message()));
        }
        auto msg = parser_->release();
        keep_alive_ = msg.keep_alive();
        http_request req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        target_ = req.target;
        req.body = std::move(msg.body());
        if (auto it = msg.find(http::field::authorization); it != msg.end())
            req.authorization = std::string(it->value());

        // The handler answers once, from any thread; the deadline answers 503 if it does not.
        deadline_.expires_after(server_.options.request_timeout);
        deadline_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
            if (wait_ec || self->answered_) return;
            self->keep_alive_ = false;
            self->write(json_error(503, "timeout", "the request took too long; retry later"));
        });
        auto weak = weak_from_this();
        auto executor = stream_.get_executor();
        server_.handler(req, [weak, executor](http_response response) {
            asio::post(executor, [weak, response = std::move(response)]() mutable {
                if (auto self = weak.lock()) self->write(std::move(response));
            });
        });
    }

    void write(http_response r) {
        if (answered_) return; // the deadline already answered
        answered_ = true;
        deadline_.cancel();
        if (server_.options.on_response)
            server_.options.on_response(target_, r.status,
                                        std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::steady_clock::now() - started_));
        auto res = std::make_shared<http::response<http::string_body>>(
            static_cast<http::status>(r.status), 11);
        res->set(http::field::server, "civic-attest");
        res->set(http::field::content_type, r.content_type);
        for (auto& [name, value] : r.headers)
            res->set(name, value);
        res->body() = std::move(r.body);
        res->keep_alive(keep_alive_);
        res->prepare_payload();
        stream_.expires_after(server_.options.request_timeout);
        http::async_write(stream_, *res,
                          [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                              if (ec || !self->keep_alive_) return self->close();
                              self->read();
                          });
    }

    // Half-closes, then reads and discards until the peer closes (bounded by the
    // deadline): closing with unread bytes (say, the rest of a refused body) would
    // make the kernel reset the connection before the client reads our answer.
    void close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.expires_after(std::chrono::seconds(2));
        drain();
    }

    void drain() {
        stream_.async_read_some(asio::buffer(scratch_),
                                [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                    if (!ec) self->drain();
                                });
    }

    beast::tcp_stream stream_;
    http_server::impl& server_;
    asio::steady_timer deadline_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    bool keep_alive_ = true;
    bool answered_ = true;
    bool reading_ = false;
    bool read_timed_out_ = false;
    std::chrono::steady_clock::time_point started_{};
    std::string target_; // for on_response
    std::array<char, 4096> scratch_{};
};

} // namespace

void http_server::impl::accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) {
            if (connections.load() >= options.max_connections) {
                beast::error_code ignored;
                socket.close(ignored); // over the limit: refuse rather than queue without bound
            } else {
                ++connections;
                std::make_shared<session>(std::move(socket), *this)->start();
            }
        }
        accept();
    });
}

http_server::http_server(http_options options, http_handler handler)
    : impl_(std::make_unique<impl>(std::move(options), std::move(handler))) {}

http_server::~http_server() { stop(); }

status http_server::start() {
    beast::error_code ec;
    auto address = asio::ip::make_address(impl_->options.address, ec);
    if (ec)
        return make_error("http: bad listen address '" + impl_->options.address +
                          "': " + ec.message());
    tcp::endpoint endpoint{address, impl_->options.port};
    impl_->acceptor.open(endpoint.protocol(), ec);
    if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl_->acceptor.bind(endpoint, ec);
    if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return make_error("http: cannot listen on " + impl_->options.address + ":" +
                          std::to_string(impl_->options.port) + ": " + ec.message());
    impl_->bound_port = impl_->acceptor.local_endpoint().port();
    impl_->accept();
    for (unsigned i = 0; i < std::max(1u, impl_->options.threads); ++i)
        impl_->threads.emplace_back([this] { impl_->ioc.run(); });
    return {};
}

std::uint16_t http_server::port() const { return impl_->bound_port; }

void http_server::stop() {
    if (!impl_ || impl_->threads.empty()) return;
    asio::post(impl_->ioc, [this] {
        beast::error_code ignored;
        impl_->acceptor.close(ignored);
    });
    impl_->ioc.stop();
    for (auto& t : impl_->threads)
        t.join();
    impl_->threads.clear();
}

} // namespace civic::node
