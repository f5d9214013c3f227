// The witness network's log list (logs/v0, ../shared/specs/log-list-format.md):
// the logs a witness cosigns, each with its verifier key, its origin and how
// many add-checkpoint requests it may make a day. A list is outside input: a
// bad item is reported with its line and skipped, and the rest stays usable.
#pragma once

#include "protocol/note.hpp"
#include "protocol/result.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace civic::witness {

/// Limits: the public lists hold tens of logs; a list is refused above these.
constexpr std::size_t max_log_list_size = 16 << 20;
constexpr std::size_t max_listed_logs = 100000;
/// The format's range for qpd: [1, 2^31).
constexpr std::uint64_t max_qpd = (std::uint64_t{1} << 31) - 1;

struct listed_log {
    note::vkey key;     // Ed25519 (alg 1) only, as the format requires
    std::string origin; // the key name unless an `origin` line says otherwise
    std::uint32_t qpd = 0;
    std::string contact;
    std::size_t line = 0; // where its `vkey` line is (1-based)
};

struct log_list_problem {
    std::size_t line = 0; // 1-based
    std::string message;
};

struct log_list {
    std::vector<listed_log> logs;           // in list order, origins unique
    std::vector<log_list_problem> problems; // items skipped, each with its line
};

/// Parses a list. Fails only when it is not a list at all (too large, no
/// `logs/v0` header); a bad item is a problem and is skipped up to the next
/// `vkey` line, and an origin listed again keeps its first item.
result<log_list> parse_log_list(std::string_view text);

} // namespace civic::witness
