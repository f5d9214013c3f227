// Reading and writing files for the CLI, with the permission rules for secrets.
#pragma once

#include "protocol/note.hpp"
#include "protocol/result.hpp"

#include <initializer_list>
#include <string>
#include <string_view>

namespace civic::node {

/// Most bytes read from any one input file named on the command line.
constexpr std::size_t max_input_file = 64 * 1024 * 1024;

/// Reads a whole file (at most max_input_file bytes); errors name the file.
result<std::string> read_file(const std::string& path);
/// Creates `path` with mode 0600 from `pieces`, written in order without being
/// joined (secret text stays in the caller's buffers, which the caller wipes);
/// fsyncs the file and then its directory, so that once this returns the file
/// survives a power loss. Refuses to overwrite an existing file.
status write_secret_file(const std::string& path, std::initializer_list<std::string_view> pieces);
/// A secret key line: writes `secret` and a newline as above, then wipes `secret`.
status write_secret_key_file(const std::string& path, std::string& secret);
/// Appends `line` to `path` (created with mode 0600), then fsyncs it (and its
/// directory when it was new): a journal line survives a power loss.
status append_durably(const std::string& path, std::string_view line);
/// Replaces `path` with `content` (mode 0644) so that a reader, or a restart
/// after a power loss, finds the old file or the new one whole: writes
/// `path`.tmp, fsyncs it, renames it over `path`, fsyncs the directory.
status replace_file_durably(const std::string& path, std::string_view content);
/// fsyncs the directory `path` (after creating, renaming or removing a file in it).
status sync_directory(const std::string& path);
/// Reads a secret file, refusing one that group or others may read.
result<std::string> read_secret_file(const std::string& path);
/// Reads a secret key file (its first line is a PRIVATE+KEY string); the file's
/// text is wiped after parsing; errors name the file.
result<note::signer_key> read_signer_key_file(const std::string& path);

} // namespace civic::node
