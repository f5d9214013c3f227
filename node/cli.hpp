// The civic-attest command line: subcommands, each with --help.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace civic::node {

/// Exit codes: 0 success, 1 a check failed or a runtime error, 2 bad usage or input.
enum exit_code : int { exit_ok = 0, exit_failed = 1, exit_usage = 2 };

/// Runs `civic-attest <args...>` (args exclude the program name). Results a
/// script may capture (keys, vkeys) go to `out`; everything else to `err`.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

} // namespace civic::node
