#include "actors/scrubber.hpp"

#include "actors/backoff.hpp"
#include "actors/errors.hpp"

#include <caf/actor_cast.hpp>

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

/// Takes in the ranges the store knows as damaged (found by the scrub or by a
/// read), forgets healed ones, and sets the heal timer for the earliest due.
void plan_heals(scrubber_pointer self) {
    auto& st = self->state;
    auto known = st.store->damaged_ranges();
    for (auto it = st.heals.begin(); it != st.heals.end();)
        it = std::binary_search(known.begin(), known.end(), it->first) ? std::next(it)
                                                                       : st.heals.erase(it);
    const auto now = self->clock().now();
    for (const auto& r : known)
        st.heals.try_emplace(r, scrubber_state::heal_plan{0, now, false});
    if (st.heal_scheduled || st.fetching || st.heals.empty()) return;
    auto due = st.heals.begin()->second.next_try;
    for (const auto& [r, plan] : st.heals)
        due = std::min(due, plan.next_try);
    st.heal_scheduled = true;
    self->delayed_send(self, std::max<caf::timespan>(due - now, std::chrono::microseconds(1)),
                       atoms::heal_atom_v);
}

void healed(scrubber_pointer self, const storage::damaged_range& r, const char* source) {
    auto& st = self->state;
    ++st.counters.healed;
    st.heals.erase(r);
    if (st.config.on_healed) st.config.on_healed(r, source);
    plan_heals(self);
}

void not_healed(scrubber_pointer self, const storage::damaged_range& r, const std::string& why) {
    auto& st = self->state;
    auto it = st.heals.find(r);
    if (it != st.heals.end()) {
        auto& plan = it->second;
        ++plan.failures;
        plan.next_try = self->clock().now() + backoff_delay(st.config.heal_backoff_initial,
                                                            st.config.heal_backoff_max,
                                                            plan.failures, st.jitter);
        if (!plan.reported && st.config.on_not_healed) st.config.on_not_healed(r, why);
        plan.reported = true;
    }
    plan_heals(self);
}

/// This store's own entries of entry tile N, as stored (the heal checks them).
std::vector<bytes> own_entries(const storage::ledger_store& store, std::uint64_t tile_index,
                               std::uint64_t width) {
    std::vector<bytes> out;
    for (std::uint64_t i = 0; i < width; ++i) {
        auto e = store.entry(tile_index * tiles::tile_width + i);
        if (!e || !*e) return {};
        out.push_back(std::move(**e));
    }
    return out;
}

/// Tries to heal one damaged range that is due: from this store's entries,
/// else from the leader's.
void heal_one(scrubber_pointer self) {
    auto& st = self->state;
    st.heal_scheduled = false;
    if (st.fetching) return;
    const auto now = self->clock().now();
    auto it = std::find_if(st.heals.begin(), st.heals.end(),
                           [now](const auto& h) { return h.second.next_try <= now; });
    if (it == st.heals.end()) return plan_heals(self);
    const auto range = it->first;
    if (!range.entries && range.level > 0) {
        // Made of the tiles one level down: healed here or not at all.
        if (auto ok = st.store->heal_hash_tile(range.level, range.index); !ok)
            return not_healed(self, range, ok.message());
        return healed(self, range, "local");
    }
    const std::uint64_t size = st.store->verified_size();
    const std::uint64_t first = range.index * tiles::tile_width;
    if (first >= size) return not_healed(self, range, "beyond the verified tree");
    const auto width = std::min<std::uint64_t>(tiles::tile_width, size - first);
    // Whole entries rebuild a damaged tile; the heal takes only entries that
    // make the verified tree.
    auto own = own_entries(*st.store, range.index, width);
    if (!own.empty() && st.store->heal_entry_tile(range.index, own)) {
        // The entries and the level-0 tile of that range are both whole now.
        st.heals.erase(storage::damaged_range::entries_of(range.index));
        st.heals.erase(storage::damaged_range::tile(0, range.index));
        return healed(self, range, "local");
    }
    if (!st.config.can_fetch)
        return not_healed(self, range, "this node leads: there is no copy to fetch from");
    auto uplink = st.config.actors ? st.config.actors->get(slots::uplink) : uplink_actor{};
    if (!uplink) return not_healed(self, range, "no uplink to the leader");
    st.fetching = true;
    self->request(uplink, st.config.fetch_timeout, atoms::fetch_atom_v, first, width)
        .then(
            [self, range, first](const replicated_batch& b) {
                auto& s = self->state;
                s.fetching = false;
                if (b.first_index != first)
                    return not_healed(self, range, "the leader answered other entries");
                if (auto ok = s.store->heal_entry_tile(range.index, b.entries); !ok)
                    return not_healed(self, range, ok.message());
                s.heals.erase(storage::damaged_range::entries_of(range.index));
                s.heals.erase(storage::damaged_range::tile(0, range.index));
                healed(self, range, "leader");
            },
            [self, range](caf::error& e) {
                self->state.fetching = false;
                not_healed(self, range, "fetching from the leader: " + message_of(e));
            });
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
    plan_heals(self);
    schedule(self, scrub_pause(width, st.config.entries_per_second));
}

} // namespace

scrubber_actor::behavior_type scrubber(scrubber_pointer self, scrubber_config config,
                                       std::shared_ptr<storage::ledger_store> store) {
    auto& st = self->state;
    st.config = std::move(config);
    st.store = std::move(store);
    st.jitter.seed(static_cast<std::minstd_rand::result_type>(st.config.seed % 2147483647 + 1));
    st.counters.entries_per_second = st.config.entries_per_second;
    if (st.config.entries_per_second > 0) self->send(self, atoms::tick_atom_v);
    return {
        [self](atoms::tick_atom) { step(self); },
        [self](atoms::heal_atom) { heal_one(self); },
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
