#include "node/api/tiles.hpp"

#include "node/api/handlers.hpp"
#include "protocol/tiles.hpp"
#include "storage/ledger_store.hpp"

namespace civic::node::api {
namespace {

// Tiles never change once they exist: cache for a year. The checkpoint changes
// with every batch: the spec asks for no caching beyond a few seconds.
const std::pair<std::string, std::string> immutable{"Cache-Control",
                                                    "public, max-age=31536000, immutable"};
const std::pair<std::string, std::string> mutable_briefly{"Cache-Control", "no-cache, max-age=1"};

http_response with_body(std::string content_type, std::string body,
                        const std::pair<std::string, std::string>& cache) {
    http_response r;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    r.headers.push_back(cache);
    return r;
}

http_response octets(std::string body) {
    return with_body("application/octet-stream", std::move(body), immutable);
}

// A tile (or bundle) exists if the tree has every hash it names: a full tile below
// the edge, or a prefix of the rightmost tile no wider than the tree has. (Stored
// tiles only grow, so any such prefix is the partial tile of some past checkpoint.)
bool within_tree(const tiles::tile_id& tile, std::uint64_t size) {
    unsigned shift = tiles::tile_height * tile.level;
    if (shift >= 64) return false;
    std::uint64_t hashes = size >> shift;
    if (tile.index > hashes / tiles::tile_width) return false;
    return tile.index * tiles::tile_width + tile.width <= hashes;
}

} // namespace

http_response damaged_response(const std::string& what) {
    auto message = what;
    if (auto at = message.find(storage::damage_marker); at != std::string::npos)
        message.erase(0, at + std::string_view(storage::damage_marker).size());
    auto r = json_error(503, "damaged", "this node's store is damaged: " + message);
    r.headers.push_back({"Retry-After", "60"});
    return r;
}

http_response checkpoint_response(std::string signed_checkpoint) {
    return with_body("text/plain; charset=utf-8", std::move(signed_checkpoint), mutable_briefly);
}

void serve_checkpoint(context& cx, const call&, http_respond respond) {
    with_published_checkpoint(
        cx.ops, [respond](std::string text) { respond(checkpoint_response(std::move(text))); },
        respond);
}

void with_published_checkpoint(operations& ops, std::function<void(std::string)> done,
                               http_respond respond) {
    const auto& facts = ops.facts();
    if (!facts.leading || (!facts.gated && !facts.collecting)) {
        auto latest = ops.latest_checkpoint();
        if (!latest) return respond(json_error(503, "storage", latest.message()));
        if (!*latest) return respond(json_error(404, "not_found", "the log has no checkpoint yet"));
        return done(std::move(**latest));
    }
    // A leader with replicas publishes only checkpoints whose batch enough
    // replicas hold: a newer one in its store may belong to a history that dies
    // with it (a crash before replication, then a promotion elsewhere). With
    // witnesses: the newest the collector published, with its cosignatures.
    auto* node = &ops;
    auto from_ledger = [node, done, respond]() {
        node->checkpoint(
            checkpoint_source::ledger, [done](const std::string& text) { done(text); },
            [respond](const failure& f) { respond(failure_response(f)); });
    };
    if (!facts.collecting) return from_ledger();
    ops.checkpoint(
        checkpoint_source::collected, [done](const std::string& text) { done(text); },
        [from_ledger](const failure&) { from_ledger(); });
}

http_response serve_tile(context& cx, const call& c) {
    auto& ops = cx.ops;
    auto parsed = tiles::parse_tile_path(std::string_view(c.target.path).substr(1));
    if (!parsed) return json_error(400, "bad_tile_path", parsed.message());
    auto size = ops.verified_size();
    auto tile = parsed->tile;
    if (!within_tree(tile, size))
        return json_error(404, "not_found",
                          "the tree has no such tile at size " + std::to_string(size));
    // Served only as checked against the verified tree: a mismatch is a 503
    // "damaged", reported.
    if (parsed->entries) {
        auto bundle = ops.checked_entry_bundle(tile.index, tile.width);
        if (!bundle) return read_failed(ops, bundle.err());
        return octets(std::string(bundle->begin(), bundle->end()));
    }
    std::vector<std::vector<hash>> content;
    if (auto ok = ops.verified_tiles().read_tiles({tile}, content); !ok)
        return read_failed(ops, ok.err());
    std::string body;
    body.reserve(content[0].size() * 32);
    for (const auto& h : content[0])
        body.append(reinterpret_cast<const char*>(h.data()), h.size());
    return octets(std::move(body));
}

} // namespace civic::node::api
