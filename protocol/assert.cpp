#include "protocol/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace civic::detail {

void assertion_failed(const char* expression, const std::string& values, const char* file,
                      int line) {
    // stdio, not a logger: this runs once, with the process already wrong.
    if (values.empty())
        std::fprintf(stderr, "civic-attest: assertion failed: %s at %s:%d\n", expression, file,
                     line);
    else
        std::fprintf(stderr, "civic-attest: assertion failed: %s (%s) at %s:%d\n", expression,
                     values.c_str(), file, line);
    std::fflush(stderr);
    std::abort();
}

} // namespace civic::detail
