#include "actors/bridge.hpp"

namespace civic::actors {

bridge_actor::behavior_type bridge(bridge_actor::pointer self) {
    return {
        [self](bridge_job& job) { job.run(self); },
    };
}

} // namespace civic::actors
