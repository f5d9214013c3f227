#include "node/cli/audit/source.hpp"

#include "node/http/client.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace civic::node::audit {
namespace {

/// The tlog-tiles API of a log over plain HTTP.
class http_log_source final : public log_source {
public:
    http_log_source(http_endpoint server, std::string prefix, fetch_limits limits)
        : server_(std::move(server)), prefix_(std::move(prefix)), limits_(limits) {}

    std::string locate(const std::string& path) const override {
        return "http://" + server_.host + ":" + server_.port + prefix_ + "/" + path;
    }

    result<std::optional<std::string>> fetch(const std::string& path,
                                             std::size_t max_bytes) override {
        auto backoff = limits_.first_backoff;
        std::string last_failure;
        for (unsigned attempt = 1; attempt <= limits_.attempts; ++attempt) {
            if (attempt > 1) {
                std::this_thread::sleep_for(backoff);
                backoff *= 2;
            }
            auto answer =
                http_call(server_, "GET", prefix_ + "/" + path, "", "", limits_.timeout, max_bytes);
            if (!answer) {
                // A body past the limit is the log's doing, not the network's: no retry.
                if (answer.message().find("body limit") != std::string::npos)
                    return make_error(locate(path) + ": the answer is larger than " +
                                      std::to_string(max_bytes) + " bytes");
                last_failure = answer.message();
                continue;
            }
            if (answer->status == 200) {
                ++counts_.resources;
                counts_.bytes += answer->body.size();
                return std::optional<std::string>(std::move(answer->body));
            }
            if (answer->status == 404 || answer->status == 410) {
                ++counts_.resources;
                return std::optional<std::string>();
            }
            last_failure = locate(path) + ": HTTP status " + std::to_string(answer->status);
            if (answer->status < 500 && answer->status != 429)
                break; // asking again changes nothing
        }
        return make_error(last_failure + " (" + std::to_string(limits_.attempts) +
                          " attempts at most)");
    }

private:
    http_endpoint server_;
    std::string prefix_; // "" or "/some/prefix"
    fetch_limits limits_;
};

/// A static tlog-tiles directory: DIR/checkpoint, DIR/tile/...
class directory_log_source final : public log_source {
public:
    explicit directory_log_source(std::string directory) : directory_(std::move(directory)) {}

    std::string locate(const std::string& path) const override { return directory_ + "/" + path; }

    result<std::optional<std::string>> fetch(const std::string& path,
                                             std::size_t max_bytes) override {
        const auto file = locate(path);
        auto fail = [&file](const std::string& what) {
            return make_error(file + ": " + what +
                              (errno ? ": " + std::string(std::strerror(errno)) : ""));
        };
        errno = 0;
        int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
            ++counts_.resources;
            return std::optional<std::string>();
        }
        if (fd < 0) return fail("cannot open");
        struct closer {
            int fd;
            ~closer() { ::close(fd); }
        } closing{fd};
        struct stat st {};
        if (::fstat(fd, &st) != 0) return fail("cannot stat");
        errno = 0;
        if (!S_ISREG(st.st_mode)) return fail("not a regular file");
        if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
            return fail("holds " + std::to_string(st.st_size) + " bytes, more than the " +
                        std::to_string(max_bytes) + " it may");
        std::string body(static_cast<std::size_t>(st.st_size), '\0');
        std::size_t done = 0;
        while (done < body.size()) {
            auto n = ::read(fd, body.data() + done, body.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return fail("read failed");
            if (n == 0) break;
            done += static_cast<std::size_t>(n);
        }
        body.resize(done);
        ++counts_.resources;
        counts_.bytes += done;
        return std::optional<std::string>(std::move(body));
    }

private:
    std::string directory_;
};

} // namespace

result<std::unique_ptr<log_source>> open_log_source(const std::string& where,
                                                    const fetch_limits& limits) {
    constexpr std::string_view http_scheme = "http://";
    if (where.rfind(http_scheme, 0) == 0) {
        auto authority_end = where.find('/', http_scheme.size());
        std::string prefix =
            authority_end == std::string::npos ? std::string() : where.substr(authority_end);
        while (!prefix.empty() && prefix.back() == '/')
            prefix.pop_back();
        auto server = parse_server_url(where.substr(0, authority_end));
        if (!server) return make_error("'" + where + "': " + server.message());
        return std::unique_ptr<log_source>(
            std::make_unique<http_log_source>(*server, prefix, limits));
    }
    if (where.find("://") != std::string::npos)
        return make_error("'" + where + "': only http:// URLs and directories are supported");
    std::error_code ec;
    if (!std::filesystem::is_directory(where, ec))
        return make_error("'" + where + "' is neither an http:// URL nor a directory");
    auto directory = where;
    while (directory.size() > 1 && directory.back() == '/')
        directory.pop_back();
    return std::unique_ptr<log_source>(std::make_unique<directory_log_source>(directory));
}

} // namespace civic::node::audit
