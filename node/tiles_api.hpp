// The C2SP tlog-tiles v0.1.0 read API, served from the ledger store.
#pragma once

#include "node/http_server.hpp"
#include "storage/ledger_store.hpp"

#include <optional>

namespace civic::node {

/// Answers GET /checkpoint, /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>]
/// exactly as tlog-tiles says (content types, caching headers, 404 for tiles the
/// tree does not have). Returns nothing for any other path.
/// The GET /checkpoint answer for a signed checkpoint.
http_response checkpoint_response(std::string signed_checkpoint);

std::optional<http_response> serve_tiles(const storage::ledger_store& store,
                                         const http_request& req);

} // namespace civic::node
