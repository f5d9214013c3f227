#include "actors/supervisor.hpp"

#include "actors/errors.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

namespace civic::actors {
namespace {

void stop_children(supervisor_state& st) {
    for (auto& c : st.children)
        if (c.handle) caf::anon_send_exit(c.handle, caf::exit_reason::user_shutdown);
}

void start_child(supervisor_pointer self, supervisor_state::child& c) {
    c.handle = c.spec.start(self->home_system());
    self->monitor(c.handle);
    if (self->state.config.on_start) self->state.config.on_start(c.spec.name, c.handle);
}

} // namespace

caf::actor failed_start(caf::actor_system& sys, std::string why) {
    return sys.spawn([why](caf::event_based_actor* self) {
        self->quit(make_error(errc::storage_failure, why));
    });
}

supervisor_actor::behavior_type supervisor(supervisor_pointer self, supervisor_config config) {
    auto& st = self->state;
    st.config = config;
    for (auto& spec : config.children) {
        st.children.push_back({spec, nullptr, {}});
        start_child(self, st.children.back());
    }
    self->set_down_handler([self](caf::down_msg& msg) {
        auto& s = self->state;
        for (std::size_t i = 0; i < s.children.size(); ++i) {
            auto& c = s.children[i];
            if (!c.handle || c.handle.address() != msg.source) continue;
            c.handle = nullptr;
            // A child that stopped cleanly (a shutdown) stays stopped.
            if (!msg.reason || msg.reason == caf::exit_reason::user_shutdown) return;
            auto now = self->clock().now();
            while (!c.restarts.empty() && now - c.restarts.front() > s.config.window)
                c.restarts.pop_front();
            const auto& log = *s.config.log;
            if (c.restarts.size() >= s.config.max_restarts) {
                // Restarting is not helping: escalate with the child's own reason.
                log.error("supervisor", "gave up restarting an actor",
                          {{"child", c.spec.name},
                           {"reason", message_of(msg.reason)},
                           {"restarts", c.restarts.size()},
                           {"window_ms", s.config.window.count()}});
                stop_children(s);
                self->quit(msg.reason);
                return;
            }
            c.restarts.push_back(now);
            log.warn("supervisor", "restarting an actor",
                     {{"child", c.spec.name},
                      {"reason", message_of(msg.reason)},
                      {"restart", c.restarts.size()},
                      {"of", s.config.max_restarts},
                      {"strategy", s.config.strategy == restart_strategy::one_for_one
                                       ? "one_for_one"
                                       : "rest_for_one"}});
            if (s.config.strategy == restart_strategy::one_for_one) {
                start_child(self, c);
                return;
            }
            // Rest-for-one: the children after it were made with its old handle.
            // They stop (demonitored: their exits are ours, not failures) and
            // start again in order, each factory seeing the new handles.
            for (auto j = s.children.size(); j-- > i + 1;) {
                auto& later = s.children[j];
                if (!later.handle) continue;
                self->demonitor(later.handle);
                caf::anon_send_exit(later.handle, caf::exit_reason::kill);
                later.handle = nullptr;
            }
            for (auto j = i; j < s.children.size(); ++j)
                start_child(self, s.children[j]);
            return;
        }
    });
    // Asked to stop (by its own supervisor, or at shutdown): its children go first.
    self->set_exit_handler([self](caf::exit_msg& msg) {
        stop_children(self->state);
        self->quit(msg.reason);
    });
    return {
        [self](atoms::child_atom, const std::string& name) -> caf::result<caf::actor> {
            for (auto& c : self->state.children)
                if (c.spec.name == name && c.handle) return c.handle;
            return make_error(errc::unknown_key, "no running child '" + name + "'");
        },
    };
}

} // namespace civic::actors
