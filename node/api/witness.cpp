// A witness's answers: C2SP tlog-witness add-checkpoint, its status, and the
// split-view evidence a node holds (as a witness or through gossip).
#include "protocol/witness.hpp"

#include "node/api/handlers.hpp"

#include <algorithm>
#include <map>

namespace civic::node::api {
namespace {

/// The add-checkpoint answer, exactly as tlog-witness says: the cosignature
/// (200), the witness's size (409, text/x.tlog.size), or the status with a
/// JSON error.
http_response cosign_response(const actors::cosign_answer& a) {
    if (a.status == 200) {
        http_response r;
        r.content_type = "text/plain; charset=utf-8";
        r.body = a.body;
        return r;
    }
    if (a.size_body) {
        http_response r;
        r.status = 409;
        r.content_type = "text/x.tlog.size";
        r.body = a.body;
        return r;
    }
    static const std::map<unsigned, const char*> codes{
        {400, "bad_request"},  {403, "forbidden"},    {404, "unknown_origin"}, {409, "conflict"},
        {422, "inconsistent"}, {429, "rate_limited"}, {503, "unavailable"}};
    auto code = codes.find(a.status);
    auto message = a.body;
    while (!message.empty() && message.back() == '\n')
        message.pop_back();
    auto r = json_error(a.status, code == codes.end() ? "error" : code->second, message);
    // 429: beyond the log's requests a day; 503: e.g. a full disk.
    if (a.status == 429 || a.status == 503)
        r.headers.push_back(
            {"Retry-After", std::to_string(std::max<std::uint32_t>(a.retry_after_s, 1))});
    return r;
}

} // namespace

void witness_add_checkpoint(context& cx, const call& c, http_respond respond) {
    auto parsed = witness::parse_add_checkpoint(c.request.body);
    if (!parsed) return respond(json_error(400, "bad_request", parsed.message()));
    actors::cosign_request request{parsed->old_size, {}, std::move(parsed->checkpoint)};
    for (const auto& h : parsed->proof)
        request.proof.insert(request.proof.end(), h.begin(), h.end());
    cx.ops.add_checkpoint(
        std::move(request),
        [respond](const actors::cosign_answer& a) { respond(cosign_response(a)); },
        [respond](const failure& f) { respond(failure_response(f)); });
}

void serve_cosigned_checkpoint(context& cx, const call& c, http_respond respond) {
    const auto& hash = c.wildcard;
    auto lower_hex = [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); };
    if (hash.size() != 64 || !std::all_of(hash.begin(), hash.end(), lower_hex))
        return respond(json_error(404, "not_found",
                                  "no such endpoint: a log is named by the lowercase hex SHA-256 "
                                  "of its origin, /<64 hex digits>/checkpoint"));
    cx.ops.cosigned_checkpoint(
        hash,
        [respond](const std::string& note) {
            http_response r;
            r.content_type = "text/plain; charset=utf-8";
            r.body = note;
            respond(std::move(r));
        },
        [respond](const failure& f) { respond(failure_response(f)); });
}

void show_witness_status(context& cx, const call&, http_respond respond) {
    auto node = cx.ops.facts().node_name;
    cx.ops.witness_status(
        [respond, node](const actors::witness_status& w) {
            json logs = json::array();
            for (std::size_t i = 0; i < w.origins.size(); ++i) {
                json log{{"origin", w.origins[i]}, {"cosigned_size", w.sizes[i]}};
                if (!w.halted[i].empty()) log["halted"] = w.halted[i];
                logs.push_back(std::move(log));
            }
            json out{{"node", node},
                     {"role", "witness"},
                     {"witness", w.name},
                     {"logs", logs},
                     {"cosigned", w.cosigned},
                     {"refused", w.refused},
                     {"evidence", w.evidence},
                     {"writable", w.read_only_reason.empty()},
                     {"rate_limited", w.rate_limited},
                     {"trusted_logs", w.trusted_logs}};
            if (!w.read_only_reason.empty()) out["read_only_reason"] = w.read_only_reason;
            respond(json_ok(std::move(out)));
        },
        [respond](const failure& f) { respond(failure_response(f)); });
}

http_response list_evidence(context& cx, const call& c) {
    std::uint64_t from = 0;
    if (auto text = c.target.param("from")) {
        auto n = parse_decimal(*text);
        if (!n) return json_error(400, "bad_request", "'from': " + n.message());
        from = *n;
    }
    constexpr std::size_t page = 100;
    auto held = cx.ops.evidence(from, page);
    if (!held) return json_error(503, "storage", held.message());
    json items = json::array();
    for (const auto& r : held->records)
        items.push_back({{"origin", r.origin},
                         {"kind", r.kind},
                         {"shown_by", r.source},
                         {"ours", r.ours},
                         {"theirs", r.theirs},
                         {"root_at_smaller", r.root_at_smaller},
                         {"proof", r.proof}});
    return json_ok({{"total", held->total}, {"from", from}, {"evidence", items}});
}

} // namespace civic::node::api
