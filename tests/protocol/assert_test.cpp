#include "protocol/assert.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

/// Runs `body` in a child process: how it ended and what it wrote to stderr.
template <class Body>
std::pair<int, std::string> in_child(Body body) {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(pipe_fds[1], 2);
        ::close(pipe_fds[0]);
        body();
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    std::string err;
    char buf[512];
    for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;)
        err.append(buf, static_cast<std::size_t>(n));
    ::close(pipe_fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return {status, err};
}

} // namespace

TEST_CASE("CIVIC_ASSERT passes what holds and aborts on what does not, saying what, with the "
          "values and where",
          "[protocol][assert]") {
    auto [held, quiet] = in_child([] {
        CIVIC_ASSERT(1 + 1 == 2);
        CIVIC_ASSERT_EQ(2 + 2, 4);
        CIVIC_ASSERT_LT(3u, 4u);
        CIVIC_ASSERT_LE(4, 4);
    });
    CHECK(WIFEXITED(held));
    CHECK(quiet.empty());

    auto [failed, said] = in_child([] {
        const std::uint64_t tree_size = 7, first_index = 9;
        CIVIC_ASSERT_EQ(first_index, tree_size);
    });
    REQUIRE(WIFSIGNALED(failed));
    CHECK(WTERMSIG(failed) == SIGABRT);
    CHECK(said.find("assertion failed: first_index == tree_size (9 against 7)") !=
          std::string::npos);
    CHECK(said.find("assert_test.cpp:") != std::string::npos);

    auto [plain, plain_said] = in_child([] { CIVIC_ASSERT(sizeof(int) == 3); });
    REQUIRE(WIFSIGNALED(plain));
    CHECK(plain_said.find("assertion failed: sizeof(int) == 3 at ") != std::string::npos);
}
