// Reading and writing files for the CLI, with the permission rules for secrets.
#pragma once

#include "protocol/note.hpp"
#include "protocol/result.hpp"

#include <string>

namespace civic::node {

/// Most bytes read from any one input file named on the command line.
constexpr std::size_t max_input_file = 64 * 1024 * 1024;

/// Reads a whole file (at most max_input_file bytes); errors name the file.
result<std::string> read_file(const std::string& path);
/// Creates `path` with mode 0600; refuses to overwrite an existing file.
status write_secret_file(const std::string& path, const std::string& content);
/// Reads a secret file, refusing one that group or others may read.
result<std::string> read_secret_file(const std::string& path);
/// Reads a secret key file (its first line is a PRIVATE+KEY string); the file's
/// text is wiped after parsing; errors name the file.
result<note::signer_key> read_signer_key_file(const std::string& path);

} // namespace civic::node
