#include "actors/gossip.hpp"

#include "actors/errors.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/witness.hpp"

#include <algorithm>
#include <numeric>

namespace civic::actors {
namespace {

/// Most checkpoints and evidence records read from one message.
constexpr std::size_t max_items_per_message = 16;
/// Checkpoint texts remembered as checked (see gossip_state::recently_checked).
constexpr std::size_t max_recently_checked = 64;

/// One fork, one key: by the two checkpoints' bodies, not their signatures
/// (else each copy with other cosignatures would be kept, reported and halted
/// again), in either order.
std::string evidence_key(const std::string& a, const std::string& b) {
    auto body_hash = [](const std::string& signed_text) {
        auto cp = parse_signed_checkpoint(signed_text);
        return hex_encode(sha256(byte_view(cp ? cp->body.text() : signed_text)));
    };
    auto ha = body_hash(a);
    auto hb = body_hash(b);
    return ha < hb ? ha + hb : hb + ha;
}

void accept_evidence(gossip_pointer self, const split_view_evidence& e, split_view_kind kind,
                     const std::string& source) {
    auto& st = self->state;
    auto key = evidence_key(e.ours, e.theirs);
    if (st.evidence_keys.count(key)) return;
    st.evidence_keys.insert(key);
    storage::evidence_record r;
    auto cp = parse_signed_checkpoint(e.ours);
    r.origin = cp ? cp->body.origin : std::string();
    r.kind = to_string(kind);
    r.ours = e.ours;
    r.theirs = e.theirs;
    r.proof = witness::proof_lines(e.proof);
    if (e.root_at_smaller) r.root_at_smaller = base64_encode(*e.root_at_smaller);
    r.source = source;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        self->clock().now().time_since_epoch());
    auto ms = (st.config.unix_offset + now).count();
    r.observed_unix = ms > 0 ? static_cast<std::uint64_t>(ms) / 1000 : 0;
    st.evidence.push_back(r);
    // Durable, though nothing waits for it: the evidence also lives on in
    // every peer it reaches.
    auto write = std::make_shared<storage::witness_write>();
    write->evidence.push_back(r);
    if (st.writer)
        self->request(st.writer, std::chrono::seconds(60), atoms::commit_atom_v,
                      witness_write_ptr(write))
            .then([](atoms::commit_atom) {}, [](caf::error&) {});
    // This node's witness never cosigns for the origin again.
    if (auto witness = st.actors->get(slots::witness))
        self->send(witness, atoms::halt_atom_v, r.origin,
                   "split view (" + r.kind + ") reported by " + source);
    if (st.config.on_evidence) st.config.on_evidence(r);
}

/// The note with only the signatures that verify: the log's, and the policy
/// witnesses' cosignatures, one line per key (each key is verified at most once,
/// so repeated lines cost nothing); nothing when the log's is missing.
std::optional<note::note> verified_only(const gossip_state& st, const note::note& n) {
    note::note out{n.text, {}};
    bool log_signed = false;
    std::vector<bool> witness_seen(st.config.witness_keys.size(), false);
    for (const auto& sig : n.signatures) {
        auto names = [&sig](const note::verifier& v) {
            return sig.name == v.name() && sig.key_id == v.key_id();
        };
        if (names(*st.config.log_key)) {
            if (log_signed || !st.config.log_key->verify(n.text, sig.data)) continue;
            log_signed = true;
            out.signatures.push_back(sig);
            continue;
        }
        for (std::size_t i = 0; i < st.config.witness_keys.size(); ++i) {
            const auto& w = *st.config.witness_keys[i];
            if (!names(w)) continue;
            if (!witness_seen[i] && w.verify(n.text, sig.data)) {
                witness_seen[i] = true;
                out.signatures.push_back(sig);
            }
            break;
        }
    }
    if (!log_signed) return std::nullopt;
    return out;
}

/// A checkpoint from a peer (or this node's own): verified, checked against
/// the view and the tree, and taken into the view when newer.
void consider(gossip_pointer self, const std::string& text, const std::string& from) {
    auto& st = self->state;
    auto digest = sha256(byte_view(text));
    if (std::find(st.recently_checked.begin(), st.recently_checked.end(), digest) !=
        st.recently_checked.end())
        return; // nothing new: the same text was checked (and merged) already
    auto remember = [&st, digest] {
        st.recently_checked.push_back(digest);
        if (st.recently_checked.size() > max_recently_checked) st.recently_checked.pop_front();
    };
    auto cp = parse_signed_checkpoint(text);
    if (!cp || cp->body.origin != st.config.log_key->name()) {
        ++st.rejected;
        return remember();
    }
    auto clean = verified_only(st, cp->signed_note);
    if (!clean) {
        ++st.rejected;
        return remember();
    }
    // Checked for good only once this node's tree holds its size; a lagging
    // replica checks it again when it has caught up.
    if (!st.config.check_against_tree || cp->body.size <= st.own_size) remember();
    auto signed_text = note::serialize(*clean);
    if (st.config.check_against_tree)
        if (auto e = st.config.check_against_tree(signed_text))
            if (auto kind = check_split_view(*e, *st.config.log_key))
                accept_evidence(self, *e, *kind, from);
    auto it = st.view.find(cp->body.origin);
    if (it == st.view.end()) {
        st.view.emplace(cp->body.origin, signed_text);
        return;
    }
    auto mine = parse_signed_checkpoint(it->second);
    if (!mine) {
        it->second = signed_text;
        return;
    }
    if (mine->body.size == cp->body.size) {
        if (mine->body.root != cp->body.root) {
            split_view_evidence e{it->second, signed_text, std::nullopt, {}};
            if (auto kind = check_split_view(e, *st.config.log_key))
                accept_evidence(self, e, *kind, from);
            return; // the view keeps the first one it held
        }
        // The same checkpoint: gather the cosignatures both sides hold.
        auto merged = mine->signed_note;
        for (const auto& sig : clean->signatures) {
            bool known = std::any_of(merged.signatures.begin(), merged.signatures.end(),
                                     [&sig](const note::signature& s) {
                                         return s.name == sig.name && s.key_id == sig.key_id;
                                     });
            if (!known && merged.signatures.size() < note::max_signatures)
                merged.signatures.push_back(sig);
        }
        it->second = note::serialize(merged);
    } else if (cp->body.size > mine->body.size) {
        it->second = signed_text;
    }
}

void take_evidence(gossip_pointer self, const gossip_evidence& g, const std::string& from) {
    auto& st = self->state;
    auto e = from_gossip(g);
    if (!e) {
        ++st.rejected;
        return;
    }
    auto kind = check_split_view(*e, *st.config.log_key);
    if (!kind) {
        ++st.rejected;
        return;
    }
    accept_evidence(self, *e, *kind, g.shown_by.empty() ? from : g.shown_by);
}

void take(gossip_pointer self, const gossip_message& m) {
    for (std::size_t i = 0; i < m.checkpoints.size() && i < max_items_per_message; ++i)
        consider(self, m.checkpoints[i], m.from);
    for (std::size_t i = 0; i < m.evidence.size() && i < max_items_per_message; ++i)
        take_evidence(self, m.evidence[i], m.from);
}

/// Whether this node shows `peer` the other history (test mode only).
bool deceived(const gossip_state& st, const std::string& peer) {
    if (!st.config.equivocate_with || !st.lying) return false;
    std::vector<std::string> names;
    for (const auto& l : st.links)
        names.push_back(l.endpoint.name);
    std::sort(names.begin(), names.end());
    auto it = std::find(names.begin(), names.end(), peer);
    return it != names.end() && (it - names.begin()) % 2 == 1;
}

/// Another tree of the same size, signed by the log (test mode only).
std::string forged(const gossip_state& st, const std::string& signed_text) {
    auto cp = parse_signed_checkpoint(signed_text);
    if (!cp) return signed_text;
    auto body = cp->body;
    body.root = sha256(byte_view(body.root));
    note::note n{body.text(), {st.config.equivocate_with->sign(body.text())}};
    return note::serialize(n);
}

gossip_message outgoing(const gossip_state& st, const std::string& peer) {
    gossip_message m;
    m.from = st.config.node_name;
    bool lie = deceived(st, peer);
    for (const auto& [origin, text] : st.view)
        m.checkpoints.push_back(lie ? forged(st, text) : text);
    auto n = std::min(st.evidence.size(), st.config.max_evidence_sent);
    for (auto i = st.evidence.size() - n; i < st.evidence.size(); ++i) {
        auto g = to_gossip(st.evidence[i]);
        g.shown_by = st.evidence[i].source;
        m.evidence.push_back(std::move(g));
    }
    return m;
}

std::vector<peer_link>& gossip_links(gossip_pointer self) { return self->state.links; }

void tick(gossip_pointer self) {
    auto& st = self->state;
    self->delayed_send(self, st.config.period, atoms::tick_atom_v);
    ++st.rounds;
    st.lying = st.config.equivocate_with && self->clock().now() >= st.config.equivocate_from;
    if (st.config.own_checkpoint)
        if (auto own = st.config.own_checkpoint()) {
            if (auto cp = parse_signed_checkpoint(*own)) st.own_size = cp->body.size;
            consider(self, *own, st.config.node_name);
        }
    // On the leader: the published checkpoint, with the witnesses' cosignatures.
    if (auto collector = st.actors->get(slots::collector))
        self->request(collector, st.config.exchange_timeout, atoms::checkpt_atom_v)
            .then([self](std::string& text) { consider(self, text, self->state.config.node_name); },
                  [](caf::error&) {});
    auto now = self->clock().now();
    std::vector<std::size_t> order(st.links.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), st.jitter);
    std::size_t sent = 0;
    for (auto i : order) {
        auto& l = st.links[i];
        if (!l.gateway) {
            if (now >= l.retry_at)
                connect_link(self, gossip_links, st.config.timing, i, [](std::size_t) {});
            continue;
        }
        // Past the fanout, connected links wait for a later round; the loop
        // goes on so that links further on still reconnect when due.
        if (sent >= st.config.fanout) continue;
        ++sent;
        self->request(l.gateway, st.config.exchange_timeout, atoms::gossip_atom_v,
                      outgoing(st, l.endpoint.name))
            .then(
                [self](gossip_message& reply) {
                    ++self->state.exchanges;
                    take(self, reply);
                },
                [self](caf::error&) { ++self->state.failures; });
    }
}

} // namespace

gossip_evidence to_gossip(const storage::evidence_record& r) {
    gossip_evidence g;
    g.ours = r.ours;
    g.theirs = r.theirs;
    if (auto root = base64_decode(r.root_at_smaller); root && root->size() == 32)
        g.root_at_smaller = *root;
    std::size_t pos = 0;
    while (pos < r.proof.size()) {
        auto end = r.proof.find('\n', pos);
        if (end == std::string::npos) end = r.proof.size();
        if (auto h = base64_decode(std::string_view(r.proof).substr(pos, end - pos));
            h && h->size() == 32)
            g.proof.insert(g.proof.end(), h->begin(), h->end());
        pos = end + 1;
    }
    return g;
}

std::optional<split_view_evidence> from_gossip(const gossip_evidence& g) {
    if (g.ours.size() > note::max_note_size || g.theirs.size() > note::max_note_size ||
        g.proof.size() % 32 != 0 || g.proof.size() / 32 > 64 ||
        (!g.root_at_smaller.empty() && g.root_at_smaller.size() != 32))
        return std::nullopt;
    split_view_evidence e{g.ours, g.theirs, std::nullopt, {}};
    if (!g.root_at_smaller.empty()) {
        hash h{};
        std::copy(g.root_at_smaller.begin(), g.root_at_smaller.end(), h.begin());
        e.root_at_smaller = h;
    }
    e.proof.resize(g.proof.size() / 32);
    for (std::size_t i = 0; i < e.proof.size(); ++i)
        std::copy_n(g.proof.begin() + static_cast<std::ptrdiff_t>(32 * i), 32, e.proof[i].begin());
    return e;
}

gossip_actor::behavior_type
gossip(gossip_pointer self, gossip_config config, caf::io::middleman_actor middleman,
       std::shared_ptr<const directory> actors, std::shared_ptr<storage::witness_store> store,
       witness_writer_actor writer, std::vector<storage::evidence_record> evidence) {
    auto& st = self->state;
    st.config = std::move(config);
    st.middleman = std::move(middleman);
    st.actors = std::move(actors);
    st.store = std::move(store);
    st.writer = std::move(writer);
    st.jitter.seed(static_cast<std::minstd_rand::result_type>(st.config.seed % 2147483647 + 1));
    for (auto& r : evidence) {
        st.evidence_keys.insert(evidence_key(r.ours, r.theirs));
        st.evidence.push_back(std::move(r));
    }
    for (const auto& p : st.config.peers)
        st.links.push_back(peer_link{p, {}, false, 0, {}, {}});
    self->set_down_handler([self](caf::down_msg& msg) {
        link_down(
            self, gossip_links, self->state.config.timing, msg, [](std::size_t) {},
            [](std::size_t) {});
    });
    for (std::size_t i = 0; i < st.links.size(); ++i)
        connect_link(self, gossip_links, st.config.timing, i, [](std::size_t) {});
    self->send(self, atoms::tick_atom_v);
    return {
        [self](atoms::gossip_atom, gossip_message& m) {
            ++self->state.exchanges;
            take(self, m);
            return outgoing(self->state, m.from);
        },
        [self](atoms::status_atom) {
            auto& s = self->state;
            gossip_status out{s.rounds,          s.exchanges, s.failures, s.rejected,
                              s.evidence.size(), {},          {}};
            for (const auto& [origin, text] : s.view) {
                out.origins.push_back(origin);
                auto cp = parse_signed_checkpoint(text);
                out.sizes.push_back(cp ? cp->body.size : 0);
            }
            return out;
        },
        [self](atoms::checkpt_atom) -> caf::result<std::string> {
            auto it = self->state.view.find(self->state.config.log_key->name());
            if (it == self->state.view.end())
                return make_error(errc::no_checkpoint, "no checkpoint known yet");
            return it->second;
        },
        [self](atoms::tick_atom) { tick(self); },
    };
}

} // namespace civic::actors
