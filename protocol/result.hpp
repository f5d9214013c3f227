// result<T>: a value or an error message, for everything that parses or checks
// input from outside. The protocol layer never lets an exception escape a parser.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace civic {

/// An error with a human-readable message naming what was wrong.
struct error {
    std::string message;
};

inline error make_error(std::string message) { return error{std::move(message)}; }

/// Either a T or an error. Cheap to move; check before use.
template <class T>
class [[nodiscard]] result {
public:
    result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    result(error err) : state_(std::in_place_index<1>, std::move(err)) {}

    bool ok() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const error& err() const& { return std::get<1>(state_); }
    error&& err() && { return std::get<1>(std::move(state_)); }
    const std::string& message() const { return err().message; }

private:
    std::variant<T, error> state_;
};

/// A success or an error.
template <>
class [[nodiscard]] result<void> {
public:
    result() = default;
    result(error err) : err_(std::move(err)), failed_(true) {}

    bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }
    const error& err() const& { return err_; }
    error&& err() && { return std::move(err_); }
    const std::string& message() const { return err_.message; }

private:
    error err_;
    bool failed_ = false;
};

using status = result<void>;

/// Prefixes an error message with context ("checkpoint: " + message).
inline error with_context(const std::string& context, const error& e) {
    return error{context + ": " + e.message};
}

} // namespace civic

/// Evaluates a result-returning expression; returns its error from the enclosing
/// function when it failed, else binds the value to `var`.
#define CIVIC_TRY_ASSIGN(var, expr)                                                                \
    auto var##_result_ = (expr);                                                                   \
    if (!var##_result_) return std::move(var##_result_).err();                                     \
    auto var = std::move(var##_result_).value()

/// Evaluates a status-returning expression; returns its error when it failed.
#define CIVIC_TRY(expr)                                                                            \
    do {                                                                                           \
        auto civic_status_ = (expr);                                                               \
        if (!civic_status_) return std::move(civic_status_).err();                                 \
    } while (false)
