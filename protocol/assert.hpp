// CIVIC_ASSERT: what only a bug can break, checked in every build (tests,
// fuzzers, benchmarks and Release alike). A failed assertion prints the
// expression, the values compared and where, then aborts: a node whose memory
// contradicts itself must not go on signing. Input from clients, peers and
// disks never reaches one: that is refused with an error.
//
//   CIVIC_ASSERT(receipt.index < end);
//   CIVIC_ASSERT_EQ(batch.first_index, tree_size);   // prints both values
#pragma once

#include <sstream>
#include <string>

namespace civic::detail {

[[noreturn]] void assertion_failed(const char* expression, const std::string& values,
                                   const char* file, int line);

template <class A, class B>
std::string both_values(const A& a, const B& b) {
    std::ostringstream out;
    out << a << " against " << b;
    return out.str();
}

} // namespace civic::detail

#define CIVIC_ASSERT(condition)                                                                    \
    ((condition)                                                                                   \
         ? static_cast<void>(0)                                                                    \
         : ::civic::detail::assertion_failed(#condition, std::string(), __FILE__, __LINE__))

#define CIVIC_ASSERT_OP(a, op, b)                                                                  \
    do {                                                                                           \
        const auto& civic_assert_a_ = (a);                                                         \
        const auto& civic_assert_b_ = (b);                                                         \
        if (!(civic_assert_a_ op civic_assert_b_))                                                 \
            ::civic::detail::assertion_failed(                                                     \
                #a " " #op " " #b, ::civic::detail::both_values(civic_assert_a_, civic_assert_b_), \
                __FILE__, __LINE__);                                                               \
    } while (false)

#define CIVIC_ASSERT_EQ(a, b) CIVIC_ASSERT_OP(a, ==, b)
#define CIVIC_ASSERT_LT(a, b) CIVIC_ASSERT_OP(a, <, b)
#define CIVIC_ASSERT_LE(a, b) CIVIC_ASSERT_OP(a, <=, b)
