#include "node/service/operations.hpp"

#include "actors/bridge.hpp"
#include "actors/errors.hpp"
#include "node/service/metrics.hpp"
#include "node/service/node_tree.hpp"
#include "node/system/files.hpp"
#include "protocol/assert.hpp"
#include "protocol/note.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>

namespace civic::node {
namespace {

namespace fs = std::filesystem;
using api::done_fn;
using api::failed_fn;

api::failure failure_of(const caf::error& e) { return {actors::code_of(e), actors::message_of(e)}; }

class node_operations final : public api::operations {
public:
    explicit node_operations(node_parts parts) : parts_(std::move(parts)) {
        CIVIC_ASSERT(!parts_.bridges.empty() && parts_.directory && parts_.stats);
    }

    const api::node_facts& facts() const override { return parts_.facts; }

    std::uint64_t stored_size() const override { return store().stored_size(); }
    std::uint64_t verified_size() const override { return store().verified_size(); }
    std::uint64_t epoch() const override { return storage::stored_epoch(store()); }
    const tiles::tile_reader& verified_tiles() const override { return store().verified_tiles(); }
    result<std::optional<bytes>> checked_entry(std::uint64_t index) const override {
        return store().checked_entry(index);
    }
    result<bytes> checked_entry_bundle(std::uint64_t tile, std::uint16_t width) const override {
        return store().checked_entry_bundle(tile, width);
    }
    result<std::optional<std::string>> latest_checkpoint() const override {
        return store().latest_checkpoint();
    }
    result<std::optional<storage::identity_record>>
    identity(const std::string& name) const override {
        return store().identity(name);
    }
    result<std::vector<std::string>> identity_names(const std::string& after,
                                                    std::size_t limit) const override {
        return store().identity_names(after, limit);
    }
    result<std::vector<std::uint64_t>> identity_entries(const std::string& name,
                                                        std::optional<std::uint64_t> after,
                                                        std::size_t limit) const override {
        return store().identity_entries(name, after, limit);
    }
    std::optional<storage::token_record> token(const hash& token_sha256) const override {
        if (!parts_.store) return std::nullopt;
        auto record = parts_.store->token(token_sha256);
        if (!record || !*record) return std::nullopt;
        return **record;
    }
    result<api::evidence_page> evidence(std::uint64_t from, std::size_t limit) const override;
    std::optional<std::string> read_only_reason() const override {
        return parts_.read_only_reason ? parts_.read_only_reason() : std::nullopt;
    }

    bundle_verdict verify_bundle(const std::string& proof, const hash& content) const override {
        CIVIC_ASSERT(parts_.trust != nullptr);
        return civic::verify_bundle(*parts_.trust, proof, content);
    }
    std::optional<policy_verdict> network_verdict(const std::string& checkpoint) const override {
        if (!parts_.network_trust) return std::nullopt;
        auto verdict = parts_.network_trust->verify(checkpoint);
        if (!verdict) return std::nullopt;
        return std::move(*verdict);
    }

    result<std::string> write_identity_key(const std::string& name,
                                           const ed25519::secret_key& key) override {
        auto secret = note::format_signer_key(name, note::type_ed25519, key);
        auto path = key_path(name, key.public_key_bytes());
        CIVIC_TRY(write_secret_key_file(path, secret));
        return path;
    }
    void remove_identity_key(const std::string& name, const ed25519::public_key& key) override {
        std::error_code ignored;
        fs::remove(key_path(name, key), ignored);
    }

    void sign(actors::sign_request request, std::optional<hash> token_sha256,
              done_fn<actors::append_receipt> done, failed_fn failed) override {
        if (!token_sha256)
            return ask<actors::append_receipt>(actors::slots::signer, done, failed,
                                               atoms::sign_atom_v, std::move(request));
        // Not the leader: the uplink forwards it, and the leader checks the token.
        ask<actors::append_receipt>(
            actors::slots::uplink, done, failed, atoms::sign_atom_v,
            actors::forwarded_sign{bytes(token_sha256->begin(), token_sha256->end()),
                                   std::move(request)});
    }
    void submit(bytes entry, std::optional<hash> token_sha256, bool witnessed,
                done_fn<actors::append_receipt> done, failed_fn failed) override {
        if (!token_sha256)
            return ask<actors::append_receipt>(actors::slots::ledger, done, failed,
                                               atoms::append_atom_v, std::move(entry), witnessed);
        ask<actors::append_receipt>(
            actors::slots::uplink, done, failed, atoms::append_atom_v,
            actors::forwarded_entry{bytes(token_sha256->begin(), token_sha256->end()),
                                    std::move(entry), witnessed});
    }
    void change_identity(api::identity_change change, actors::new_identity_key key,
                         done_fn<actors::append_receipt> done, failed_fn failed) override {
        if (change == api::identity_change::register_key)
            return ask<actors::append_receipt>(actors::slots::signer, done, failed,
                                               atoms::add_atom_v, std::move(key));
        ask<actors::append_receipt>(actors::slots::signer, done, failed, atoms::rotate_atom_v,
                                    std::move(key));
    }
    void revoke_key(const std::string& name, bytes public_key, done_fn<actors::append_receipt> done,
                    failed_fn failed) override {
        ask<actors::append_receipt>(actors::slots::signer, done, failed, atoms::revoke_atom_v, name,
                                    std::move(public_key));
    }
    void checkpoint(api::checkpoint_source source, done_fn<std::string> done,
                    failed_fn failed) override {
        using api::checkpoint_source;
        switch (source) {
        case checkpoint_source::ledger:
            return ask<std::string>(actors::slots::ledger, done, failed, atoms::checkpt_atom_v);
        case checkpoint_source::witnessed:
            return ask<std::string>(actors::slots::collector, done, failed, atoms::checkpt_atom_v,
                                    true);
        case checkpoint_source::collected:
            return ask<std::string>(actors::slots::collector, done, failed, atoms::checkpt_atom_v);
        case checkpoint_source::gossiped:
            return ask<std::string>(actors::slots::gossip, done, failed, atoms::checkpt_atom_v);
        }
        CIVIC_ASSERT(false);
    }
    void await_witnessed(std::uint64_t size, std::chrono::milliseconds max_wait,
                         done_fn<std::string> done, failed_fn failed) override {
        auto wait_ms = static_cast<std::uint32_t>(std::clamp<std::int64_t>(
            max_wait.count(), 0, std::numeric_limits<std::int32_t>::max()));
        // A replica has no collector: its uplink asks the leader's.
        if (!parts_.directory->get(actors::slots::collector) &&
            parts_.directory->get(actors::slots::uplink))
            return ask<std::string>(actors::slots::uplink, done, failed, atoms::poll_atom_v, size,
                                    wait_ms);
        ask<std::string>(actors::slots::collector, done, failed, atoms::poll_atom_v, size, wait_ms);
    }
    void ledger_status(done_fn<actors::ledger_status> done, failed_fn failed) override {
        ask<actors::ledger_status>(actors::slots::ledger, done, failed, atoms::status_atom_v);
    }
    void collector_status(done_fn<actors::collector_status> done, failed_fn failed) override {
        ask<actors::collector_status>(actors::slots::collector, done, failed, atoms::status_atom_v);
    }
    void link_status(done_fn<actors::link_status> done, failed_fn failed) override {
        ask<actors::link_status>(actors::slots::uplink, done, failed, atoms::status_atom_v);
    }
    void scrub_status(done_fn<actors::scrub_status> done, failed_fn failed) override {
        ask<actors::scrub_status>(actors::slots::scrubber, done, failed, atoms::status_atom_v);
    }
    void witness_status(done_fn<actors::witness_status> done, failed_fn failed) override {
        ask<actors::witness_status>(actors::slots::witness, done, failed, atoms::status_atom_v);
    }
    void add_checkpoint(actors::cosign_request request, done_fn<actors::cosign_answer> done,
                        failed_fn failed) override {
        ask<actors::cosign_answer>(actors::slots::witness, done, failed, atoms::add_atom_v,
                                   std::move(request));
    }
    void cosigned_checkpoint(const std::string& origin_sha256, done_fn<std::string> done,
                             failed_fn failed) override {
        ask<std::string>(actors::slots::witness, done, failed, atoms::checkpt_atom_v,
                         origin_sha256);
    }

    std::string metrics_text() const override { return parts_.stats->render(); }
    void report_damage(const std::string&) override { parts_.stats->store_damage_found(); }
    void witnessed_polled(std::size_t waiting) override { parts_.stats->witnessed_poll(waiting); }
    void after(std::chrono::milliseconds delay, std::function<void()> job) override {
        caf::anon_send(next_bridge(), actors::bridge_job{[delay, job](actors::bridge_pointer self) {
                           self->delayed_send(
                               self, delay,
                               actors::bridge_job{[job](actors::bridge_pointer) { job(); }});
                       }});
    }
    std::chrono::steady_clock::time_point now() const override {
        return std::chrono::steady_clock::now();
    }

private:
    const storage::ledger_store& store() const {
        CIVIC_ASSERT(parts_.store != nullptr); // only a ledger's routes read the store
        return *parts_.store;
    }
    std::string key_path(const std::string& name, const ed25519::public_key& key) const {
        return (fs::path(parts_.data_dir) / "keys" / identity_key_file_name(name, key)).string();
    }
    /// HTTP threads must not block: every ask goes through one of the bridges,
    /// in turn (spawning an actor per request costs more than the request).
    const actors::bridge_actor& next_bridge() {
        return parts_
            .bridges[next_bridge_.fetch_add(1, std::memory_order_relaxed) % parts_.bridges.size()];
    }
    template <class Result, class Handle, class... Ts>
    void ask(actors::actor_slot<Handle> slot, done_fn<Result> done, failed_fn failed, Ts... xs) {
        actors::ask_actor<Result>(
            next_bridge(), parts_.directory, slot, [done](const Result& r) { done(r); },
            [failed](const caf::error& e) { failed(failure_of(e)); }, std::move(xs)...);
    }

    node_parts parts_;
    std::atomic<std::size_t> next_bridge_{0};
};

result<api::evidence_page> node_operations::evidence(std::uint64_t from, std::size_t limit) const {
    api::evidence_page page;
    // Evidence this node caught as a witness (add-checkpoint), then by gossip.
    for (const auto* held : {parts_.witness_store.get(), parts_.gossip_store.get()}) {
        if (!held) continue;
        auto count = held->evidence_count();
        if (from < page.total + count && page.records.size() < limit) {
            auto records = held->evidence(from > page.total ? from - page.total : 0,
                                          limit - page.records.size());
            if (!records) return records.err();
            for (auto& r : *records)
                page.records.push_back(std::move(r));
        }
        page.total += count;
    }
    return page;
}

} // namespace

std::unique_ptr<api::operations> make_node_operations(node_parts parts) {
    return std::make_unique<node_operations>(std::move(parts));
}

} // namespace civic::node
