#include "actors/scrubber.hpp"

#include <algorithm>

namespace civic::actors {

std::chrono::microseconds scrub_pause(std::uint64_t entries, std::uint64_t per_second) {
    if (per_second == 0) return std::chrono::microseconds(0);
    // Rounded up: the bound holds however the steps fall.
    return std::chrono::microseconds((entries * 1000000 + per_second - 1) / per_second);
}

namespace {

/// How many damaged ranges /api/status names.
constexpr std::size_t listed_ranges = 16;

void schedule(scrubber_pointer self, caf::timespan after) {
    self->delayed_send(self, std::max<caf::timespan>(after, std::chrono::microseconds(1)),
                       atoms::tick_atom_v);
}

/// One step: one entry tile checked, then a pause that keeps the rate.
void step(scrubber_pointer self) {
    auto& st = self->state;
    const auto now = self->clock().now();
    const std::uint64_t size = st.store->verified_size();
    if (st.next_tile * tiles::tile_width >= size) {
        // The end of a pass (or an empty store): the next one starts one pass
        // interval after this one started.
        if (st.in_pass) {
            ++st.counters.passes;
            st.counters.last_pass_ms = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(now - st.pass_started)
                    .count());
        }
        st.in_pass = false;
        st.next_tile = 0;
        auto next = (size == 0 ? now : st.pass_started) + st.config.pass_interval;
        return schedule(self, next - now);
    }
    if (!st.in_pass) {
        st.in_pass = true;
        st.pass_started = now;
    }
    const auto width =
        std::min<std::uint64_t>(tiles::tile_width, size - st.next_tile * tiles::tile_width);
    // Damage is remembered (and reported) by the store; other failures (a read
    // that failed) are tried again on the next pass.
    if (auto ok = st.store->scrub_entry_tile(st.next_tile); !ok && storage::is_damage(ok.err()))
        ++st.counters.damage_found;
    st.counters.entries_checked += width;
    ++st.next_tile;
    if (st.config.on_scrubbed) st.config.on_scrubbed(width);
    schedule(self, scrub_pause(width, st.config.entries_per_second));
}

} // namespace

scrubber_actor::behavior_type scrubber(scrubber_pointer self, scrubber_config config,
                                       std::shared_ptr<const storage::ledger_store> store) {
    auto& st = self->state;
    st.config = std::move(config);
    st.store = std::move(store);
    st.counters.entries_per_second = st.config.entries_per_second;
    if (st.config.entries_per_second > 0) self->send(self, atoms::tick_atom_v);
    return {
        [self](atoms::tick_atom) { step(self); },
        [self](atoms::status_atom) {
            auto& s = self->state;
            auto out = s.counters;
            out.position = std::min(s.next_tile * tiles::tile_width, s.store->verified_size());
            auto ranges = s.store->damaged_ranges();
            out.damaged_ranges = ranges.size();
            for (std::size_t i = 0; i < ranges.size() && i < listed_ranges; ++i)
                out.damaged.push_back(ranges[i].name());
            return out;
        },
    };
}

} // namespace civic::actors
