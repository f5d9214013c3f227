#include "node/sim/scheduler.hpp"

#include "actors/signer.hpp"
#include "node/sim/network.hpp"

#include <algorithm>
#include <vector>

namespace civic::node::sim {

bool scheduler::is_stalled(sim_node& n, caf::resumable* job) {
    if (n.silenced && job == n.silenced_job) return true; // a hung witness
    if (options_.fsync.count() <= 0 || n.writers.count(job) == 0) return false;
    // A writer's next message waits for the disk: an fsync takes `fsync`.
    auto it = n.disk_ready.find(job);
    if (it == n.disk_ready.end()) {
        auto ready = clock_.now() + options_.fsync;
        n.disk_ready.emplace(job, ready);
        clock_.at(ready, [] {}); // wakes the loop then
        return true;
    }
    return clock_.now() < it->second;
}

void scheduler::run_job(sim_node& n, std::size_t runnable) {
    // The seed decides which runnable actor goes next.
    auto& jobs = n.sched->jobs;
    auto nth = random_.below(runnable);
    std::size_t pick = 0;
    for (;; ++pick)
        if (!is_stalled(n, jobs[pick]) && nth-- == 0) break;
    auto* job = jobs[pick];
    if (pick != 0)
        std::rotate(jobs.begin(), jobs.begin() + static_cast<std::ptrdiff_t>(pick),
                    jobs.begin() + static_cast<std::ptrdiff_t>(pick) + 1);
    n.sched->run_once();
    n.disk_ready.erase(job);
    if (job == n.middleman_job) net_.detect_connects(n);
}

bool scheduler::step(sim_node& n) {
    if (n.silenced)
        n.silenced_job = dynamic_cast<caf::resumable*>(
            caf::actor_cast<caf::abstract_actor*>(n.tree.directory->get(actors::slots::witness)));
    std::size_t runnable = 0;
    for (auto* job : n.sched->jobs)
        if (!is_stalled(n, job)) ++runnable;
    bool prefer_jobs = (random_.next() & 1) != 0;
    if (runnable > 0 && prefer_jobs) {
        run_job(n, runnable);
        return true;
    }
    if (n.mpx->try_exec_runnable()) {
        net_.detect_connects(n);
        net_.collect_output(n);
        return true;
    }
    if (runnable > 0) {
        run_job(n, runnable);
        return true;
    }
    return false;
}

void scheduler::run_until_quiet() {
    std::vector<sim_node*> busy;
    for (auto& n : nodes_)
        if (n->up) busy.push_back(n.get());
    while (!busy.empty()) {
        auto i = random_.below(busy.size());
        if (!step(*busy[i])) {
            busy[i] = busy.back();
            busy.pop_back();
        }
    }
}

std::optional<time_point> scheduler::next_timer() const {
    std::optional<time_point> next;
    for (const auto& n : nodes_) {
        if (!n->up) continue;
        const auto& schedule = n->sched->clock().schedule();
        if (!schedule.empty() && (!next || schedule.begin()->first < *next))
            next = schedule.begin()->first;
    }
    return next;
}

void scheduler::advance_to(time_point t) {
    clock_.set(t);
    for (auto& n : nodes_) {
        if (!n->up) continue;
        auto& clock = n->sched->clock();
        clock.advance_time(clock_.now() - clock.current_time);
    }
}

} // namespace civic::node::sim
