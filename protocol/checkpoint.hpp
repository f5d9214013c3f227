// C2SP tlog-checkpoint v1.0.0: the note text of a signed tree head.
#pragma once

#include "protocol/note.hpp"
#include "protocol/sha256.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace civic {

struct checkpoint {
    std::string origin;
    std::uint64_t size = 0;
    hash root{};
    std::vector<std::string> extensions; // opaque, each non-empty

    /// "<origin>\n<size>\n<base64 root>\n[<extension>\n...]".
    std::string text() const;
    friend bool operator==(const checkpoint& a, const checkpoint& b) {
        return a.origin == b.origin && a.size == b.size && a.root == b.root &&
               a.extensions == b.extensions;
    }
};

/// Most extension lines we accept (the spec sets none; they are discouraged).
constexpr std::size_t max_checkpoint_extensions = 16;

/// Parses a checkpoint note text (no signature lines).
result<checkpoint> parse_checkpoint(std::string_view text);

/// A checkpoint together with its signed note.
struct signed_checkpoint {
    checkpoint body;
    note::note signed_note;
};

/// Parses a signed note and its checkpoint body (signatures not yet verified).
result<signed_checkpoint> parse_signed_checkpoint(std::string_view input);

} // namespace civic
