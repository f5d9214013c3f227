#include "node/system/files.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace civic::node {

namespace {
error file_error(const std::string& path, const std::string& what) {
    return make_error(path + ": " + what +
                      (errno != 0 ? std::string(": ") + std::strerror(errno) : ""));
}

struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

status write_all(int fd, const std::string& path, std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return file_error(path, "write failed");
        done += static_cast<std::size_t>(n);
    }
    return {};
}
} // namespace

result<std::string> read_file(const std::string& path) {
    errno = 0;
    fd_guard f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) return file_error(path, "cannot open");
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) return file_error(path, "cannot stat");
    if (!S_ISREG(st.st_mode)) {
        errno = 0;
        return file_error(path, "not a regular file");
    }
    if (static_cast<std::size_t>(st.st_size) > max_input_file) {
        errno = 0;
        return file_error(path, "larger than " + std::to_string(max_input_file) + " bytes");
    }
    std::string out(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t done = 0;
    while (done < out.size()) {
        auto n = ::read(f.fd, out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return file_error(path, "read failed");
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    out.resize(done);
    return out;
}

status sync_directory(const std::string& path) {
    errno = 0;
    fd_guard d{::open(path.empty() ? "." : path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd < 0) return file_error(path, "cannot open the directory");
    if (::fsync(d.fd) != 0) return file_error(path, "fsync of the directory failed");
    return {};
}

status write_secret_file(const std::string& path, std::initializer_list<std::string_view> pieces) {
    errno = 0;
    fd_guard f{::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
    if (f.fd < 0) return file_error(path, "cannot create (it must not exist yet)");
    for (auto piece : pieces)
        CIVIC_TRY(write_all(f.fd, path, piece));
    if (::fsync(f.fd) != 0) return file_error(path, "fsync failed");
    // The file's name lives in its directory: without this a power loss can
    // leave a key whose registration committed with no file behind it.
    return sync_directory(std::filesystem::path(path).parent_path().string());
}

status append_durably(const std::string& path, std::string_view line) {
    errno = 0;
    bool existed = std::filesystem::exists(path);
    fd_guard f{::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)};
    if (f.fd < 0) return file_error(path, "cannot open for appending");
    CIVIC_TRY(write_all(f.fd, path, line));
    if (::fsync(f.fd) != 0) return file_error(path, "fsync failed");
    if (existed) return {};
    return sync_directory(std::filesystem::path(path).parent_path().string());
}

status replace_file_durably(const std::string& path, std::string_view content) {
    const auto temporary = path + ".tmp";
    {
        errno = 0;
        fd_guard f{::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
        if (f.fd < 0) return file_error(temporary, "cannot create");
        CIVIC_TRY(write_all(f.fd, temporary, content));
        if (::fsync(f.fd) != 0) return file_error(temporary, "fsync failed");
    }
    errno = 0;
    if (::rename(temporary.c_str(), path.c_str()) != 0)
        return file_error(path, "cannot rename " + temporary + " to it");
    return sync_directory(std::filesystem::path(path).parent_path().string());
}

status write_secret_key_file(const std::string& path, std::string& secret) {
    auto written = write_secret_file(path, {secret, "\n"});
    ed25519::wipe(secret.data(), secret.size());
    return written;
}

result<std::string> read_secret_file(const std::string& path) {
    struct stat st {};
    errno = 0;
    if (::stat(path.c_str(), &st) != 0) return file_error(path, "cannot stat");
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        errno = 0;
        return file_error(path, "is accessible by group or others (chmod 600 it)");
    }
    return read_file(path);
}

result<note::signer_key> read_signer_key_file(const std::string& path) {
    auto text = read_secret_file(path);
    if (!text) return text.err();
    auto key = note::parse_signer_key(std::string_view(*text).substr(0, text->find('\n')));
    ed25519::wipe(text->data(), text->size());
    if (!key) return make_error(path + ": " + key.message());
    return key;
}

} // namespace civic::node
