// `civic-attest simulate`: the simulator's command line (see simulation.hpp).
#pragma once

#include "node/sim/simulation.hpp"
#include "protocol/result.hpp"

#include <boost/program_options.hpp>

#include <iosfwd>
#include <string>

namespace civic::node {

void describe_simulate(boost::program_options::options_description& o);
int run_simulate(const boost::program_options::variables_map& vm, std::ostream& out,
                 std::ostream& err);

/// A duration: a decimal number and a unit (us, ms, s, m, h), e.g. "1h", "250ms",
/// "-2s" (negative only with `allow_negative`).
result<sim_duration> parse_sim_duration(const std::string& text, bool allow_negative = false);

} // namespace civic::node
