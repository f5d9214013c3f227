// The C2SP tlog-tiles v0.1.0 read API: GET /checkpoint, /tile/<L>/<N>[.p/<W>]
// and /tile/entries/<N>[.p/<W>], exactly as the spec says (content types,
// caching headers, 404 for tiles the tree does not have).
#pragma once

#include "node/http/server.hpp"

#include <string>

namespace civic::node::api {

/// The GET /checkpoint answer for a signed checkpoint.
http_response checkpoint_response(std::string signed_checkpoint);

/// The 503 answer for a damaged read (what: the checked read's error).
http_response damaged_response(const std::string& what);

} // namespace civic::node::api
