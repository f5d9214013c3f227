// The bridge actor (see bridge_actor in actors.hpp).
#pragma once

#include "actors/actors.hpp"

namespace civic::actors {

bridge_actor::behavior_type bridge(bridge_actor::pointer self);

} // namespace civic::actors
