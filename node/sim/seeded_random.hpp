// The simulation's one source of randomness: latencies, losses, the workload
// and the order of runnable jobs all draw from it, in the order the run loop
// meets them, so one seed gives one run.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

namespace civic::node::sim {

/// xoshiro-like quality is not needed, only determinism and speed;
/// std::mt19937_64 is specified exactly by the standard.
class seeded_random {
public:
    explicit seeded_random(std::uint64_t seed) : gen_(seed) {}
    std::uint64_t next() { return gen_(); }
    /// Uniform in [0, n).
    std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(gen_() % n); }
    /// Uniform in [0, 1).
    double unit() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
    /// Normal (Box-Muller; the standard's distributions are not specified exactly).
    double normal(double mean, double deviation) {
        double u1 = std::max(unit(), 1e-300), u2 = unit();
        return mean + deviation * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    /// Exponential with the given mean.
    double exponential(double mean) { return -mean * std::log(std::max(1.0 - unit(), 1e-300)); }

private:
    std::mt19937_64 gen_;
};

} // namespace civic::node::sim
