#include "node/http/server.hpp"

#include "node/http/connection_book.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <list>
#include <map>
#include <mutex>
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

namespace {

class session;

} // namespace

struct http_server::impl {
    http_options options;
    http_handler handler;

    // Idle connections (waiting for a request) stand in its line: when the
    // server is full, the one that has waited longest gives way.
    connection_book<session> book;
    log_limiter warn;

    std::atomic<std::uint64_t> accept_errors{0};
    std::chrono::milliseconds accept_backoff{0}; // one accept at a time: no lock
    std::uint16_t bound_port = 0;
    std::vector<std::thread> threads;
    // Last, so that destroyed first: its pending handlers hold sessions, whose
    // destructors update the book above.
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    asio::steady_timer accept_retry{ioc};

    impl(http_options o, http_handler h)
        : options(std::move(o)), handler(std::move(h)), warn(options.on_warning) {}
    void accept();
    void accept_failed(const beast::error_code& ec);
    void admit(tcp::socket socket);
    void refuse(tcp::socket& socket, const char* reason, const std::string& message);
};

namespace {

/// Whether a request's framing is one we read exactly as any proxy in front of us
/// would: no Transfer-Encoding but chunked, and never both it and Content-Length
/// (RFC 9112 6.1, 6.3: the request smuggling cases). Empty when it is.
std::string framing_problem(const http::request_parser<http::string_body>::value_type& h) {
    auto encodings = h.count(http::field::transfer_encoding);
    if (encodings == 0) return {};
    if (h.count(http::field::content_length) > 0)
        return "a request may not carry both Transfer-Encoding and Content-Length";
    if (encodings > 1) return "Transfer-Encoding may appear only once";
    auto value = std::string(h[http::field::transfer_encoding]);
    auto first = value.find_first_not_of(" \t");
    auto last = value.find_last_not_of(" \t");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    if (!beast::iequals(value, "chunked"))
        return "Transfer-Encoding '" + value + "' is not supported (only chunked)";
    return {};
}

class session : public std::enable_shared_from_this<session> {
public:
    session(tcp::socket socket, http_server::impl& server, address_key key)
        : stream_(std::move(socket)), server_(server), key_(key),
          deadline_(stream_.get_executor()) {}
    ~session() { server_.book.release(key_); }

    void start() {
        asio::dispatch(stream_.get_executor(),
                       [self = shared_from_this()] { self->wait_for_request(true); });
    }

    /// Closes the connection if it still waits for a request (the server is full
    /// and this one has waited longest). Runs on the session's strand.
    void evict() {
        if (!waiting_) return; // became active meanwhile: it keeps its place
        beast::error_code ignored;
        stream_.socket().close(ignored);
    }

    asio::any_io_executor executor() { return stream_.get_executor(); }

    connection_book<session>::place place_in_book;

private:
    /// Arms the deadline; `on_expiry` runs unless it is re-armed or cancelled first.
    template <class F>
    void arm(std::chrono::milliseconds after, F on_expiry) {
        auto generation = ++deadline_generation_;
        deadline_.expires_after(after);
        deadline_.async_wait(
            [self = shared_from_this(), generation, on_expiry](beast::error_code ec) {
                if (ec || generation != self->deadline_generation_) return;
                on_expiry(*self);
            });
    }
    void disarm() {
        ++deadline_generation_;
        deadline_.cancel();
    }

    // Waits, as an idle connection that may be evicted, for a request's first bytes.
    void wait_for_request(bool first) {
        if (buffer_.size() > 0) return read_header(); // pipelined: already here
        waiting_ = true;
        server_.book.stand_in_line(shared_from_this());
        // A new connection must start its request soon; a kept-alive one may idle longer.
        arm(first ? std::min(server_.options.header_timeout, server_.options.request_timeout)
                  : server_.options.idle_timeout,
            [](session& self) {
                beast::error_code ignored;
                self.stream_.socket().cancel(ignored);
            });
        stream_.async_read_some(buffer_.prepare(4096),
                                [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                    self->waiting_ = false;
                                    self->server_.book.leave_line(*self);
                                    self->disarm();
                                    if (ec || n == 0) return self->close();
                                    self->buffer_.commit(n);
                                    self->read_header();
                                });
    }

    void read_header() {
        first_byte_ = std::chrono::steady_clock::now();
        parser_.emplace();
        parser_->body_limit(server_.options.max_body);
        parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header));
        // Our own timer, not the stream's expiry (which closes the socket): a client
        // that sends part of a request and stalls gets a 408 before we hang up.
        stream_.expires_never();
        timed_out_ = false;
        arm(std::min(server_.options.header_timeout, server_.options.request_timeout),
            [](session& self) { self.time_out(); });
        http::async_read_header(stream_, buffer_, *parser_,
                                [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                    self->on_header(ec);
                                });
    }

    // Cancels the request's read, again every 10 ms until it has given up (on_read
    // disarms): a cancel finds nothing to cancel when the read has just completed
    // a step and its handler waits to run, and the composed read then goes on
    // reading, trickle by trickle, with no deadline left.
    void time_out() {
        timed_out_ = true;
        beast::error_code ignored;
        stream_.socket().cancel(ignored);
        arm(std::chrono::milliseconds(10), [](session& self) { self.time_out(); });
    }

    void on_header(beast::error_code ec) {
        if (ec) return on_read(ec);
        if (auto problem = framing_problem(parser_->get()); !problem.empty()) {
            disarm();
            begin_answer();
            keep_alive_ = false; // what follows cannot be framed: never read it as a request
            return write(json_error(400, "bad_framing", problem));
        }
        if (parser_->is_done()) return on_read({});
        // The body: within what is left of the whole request's deadline.
        auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - first_byte_);
        arm(std::max(std::chrono::milliseconds(1), server_.options.request_timeout - spent),
            [](session& self) { self.time_out(); });
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](beast::error_code read_ec, std::size_t) {
                             self->on_read(read_ec);
                         });
    }

    void begin_answer() {
        answered_ = false; // a new request: exactly one answer is owed
        started_ = std::chrono::steady_clock::now();
        target_.clear();
    }

    void on_read(beast::error_code ec) {
        disarm();
        begin_answer();
        if (timed_out_) {
            keep_alive_ = false;
            return write(json_error(408, "request_timeout",
                                    "the request did not arrive within " +
                                        std::to_string(server_.options.request_timeout.count()) +
                                        " ms"));
        }
        if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
            ec == asio::error::eof)
            return close();
        if (ec == http::error::body_limit) {
            keep_alive_ = false;
            return write(json_error(413, "body_too_large",
                                    "request bodies are limited to " +
                                        std::to_string(server_.options.max_body) + " bytes"));
        }
        if (ec == http::error::bad_transfer_encoding || ec == http::error::bad_content_length) {
            keep_alive_ = false; // what follows cannot be framed: never read it as a request
            return write(json_error(400, "bad_framing", "malformed HTTP request: " + ec.message()));
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
        arm(server_.options.request_timeout, [](session& self) {
            if (self.answered_) return;
            self.keep_alive_ = false;
            self.write(json_error(503, "timeout", "the request took too long; retry later"));
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
        disarm();
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
                              self->stream_.expires_never();
                              self->wait_for_request(false);
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
    address_key key_;
    asio::steady_timer deadline_;
    std::uint64_t deadline_generation_ = 0;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    bool keep_alive_ = true;
    bool answered_ = true;
    bool waiting_ = false;
    bool timed_out_ = false;
    std::chrono::steady_clock::time_point first_byte_{};
    std::chrono::steady_clock::time_point started_{};
    std::string target_; // for on_response
    std::array<char, 4096> scratch_{};
};

} // namespace

void http_server::impl::accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (ec) return accept_failed(ec);
        accept_backoff = std::chrono::milliseconds(0);
        admit(std::move(socket));
        accept();
    });
}

// Out of descriptors (EMFILE, ENFILE), or out of buffers: accepting again at once
// fails again at once, a busy loop. Wait, doubling from 5 ms to 1 s; the kernel
// keeps the connections that arrive meanwhile in the listen backlog.
void http_server::impl::accept_failed(const beast::error_code& ec) {
    ++accept_errors;
    accept_backoff = next_accept_backoff(accept_backoff);
    warn("http: accept failed: " + ec.message() + "; accepting again in " +
         std::to_string(accept_backoff.count()) + " ms");
    accept_retry.expires_after(accept_backoff);
    accept_retry.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) accept();
    });
}

void http_server::impl::admit(tcp::socket socket) {
    beast::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (ec) return; // gone already
    auto key = address_key_of(remote.address());
    auto [refusal, evicted] = book.admit(key);
    if (refusal) {
        auto why = std::string(refusal) == "per_address"
                       ? "too many connections from " + remote.address().to_string() +
                             " (at most " + std::to_string(book.max_per_address()) + ")"
                       : "the server is at its limit of " + std::to_string(book.max_total()) +
                             " connections";
        return refuse(socket, refusal, why);
    }
    if (evicted) {
        if (options.on_connection_refused) options.on_connection_refused("evicted_idle");
        asio::post(evicted->executor(), [evicted] { evicted->evict(); });
    }
    std::make_shared<session>(std::move(socket), *this, key)->start();
}

// A short 503 written without blocking (whatever the socket takes at once), then
// closed: a client that is turned away learns why, and costs us nothing more.
void http_server::impl::refuse(tcp::socket& socket, const char* reason,
                               const std::string& message) {
    auto body = nlohmann::json{{"error", "too_many_connections"}, {"message", message}}.dump();
    auto text = "HTTP/1.1 503 Service Unavailable\r\nServer: civic-attest\r\nRetry-After: 1\r\n"
                "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(text), ignored);
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
    if (options.on_connection_refused) options.on_connection_refused(reason);
    warn("http: refused a connection: " + message);
}

http_server::http_server(http_options options, http_handler handler)
    : impl_(std::make_unique<impl>(std::move(options), std::move(handler))) {}

http_server::~http_server() { stop(); }

status http_server::start() {
    auto& o = impl_->options;
    impl_->book.set_caps(o.max_connections == 0 ? connection_budget_now() : o.max_connections,
                         o.max_connections_per_address);
    o.max_connections = impl_->book.max_total(); // what is in force, for whoever asks
    o.max_connections_per_address = impl_->book.max_per_address();
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

const http_options& http_server::options() const { return impl_->options; }

std::size_t http_server::connections() const { return impl_->book.open(); }

std::uint64_t http_server::accept_errors() const { return impl_->accept_errors.load(); }

void http_server::stop() {
    if (!impl_ || impl_->threads.empty()) return;
    asio::post(impl_->ioc, [this] {
        beast::error_code ignored;
        impl_->acceptor.close(ignored);
        impl_->accept_retry.cancel();
    });
    impl_->ioc.stop();
    for (auto& t : impl_->threads)
        t.join();
    impl_->threads.clear();
}

} // namespace civic::node
