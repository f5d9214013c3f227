#include "storage/lmdb.hpp"

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <string_view>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace civic::storage {
namespace {

/// Codes with which LMDB says the file is not what it wrote.
bool means_damage(int rc) {
    return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
           rc == MDB_VERSION_MISMATCH || rc == MDB_INCOMPATIBLE;
}

std::string directory_of(MDB_env* env) {
    const char* path = nullptr;
    if (env == nullptr || mdb_env_get_path(env, &path) != 0 || path == nullptr) return "?";
    return path;
}

/// Where a check in a child process reports a failed LMDB assertion (-1: not in one).
int assertion_report_fd = -1;

void write_all(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

/// LMDB calls this when a page fails one of its consistency checks, and aborts
/// after it returns. It never returns: it names the file and ends the process
/// with status 1 (the committed state is durable; nothing acknowledged is lost),
/// so that a service manager sees an exit, and the next start refuses the file
/// with check_environment's message.
void on_lmdb_assertion(MDB_env* env, const char* message) {
    auto text = data_file(directory_of(env)) +
                " is damaged: LMDB stopped on a failed consistency check (" +
                (message ? message : "?") + ")";
    if (assertion_report_fd >= 0) {
        write_all(assertion_report_fd, text);
        std::_Exit(3);
    }
    write_all(2, "[fatal] " + text + "; exiting (check the store with 'civic-attest fsck')\n");
    std::_Exit(1);
}

std::uint64_t file_size(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return 0;
    return static_cast<std::uint64_t>(st.st_size);
}

std::string truncated(const std::string& file, std::uint64_t size, std::uint64_t needed) {
    return file + " is truncated: " + std::to_string(size) + " bytes, the store needs at least " +
           std::to_string(needed);
}

/// Refuses a data file too short for its two header pages: LMDB would take it
/// for a new one and write fresh headers over it.
std::string too_short_for_headers(const std::string& file) {
    const auto header_bytes = 2 * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) < header_bytes)
        return truncated(file, static_cast<std::uint64_t>(st.st_size), header_bytes);
    return {};
}

/// Every page the newest header counts must be in the file: a read of a page
/// past its end is a SIGBUS, not an error.
std::string shorter_than_its_pages(MDB_env* env, const std::string& file) {
    MDB_envinfo info{};
    MDB_stat stat{};
    int fd = -1;
    if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &stat) != 0 ||
        mdb_env_get_fd(env, &fd) != 0)
        return {};
    auto needed = (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
    auto size = file_size(fd);
    return size < needed ? truncated(file, size, needed) : std::string();
}

/// LMDB makes its lock file with ftruncate (sparse) and maps it: the first
/// write to a reader slot on a page never written needs a block, and on a full
/// file system that is a SIGBUS. Allocating the file's blocks now (contents
/// untouched) means a reader never needs one later.
std::string allocate_lock_file(const std::string& directory) {
    const auto lock = directory + "/lock.mdb";
    int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return lock + ": " + std::strerror(errno);
    struct stat st {};
    int rc = ::fstat(fd, &st) != 0 ? errno : ::posix_fallocate(fd, 0, st.st_size);
    ::close(fd);
    // A file system without fallocate (EOPNOTSUPP) allocates on write, as before.
    if (rc != 0 && rc != EOPNOTSUPP && rc != ENOSYS && rc != EINVAL)
        return lock + ": cannot allocate the lock file (" + std::strerror(rc) +
               "): a reader would crash the process once the disk is full";
    return {};
}

/// Whether `v` lies inside the first `size` bytes of the map at `map`.
bool within(const MDB_val& v, const char* map, std::uint64_t size) {
    auto* p = static_cast<const char*>(v.mv_data);
    if (v.mv_size == 0) return true;
    if (p < map) return false;
    auto offset = static_cast<std::uint64_t>(p - map);
    return offset <= size && v.mv_size <= size - offset;
}

/// Where this process maps `file` (LMDB does not say: mdb_env_info's address
/// is the one a fixed map asked for), from /proc/self/maps.
const char* map_address(const std::string& file) {
    char resolved[PATH_MAX];
    if (::realpath(file.c_str(), resolved) == nullptr) return nullptr;
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        auto slash = line.find('/');
        if (slash == std::string::npos || line.compare(slash, std::string::npos, resolved) != 0)
            continue;
        return reinterpret_cast<const char*>(
            std::stoull(line.substr(0, line.find('-')), nullptr, 16));
    }
    return nullptr;
}

/// The walk check_environment runs in its child: every record of the main
/// database and of each named database it lists. Empty when all is well.
std::string walk_environment(const environment_options& options) {
    const auto file = data_file(options.directory);
    if (auto problem = too_short_for_headers(file); !problem.empty()) return problem;
    MDB_env* env = nullptr;
    if (int rc = mdb_env_create(&env); rc != 0) return lmdb_error("env_create", rc).message;
    mdb_env_set_assert(env, on_lmdb_assertion);
    mdb_env_set_mapsize(env, options.map_size);
    mdb_env_set_maxdbs(env, options.max_databases);
    // No lock file: nothing else may write while a node checks its store.
    if (int rc = mdb_env_open(env, options.directory.c_str(), MDB_RDONLY | MDB_NOLOCK, 0600);
        rc != 0)
        return file + " is not a readable LMDB file: " + mdb_strerror(rc);
    if (auto problem = shorter_than_its_pages(env, file); !problem.empty()) return problem;
    int fd = -1;
    mdb_env_get_fd(env, &fd);
    const auto size = file_size(fd);
    const auto* map = map_address(file);
    if (map == nullptr) return file + ": cannot find its memory map";
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn); rc != 0)
        return lmdb_error("txn_begin", rc, env).message;
    // Reads every byte of every record, so that a record pointing outside the
    // file is caught here (and not by a SIGBUS in the node).
    volatile std::uint8_t sink = 0;
    auto walk = [&](MDB_dbi dbi, const std::string& name, std::vector<std::string>* names) {
        MDB_cursor* cursor = nullptr;
        if (int rc = mdb_cursor_open(txn, dbi, &cursor); rc != 0)
            return file + " is damaged: database '" + name + "': " + mdb_strerror(rc);
        MDB_val k{}, v{};
        std::uint64_t n = 0;
        int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
        for (; rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT), ++n) {
            if (!within(k, map, size) || !within(v, map, size))
                return file + " is damaged: database '" + name + "', record " + std::to_string(n) +
                       " points outside the file";
            std::uint8_t x = 0;
            for (std::size_t i = 0; i < k.mv_size; ++i)
                x ^= static_cast<const std::uint8_t*>(k.mv_data)[i];
            for (std::size_t i = 0; i < v.mv_size; ++i)
                x ^= static_cast<const std::uint8_t*>(v.mv_data)[i];
            sink = static_cast<std::uint8_t>(sink ^ x);
            if (names) names->emplace_back(static_cast<const char*>(k.mv_data), k.mv_size);
        }
        mdb_cursor_close(cursor);
        if (rc != MDB_NOTFOUND)
            return file + " is damaged: database '" + name + "', after record " +
                   std::to_string(n) + ": " + mdb_strerror(rc);
        return std::string();
    };
    MDB_dbi main_dbi = 0;
    if (int rc = mdb_dbi_open(txn, nullptr, 0, &main_dbi); rc != 0)
        return file + " is damaged: the main database: " + mdb_strerror(rc);
    std::vector<std::string> names;
    if (auto problem = walk(main_dbi, "(main)", &names); !problem.empty()) return problem;
    for (const auto& name : names) {
        MDB_dbi dbi = 0;
        if (int rc = mdb_dbi_open(txn, name.c_str(), 0, &dbi); rc != 0)
            return file + " is damaged: database '" + name + "': " + mdb_strerror(rc);
        if (auto problem = walk(dbi, name, nullptr); !problem.empty()) return problem;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return {};
}

} // namespace

std::string data_file(const std::string& directory) { return directory + "/data.mdb"; }

namespace {

// How each shortage's message begins (shortage_of finds them, after any context).
constexpr std::string_view device_full_text = "no space left on the device of ";
constexpr std::string_view quota_text = "disk quota exceeded for ";
constexpr std::string_view map_full_text = "the LMDB map is full in ";

/// Bytes an unprivileged writer may still use on the file system of `directory`.
std::optional<std::uint64_t> available_bytes(const std::string& directory) {
    struct statvfs fs {};
    if (::statvfs(directory.c_str(), &fs) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
}

} // namespace

error lmdb_error(const char* what, int rc, MDB_env* env) {
    std::string text = std::string("lmdb ") + what + ": " + mdb_strerror(rc);
    if (means_damage(rc)) return make_error(data_file(directory_of(env)) + " is damaged: " + text);
    const auto file = data_file(directory_of(env));
    if (rc == ENOSPC) return make_error(std::string(device_full_text) + file + " (" + text + ")");
    if (rc == EDQUOT) return make_error(std::string(quota_text) + file + " (" + text + ")");
    if (rc == MDB_MAP_FULL) {
        MDB_envinfo info{};
        std::string ceiling = env != nullptr && mdb_env_info(env, &info) == 0
                                  ? std::to_string(info.me_mapsize) + " bytes"
                                  : "its map_size";
        return make_error(std::string(map_full_text) + file + ": the store holds at most " +
                          ceiling + " (" + text + ")");
    }
    if (rc == EIO && env != nullptr) {
        // LMDB turns a short write into EIO: with the file system (almost) full
        // after it, the disk filled while LMDB wrote.
        auto room = available_bytes(directory_of(env));
        if (room && *room < short_write_full_below)
            return make_error(std::string(device_full_text) + file + " (" + text + ", with " +
                              std::to_string(*room) + " bytes left on its file system)");
    }
    return make_error(std::move(text));
}

space_shortage shortage_of(const error& e) {
    const auto& m = e.message;
    if (m.find(device_full_text) != std::string::npos) return space_shortage::device_full;
    if (m.find(quota_text) != std::string::npos) return space_shortage::quota_exceeded;
    if (m.find(map_full_text) != std::string::npos) return space_shortage::map_full;
    return space_shortage::none;
}

const char* shortage_label(space_shortage s) {
    switch (s) {
    case space_shortage::device_full:
        return "no_space";
    case space_shortage::quota_exceeded:
        return "quota";
    case space_shortage::map_full:
        return "map_full";
    case space_shortage::none:
        break;
    }
    return "other";
}

result<std::shared_ptr<environment>> environment::open(const environment_options& options) {
    const auto file = data_file(options.directory);
    if (auto problem = too_short_for_headers(file); !problem.empty()) return make_error(problem);
    MDB_env* env = nullptr;
    if (int rc = mdb_env_create(&env); rc != 0) return lmdb_error("env_create", rc);
    std::shared_ptr<environment> out(new environment(env));
    mdb_env_set_assert(env, on_lmdb_assertion);
    if (int rc = mdb_env_set_mapsize(env, options.map_size); rc != 0)
        return lmdb_error("set_mapsize", rc);
    if (int rc = mdb_env_set_maxdbs(env, options.max_databases); rc != 0)
        return lmdb_error("set_maxdbs", rc);
    if (int rc = mdb_env_set_maxreaders(env, options.max_readers); rc != 0)
        return lmdb_error("set_maxreaders", rc);
    // MDB_NOTLS: read transactions are not tied to threads (actors migrate between workers).
    if (int rc = mdb_env_open(env, options.directory.c_str(), MDB_NOTLS, 0600); rc != 0) {
        if (means_damage(rc))
            return make_error(file + " is not a readable LMDB file: " + mdb_strerror(rc));
        return make_error("lmdb open " + options.directory + ": " + mdb_strerror(rc));
    }
    if (auto problem = shorter_than_its_pages(env, file); !problem.empty())
        return make_error(problem);
    if (auto problem = allocate_lock_file(options.directory); !problem.empty())
        return make_error(problem);
    return out;
}

status check_environment(const environment_options& options) {
    const auto file = data_file(options.directory);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return make_error(file + ": " + std::strerror(errno));
    int fds[2];
    if (::pipe(fds) != 0) return make_error(std::string("pipe: ") + std::strerror(errno));
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        return make_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        // The child: only LMDB, then _exit (nothing of the parent's runs here).
        // A signal must end it plainly: a handler the parent installed (a crash
        // reporter, a test framework's) would run in its place.
        for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE})
            ::signal(sig, SIG_DFL);
        ::close(fds[0]);
        assertion_report_fd = fds[1];
        auto problem = walk_environment(options);
        write_all(fds[1], problem);
        std::_Exit(problem.empty() ? 0 : 3);
    }
    ::close(fds[1]);
    std::string problem;
    char buffer[512];
    for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        problem.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int wait_status = 0;
    while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(wait_status))
        return make_error(file + " is damaged: reading it ends in signal " +
                          std::to_string(WTERMSIG(wait_status)) + " (" +
                          strsignal(WTERMSIG(wait_status)) + ")");
    if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0)
        return make_error(problem.empty() ? file + ": the check of the store failed" : problem);
    return {};
}

environment::~environment() { mdb_env_close(env_); }

result<MDB_dbi> environment::database(const std::string& name, bool create) {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0)
        return lmdb_error("txn_begin", rc, env_);
    MDB_dbi dbi = 0;
    if (int rc = mdb_dbi_open(txn, name.c_str(), create ? MDB_CREATE : 0, &dbi); rc != 0) {
        mdb_txn_abort(txn);
        if (means_damage(rc))
            return make_error(data_file(directory_of(env_)) + " is damaged: database " + name +
                              ": " + mdb_strerror(rc));
        return make_error("lmdb open database " + name + ": " + mdb_strerror(rc));
    }
    if (int rc = mdb_txn_commit(txn); rc != 0) return lmdb_error("txn_commit", rc, env_);
    return dbi;
}

result<transaction> transaction::begin(environment& env, bool read_only) {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env.handle(), nullptr, read_only ? MDB_RDONLY : 0, &txn); rc != 0)
        return lmdb_error("txn_begin", rc, env.handle());
    return transaction(txn);
}

transaction::~transaction() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
}

namespace {
MDB_val to_val(byte_view v) { return MDB_val{v.size(), const_cast<std::uint8_t*>(v.data())}; }
} // namespace

result<std::optional<byte_view>> transaction::get(MDB_dbi db, byte_view key) const {
    MDB_val k = to_val(key), v{};
    int rc = mdb_get(txn_, db, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<byte_view>{};
    if (rc != 0) return lmdb_error("get", rc, mdb_txn_env(txn_));
    return std::optional<byte_view>(
        byte_view(static_cast<const std::uint8_t*>(v.mv_data), v.mv_size));
}

status transaction::put(MDB_dbi db, byte_view key, byte_view value) {
    MDB_val k = to_val(key), v = to_val(value);
    if (int rc = mdb_put(txn_, db, &k, &v, 0); rc != 0)
        return lmdb_error("put", rc, mdb_txn_env(txn_));
    return {};
}

status transaction::erase(MDB_dbi db, byte_view key) {
    MDB_val k = to_val(key);
    int rc = mdb_del(txn_, db, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error("del", rc, mdb_txn_env(txn_));
    return {};
}

status transaction::commit() {
    MDB_txn* txn = txn_;
    txn_ = nullptr; // committed or failed, the handle is gone either way
    MDB_env* env = mdb_txn_env(txn);
    if (int rc = mdb_txn_commit(txn); rc != 0) return lmdb_error("commit", rc, env);
    return {};
}

} // namespace civic::storage
