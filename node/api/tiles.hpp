// The C2SP tlog-tiles v0.1.0 read API, served from the ledger store.
#pragma once

#include "node/http/server.hpp"
#include "storage/ledger_store.hpp"

#include <functional>
#include <optional>
#include <string>

namespace civic::node {

/// Answers GET /checkpoint, /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>]
/// exactly as tlog-tiles says (content types, caching headers, 404 for tiles the
/// tree does not have). Returns nothing for any other path.
/// The GET /checkpoint answer for a signed checkpoint.
http_response checkpoint_response(std::string signed_checkpoint);

/// What a node does when a read finds its store damaged: logs, counts.
using damage_reporter = std::function<void(const std::string& what)>;

/// The 503 answer for a damaged read (what: the checked read's error).
http_response damaged_response(const std::string& what);

/// Entry bundles and hash tiles are served only as checked against the store's
/// verified tree (ledger_store::checked_entry_bundle, verified_tiles): a mismatch
/// is a 503 "damaged", reported to `on_damage`.
std::optional<http_response> serve_tiles(const storage::ledger_store& store,
                                         const http_request& req, const damage_reporter& on_damage);

} // namespace civic::node
