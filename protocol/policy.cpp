#include "protocol/policy.hpp"

#include "protocol/sha256.hpp"

#include <algorithm>
#include <list>
#include <map>
#include <mutex>

namespace civic {
namespace {

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t')
            ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

bool allowed_octet(unsigned char c) { return c == '\t' || c == '\n' || (c >= 0x20 && c != 0x7F); }

} // namespace

bool policy::quorum_met(const std::vector<bool>& cosigned) const {
    switch (quorum) {
    case quorum_kind::none:
        return true;
    case quorum_kind::witness:
        return quorum_index < cosigned.size() && cosigned[quorum_index];
    case quorum_kind::group:
        break;
    }
    // Groups only name earlier groups, so one pass in definition order suffices.
    std::vector<bool> witnessed(groups.size(), false);
    for (std::size_t g = 0; g < groups.size(); ++g) {
        std::size_t count = 0;
        for (const auto& m : groups[g].members) {
            bool yes =
                m.is_group ? witnessed[m.index] : (m.index < cosigned.size() && cosigned[m.index]);
            count += yes;
        }
        witnessed[g] = count >= groups[g].threshold;
    }
    return witnessed[quorum_index];
}

namespace {

/// One pass over a policy's lines, one method per keyword; every error names
/// its line.
struct policy_parser {
    policy p;
    std::map<std::string, policy::member> names; // witnesses and groups share one namespace
    bool have_quorum = false;
    std::size_t line_no = 0;

    using fields_t = std::vector<std::string_view>;

    error fail(const std::string& what) const {
        return make_error("policy line " + std::to_string(line_no) + ": " + what);
    }

    status define_name(std::string_view name, policy::member m) {
        if (name == "none") return fail("the name 'none' is reserved");
        if (!names.emplace(std::string(name), m).second)
            return fail("name '" + std::string(name) + "' is already defined");
        return {};
    }

    result<note::vkey> parse_key(std::string_view key_text, std::uint8_t type,
                                 const char* role) const {
        auto key = note::parse_vkey(key_text);
        if (!key) return fail(std::string(role) + " key: " + key.message());
        if (key->type != type)
            return fail(std::string(role) + " key must have signature type " +
                        std::to_string(type) + ", not " + std::to_string(key->type));
        return key;
    }

    status line(std::string_view text) {
        for (char c : text)
            if (!allowed_octet(static_cast<unsigned char>(c)))
                return fail("control character not allowed");
        auto fields = split_fields(text);
        if (fields.empty() || fields[0][0] == '#') return {};
        auto keyword = fields[0];
        if (keyword == "log") return log_line(fields);
        if (keyword == "witness") return witness_line(fields);
        if (keyword == "group") return group_line(fields);
        if (keyword == "quorum") return quorum_line(fields);
        return fail("unknown keyword '" + std::string(keyword) + "'");
    }

    status log_line(const fields_t& fields) {
        if (fields.size() < 2 || fields.size() > 3) return fail("expected: log <vkey> [<url>]");
        if (p.logs.size() == max_policy_logs) return fail("too many logs");
        CIVIC_TRY_ASSIGN(key, parse_key(fields[1], note::type_ed25519, "log"));
        for (const auto& l : p.logs)
            if (l.key.public_key == key.public_key) return fail("duplicate log key");
        p.logs.push_back({std::move(key), fields.size() == 3 ? std::string(fields[2]) : ""});
        return {};
    }

    status witness_line(const fields_t& fields) {
        if (fields.size() < 3 || fields.size() > 4)
            return fail("expected: witness <name> <vkey> [<url>]");
        if (p.witnesses.size() == max_policy_witnesses) return fail("too many witnesses");
        CIVIC_TRY_ASSIGN(key, parse_key(fields[2], note::type_cosignature_v1, "witness"));
        for (const auto& w : p.witnesses)
            if (w.key.public_key == key.public_key) return fail("duplicate witness key");
        CIVIC_TRY(define_name(fields[1], {false, p.witnesses.size()}));
        p.witnesses.push_back({std::string(fields[1]), std::move(key),
                               fields.size() == 4 ? std::string(fields[3]) : ""});
        return {};
    }

    status group_line(const fields_t& fields) {
        if (fields.size() < 4) return fail("expected: group <name> all|any|<k> <name>...");
        if (p.groups.size() == max_policy_groups) return fail("too many groups");
        policy::group g;
        g.name = std::string(fields[1]);
        for (auto name = fields.begin() + 3; name != fields.end(); ++name) {
            auto it = names.find(std::string(*name));
            if (it == names.end())
                return fail("group member '" + std::string(*name) + "' is not defined above");
            for (const auto& m : g.members)
                if (m.is_group == it->second.is_group && m.index == it->second.index)
                    return fail("group member '" + std::string(*name) + "' is listed twice");
            g.members.push_back(it->second);
        }
        auto k = fields[2];
        if (k == "all") {
            g.threshold = g.members.size();
        } else if (k == "any") {
            g.threshold = 1;
        } else {
            auto v = parse_decimal(k, g.members.size());
            if (!v || *v == 0)
                return fail("group threshold must be all, any, or 1.." +
                            std::to_string(g.members.size()));
            g.threshold = static_cast<std::size_t>(*v);
        }
        CIVIC_TRY(define_name(fields[1], {true, p.groups.size()}));
        p.groups.push_back(std::move(g));
        return {};
    }

    status quorum_line(const fields_t& fields) {
        if (fields.size() != 2) return fail("expected: quorum <name>");
        if (have_quorum) return fail("more than one quorum line");
        have_quorum = true;
        if (fields[1] == "none") {
            p.quorum = policy::quorum_kind::none;
            return {};
        }
        auto it = names.find(std::string(fields[1]));
        if (it == names.end())
            return fail("quorum '" + std::string(fields[1]) + "' is not defined above");
        p.quorum = it->second.is_group ? policy::quorum_kind::group : policy::quorum_kind::witness;
        p.quorum_index = it->second.index;
        return {};
    }
};

} // namespace

result<policy> parse_policy(std::string_view text) {
    if (text.size() > max_policy_size) return make_error("policy: file too large");
    policy_parser parser;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++parser.line_no;
        CIVIC_TRY(parser.line(line));
    }
    if (!parser.have_quorum) return make_error("policy: no quorum line");
    return std::move(parser.p);
}

result<policy_verifier> policy_verifier::make(const policy& p, std::size_t cache_entries) {
    policy_verifier v;
    v.policy_ = p;
    if (cache_entries > 0) v.cache_ = std::make_shared<verdict_cache>(cache_entries);
    for (const auto& l : p.logs) {
        auto ver = note::make_verifier(l.key);
        if (!ver) return ver.err();
        v.verifiers_.push_back(std::move(*ver));
    }
    for (const auto& w : p.witnesses) {
        auto ver = note::make_verifier(w.key);
        if (!ver) return ver.err();
        v.verifiers_.push_back(std::move(*ver));
    }
    return v;
}

/// A small LRU of verified checkpoints. Only successes are kept: a failure is
/// as cheap to find again, and caching it would let garbage evict good entries.
struct policy_verifier::verdict_cache {
    explicit verdict_cache(std::size_t n) : capacity(n) {}
    std::size_t capacity;
    std::mutex mutex;
    std::list<hash> order; // most recent first
    std::map<hash, std::pair<std::shared_ptr<const policy_verdict>, std::list<hash>::iterator>>
        verdicts;
};

result<policy_verdict> policy_verifier::verify(std::string_view text) const {
    if (!cache_) return verify_uncached(text);
    auto key = sha256(byte_view(text));
    {
        std::lock_guard<std::mutex> lock(cache_->mutex);
        if (auto it = cache_->verdicts.find(key); it != cache_->verdicts.end()) {
            cache_->order.splice(cache_->order.begin(), cache_->order, it->second.second);
            return *it->second.first;
        }
    }
    auto verdict = verify_uncached(text);
    if (!verdict) return verdict;
    auto shared = std::make_shared<const policy_verdict>(*verdict);
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->verdicts.count(key) == 0) {
        cache_->order.push_front(key);
        cache_->verdicts.emplace(key, std::make_pair(shared, cache_->order.begin()));
        if (cache_->verdicts.size() > cache_->capacity) {
            cache_->verdicts.erase(cache_->order.back());
            cache_->order.pop_back();
        }
    }
    return verdict;
}

result<policy_verdict> policy_verifier::verify_uncached(std::string_view text) const {
    CIVIC_TRY_ASSIGN(cp, parse_signed_checkpoint(text));
    // Only logs whose key name is the checkpoint's origin may vouch for it.
    std::vector<const note::verifier*> known;
    std::vector<std::size_t> known_index;
    for (std::size_t i = 0; i < policy_.logs.size(); ++i) {
        if (policy_.logs[i].key.name != cp.body.origin) continue;
        known.push_back(verifiers_[i].get());
        known_index.push_back(i);
    }
    std::size_t first_witness = known.size();
    if (first_witness == 0)
        return make_error("checkpoint origin '" + cp.body.origin + "' is not a log of the policy");
    for (std::size_t i = 0; i < policy_.witnesses.size(); ++i) {
        known.push_back(verifiers_[policy_.logs.size() + i].get());
        known_index.push_back(i);
    }
    auto opened = note::open(cp.signed_note, known);
    if (!opened) return opened.err();

    policy_verdict verdict;
    bool log_signed = false;
    std::vector<bool> cosigned(policy_.witnesses.size(), false);
    for (std::size_t k : opened->signed_by) {
        if (k < first_witness) {
            if (!log_signed) verdict.log = known_index[k];
            log_signed = true;
        } else {
            cosigned[known_index[k]] = true;
            verdict.witnesses.push_back(policy_.witnesses[known_index[k]].name);
        }
    }
    if (!log_signed)
        return make_error("checkpoint is not signed by the log '" + cp.body.origin + "'");
    verdict.quorum = policy_.quorum_met(cosigned);
    verdict.checkpoint = std::move(cp);
    return verdict;
}

} // namespace civic
