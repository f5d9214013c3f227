// The process tests' helpers: spawning, ports, and the HTTP client with deadlines.
#include "process.hpp"

#include "protocol/bytes.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <mutex>
#include <netinet/in.h>
#include <random>
#include <set>
#include <spawn.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace civic::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

pid_t spawn(const std::vector<std::string>& args, const std::string& log,
            const std::string& out) {
    std::vector<char*> argv;
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out.empty())
        posix_spawn_file_actions_adddup2(&actions, 2, 1);
    else
        posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0600);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc == 0 ? pid : -1;
}

int run_to_end(const std::vector<std::string>& args, const std::string& log,
               const std::string& out) {
    pid_t pid = spawn(args, log, out);
    if (pid <= 0) return -1;
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

int node_process::kill_now() {
    if (pid <= 0) return -1;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
}

bool node_process::exited() {
    int status = 0;
    if (pid <= 0 || ::waitpid(pid, &status, WNOHANG) != pid) return false;
    pid = -1;
    return true;
}

std::string http_response::header(std::string_view name) const {
    for (const auto& [field, value] : headers)
        if (field.size() == name.size() &&
            ::strncasecmp(field.data(), name.data(), name.size()) == 0)
            return value;
    return {};
}

bool http_response::has_header(std::string_view name) const {
    for (const auto& [field, value] : headers)
        if (field.size() == name.size() &&
            ::strncasecmp(field.data(), name.data(), name.size()) == 0)
            return true;
    return false;
}

struct connection::state {
    asio::io_context ioc;
    std::optional<beast::tcp_stream> stream;
    std::uint16_t port = 0;
    beast::flat_buffer buffer;

    /// Runs one asynchronous operation to completion; true if it failed.
    template <class Start>
    bool run(Start start) {
        beast::error_code result = asio::error::would_block;
        start([&result](beast::error_code ec, auto&&...) { result = ec; });
        ioc.restart();
        ioc.run();
        return result.failed();
    }
    std::nullopt_t drop() {
        stream.reset();
        buffer.clear();
        return std::nullopt;
    }
};

connection::connection() : state_(std::make_unique<state>()) {}
connection::~connection() = default;
connection::connection(connection&&) noexcept = default;
connection& connection::operator=(connection&&) noexcept = default;

namespace {

bhttp::verb beast_verb(verb method) {
    switch (method) {
        case verb::get: return bhttp::verb::get;
        case verb::post: return bhttp::verb::post;
        case verb::put: return bhttp::verb::put;
        case verb::delete_: return bhttp::verb::delete_;
    }
    return bhttp::verb::get;
}

} // namespace

std::optional<http_response> connection::call(std::uint16_t port, verb method,
                                              const std::string& target, std::string body,
                                              const std::string& authorization,
                                              std::chrono::milliseconds timeout) {
    auto& s = *state_;
    if (s.stream && port != s.port) s.stream.reset();
    if (!s.stream) {
        s.stream.emplace(s.ioc);
        s.port = port;
        s.stream->expires_after(timeout);
        if (s.run([&](auto handler) {
                s.stream->async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                        handler);
            }))
            return s.drop();
    }
    bhttp::request<bhttp::string_body> req{beast_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
    req.body() = std::move(body);
    req.prepare_payload();
    s.stream->expires_after(timeout);
    if (s.run([&](auto handler) { bhttp::async_write(*s.stream, req, handler); })) return s.drop();
    bhttp::response<bhttp::string_body> res;
    s.stream->expires_after(timeout);
    if (s.run([&](auto handler) { bhttp::async_read(*s.stream, s.buffer, res, handler); }))
        return s.drop();
    http_response out;
    out.status = res.result_int();
    for (const auto& field : res)
        out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.content = std::move(res.body());
    if (!res.keep_alive()) s.drop();
    return out;
}

std::uint16_t free_port() {
    static std::mutex guard;
    static std::mt19937 draw{std::random_device{}()};
    static std::set<std::uint16_t> handed_out;
    std::lock_guard lock(guard);
    std::uniform_int_distribution<int> below_ephemeral(10000, 32000);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        auto port = static_cast<std::uint16_t>(below_ephemeral(draw));
        if (handed_out.count(port)) continue;
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(port);
        bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        if (free) {
            handed_out.insert(port);
            return port;
        }
    }
    return 0;
}

std::uint16_t listening_port(const std::string& log) {
    auto text = read_file(log);
    constexpr std::string_view marker = "listening on ";
    auto at = text.find(marker);
    if (at == std::string::npos) return 0;
    auto end = text.find('\n', at);
    if (end == std::string::npos) return 0; // the line is still being written
    auto line = text.substr(at + marker.size(), end - at - marker.size());
    line = line.substr(0, line.find(',')); // ", peers on HOST:PORT" may follow
    auto port = parse_decimal(line.substr(line.rfind(':') + 1), 65535);
    return port ? static_cast<std::uint16_t>(*port) : 0;
}

result<std::vector<hash>> decode_hashes(const json& list) {
    if (!list.is_array()) return make_error("not an array");
    std::vector<hash> out;
    for (const auto& item : list) {
        if (!item.is_string()) return make_error("not a string");
        auto h = base64_decode_fixed<32>(item.get<std::string>());
        if (!h) return h.err();
        out.push_back(*h);
    }
    return out;
}

result<checkpoint> open_checkpoint(const std::string& text, const note::verifier& log_key,
                                   const std::string& origin) {
    auto cp = parse_signed_checkpoint(text);
    if (!cp) return cp.err();
    if (auto opened = note::open(cp->signed_note, {&log_key}); !opened) return opened.err();
    if (cp->body.origin != origin) return make_error("origin " + cp->body.origin);
    return cp->body;
}

} // namespace civic::test
