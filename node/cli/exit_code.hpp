// The exit codes of every civic-attest command.
#pragma once

namespace civic::node {

/// Exit codes: 0 success, 1 a check failed or a runtime error, 2 bad usage or input.
enum exit_code : int { exit_ok = 0, exit_failed = 1, exit_usage = 2 };

} // namespace civic::node
