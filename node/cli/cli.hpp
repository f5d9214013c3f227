// The civic-attest command line: subcommands, each with --help.
#pragma once

#include "node/cli/exit_code.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace civic::node {

/// Runs `civic-attest <args...>` (args exclude the program name). Results a
/// script may capture (keys, vkeys) go to `out`; everything else to `err`.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

} // namespace civic::node
