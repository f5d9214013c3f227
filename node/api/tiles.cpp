#include "node/api/tiles.hpp"

#include "protocol/tiles.hpp"

namespace civic::node {
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

std::optional<http_response> serve_tiles(const storage::ledger_store& store,
                                         const http_request& req,
                                         const damage_reporter& on_damage) {
    std::string_view path(req.target);
    path = path.substr(0, path.find('?'));
    bool is_checkpoint = path == "/checkpoint";
    bool is_tile = path.substr(0, 6) == "/tile/";
    if (!is_checkpoint && !is_tile) return std::nullopt;
    if (req.method != "GET")
        return json_error(405, "method_not_allowed", "only GET is allowed here");

    if (is_checkpoint) {
        auto latest = store.latest_checkpoint();
        if (!latest) return json_error(503, "storage", latest.message());
        if (!*latest) return json_error(404, "not_found", "the log has no checkpoint yet");
        return checkpoint_response(std::move(**latest));
    }

    auto parsed = tiles::parse_tile_path(path.substr(1));
    if (!parsed) return json_error(400, "bad_tile_path", parsed.message());
    auto size = store.verified_size();
    auto tile = parsed->tile;
    if (!within_tree(tile, size))
        return json_error(404, "not_found",
                          "the tree has no such tile at size " + std::to_string(size));
    auto failed = [&](const error& e) {
        if (!storage::is_damage(e)) return json_error(503, "storage", e.message);
        on_damage(e.message);
        return damaged_response(e.message);
    };
    if (parsed->entries) {
        auto bundle = store.checked_entry_bundle(tile.index, tile.width);
        if (!bundle) return failed(bundle.err());
        return octets(std::string(bundle->begin(), bundle->end()));
    }
    std::vector<std::vector<hash>> content;
    if (auto ok = store.verified_tiles().read_tiles({tile}, content); !ok) return failed(ok.err());
    std::string body;
    body.reserve(content[0].size() * 32);
    for (const auto& h : content[0])
        body.append(reinterpret_cast<const char*>(h.data()), h.size());
    return octets(std::move(body));
}

} // namespace civic::node
