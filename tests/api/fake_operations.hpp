// A node for the API's handlers without CAF or LMDB: an in-memory log, and
// actors that answer at once with what the test set (or fail when it set
// nothing). Everything it was asked is recorded for the test to check.
#pragma once

#include "node/api/operations.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "protocol/merkle.hpp"
#include "protocol/note.hpp"
#include "protocol/tiles.hpp"
#include "support.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace civic::test {

class fake_operations : public node::api::operations {
public:
    using failure = node::api::failure;
    template <class T>
    using done_fn = node::api::done_fn<T>;
    using failed_fn = node::api::failed_fn;

    node::api::node_facts node_facts;
    tiles::memory_tiles tree;
    std::vector<bytes> entries;
    std::optional<std::string> latest;
    std::map<std::string, storage::identity_record> identities;
    std::map<hash, storage::token_record> tokens;
    std::optional<std::string> read_only;
    std::vector<storage::evidence_record> evidence_records;
    /// The checkpoint each source answers with (none: it fails).
    std::map<node::api::checkpoint_source, std::string> checkpoints;
    /// What sign, change_identity and revoke_key answer (none: they fail with `refusal`).
    std::optional<actors::append_receipt> receipt;
    failure refusal{static_cast<std::uint8_t>(actors::errc::unavailable), "not set"};
    std::optional<actors::ledger_status> ledger;
    std::optional<actors::link_status> link;
    std::optional<actors::scrub_status> scrub;
    std::optional<actors::witness_status> witness;
    std::optional<std::string> cosigned; // the monitoring answer
    /// Polls for a witnessed checkpoint, held until the test answers them.
    struct await_call {
        std::uint64_t size;
        std::chrono::milliseconds max_wait;
        done_fn<std::string> done;
        failed_fn failed;
    };
    std::vector<await_call> awaits;
    /// Checkpoints the network's policy says met the quorum.
    std::set<std::string> quorum_checkpoints;
    std::vector<std::string> asked_cosigned;
    std::optional<actors::collector_status> collector;
    std::optional<actors::cosign_answer> cosign;
    std::chrono::steady_clock::time_point clock{};

    // What it was asked.
    std::vector<actors::sign_request> signed_requests;
    std::vector<bytes> submitted_entries;
    std::vector<bool> submitted_witnessed;
    std::vector<std::optional<hash>> forwarded_tokens;
    std::vector<std::string> written_keys, removed_keys, damage;
    std::vector<std::pair<std::chrono::milliseconds, std::function<void()>>> scheduled;
    std::vector<std::size_t> polls;
    std::vector<node::api::checkpoint_source> checkpoint_asks;

    /// Appends an entry to the in-memory log.
    void append(const bytes& entry) {
        entries.push_back(entry);
        tree.append(merkle::leaf_hash(entry));
    }
    /// The log's signed checkpoint at its size now.
    std::string sign_checkpoint(const std::string& origin) {
        auto log = log_signer(origin);
        civic::checkpoint cp{origin, tree.size(), tree.root(), {}};
        return note::serialize(note::note{cp.text(), {log.sign(cp.text())}});
    }
    /// Runs what `after` scheduled, in order, including what that schedules.
    void run_scheduled() {
        while (!scheduled.empty()) {
            auto job = std::move(scheduled.front());
            scheduled.erase(scheduled.begin());
            clock += job.first;
            job.second();
        }
    }

    const node::api::node_facts& facts() const override { return node_facts; }
    std::uint64_t stored_size() const override { return tree.size(); }
    std::uint64_t verified_size() const override { return tree.size(); }
    std::uint64_t epoch() const override { return 1; }
    const tiles::tile_reader& verified_tiles() const override { return tree; }
    result<std::optional<bytes>> checked_entry(std::uint64_t index) const override {
        if (index >= entries.size()) return std::optional<bytes>{};
        return std::optional<bytes>(entries[index]);
    }
    result<bytes> checked_entry_bundle(std::uint64_t, std::uint16_t) const override {
        return make_error("the fake keeps no bundles");
    }
    result<std::optional<std::string>> latest_checkpoint() const override { return latest; }
    result<std::optional<storage::identity_record>>
    identity(const std::string& name) const override {
        auto it = identities.find(name);
        if (it == identities.end()) return std::optional<storage::identity_record>{};
        return std::optional<storage::identity_record>(it->second);
    }
    result<std::vector<std::uint64_t>> identity_entries(const std::string& name,
                                                        std::optional<std::uint64_t> after,
                                                        std::size_t limit) const override {
        std::vector<std::uint64_t> out;
        for (std::uint64_t i = after ? *after + 1 : 0; i < entries.size() && out.size() < limit;
             ++i)
            if (encoded_entry_identity(entries[i]) == std::optional<std::string_view>(name))
                out.push_back(i);
        return out;
    }
    result<std::vector<std::string>> identity_names(const std::string& after,
                                                    std::size_t limit) const override {
        std::vector<std::string> names;
        for (auto it = identities.upper_bound(after);
             it != identities.end() && names.size() < limit; ++it)
            names.push_back(it->first);
        return names;
    }
    std::optional<storage::token_record> token(const hash& token_sha256) const override {
        auto it = tokens.find(token_sha256);
        if (it == tokens.end()) return std::nullopt;
        return it->second;
    }
    result<node::api::evidence_page> evidence(std::uint64_t from,
                                              std::size_t limit) const override {
        node::api::evidence_page page;
        page.total = evidence_records.size();
        for (auto i = from; i < evidence_records.size() && page.records.size() < limit; ++i)
            page.records.push_back(evidence_records[i]);
        return page;
    }
    std::optional<std::string> read_only_reason() const override { return read_only; }
    bundle_verdict verify_bundle(const std::string&, const hash&) const override { return {}; }
    std::optional<policy_verdict> network_verdict(const std::string& text) const override {
        if (quorum_checkpoints.count(text) == 0) return std::nullopt;
        policy_verdict verdict;
        verdict.checkpoint = *parse_signed_checkpoint(text);
        verdict.quorum = true;
        return verdict;
    }
    result<std::string> write_identity_key(const std::string& name,
                                           const ed25519::secret_key&) override {
        written_keys.push_back(name);
        return "keys/" + name;
    }
    void remove_identity_key(const std::string& name, const ed25519::public_key&) override {
        removed_keys.push_back(name);
    }
    void sign(actors::sign_request request, std::optional<hash> token_sha256,
              done_fn<actors::append_receipt> done, failed_fn failed) override {
        signed_requests.push_back(std::move(request));
        forwarded_tokens.push_back(token_sha256);
        answer(receipt, done, failed);
    }
    void submit(bytes entry, std::optional<hash> token_sha256, bool witnessed,
                done_fn<actors::append_receipt> done, failed_fn failed) override {
        submitted_entries.push_back(std::move(entry));
        submitted_witnessed.push_back(witnessed);
        forwarded_tokens.push_back(token_sha256);
        answer(receipt, done, failed);
    }
    void change_identity(node::api::identity_change, actors::new_identity_key,
                         done_fn<actors::append_receipt> done, failed_fn failed) override {
        answer(receipt, done, failed);
    }
    void revoke_key(const std::string&, bytes, done_fn<actors::append_receipt> done,
                    failed_fn failed) override {
        answer(receipt, done, failed);
    }
    void checkpoint(node::api::checkpoint_source source, done_fn<std::string> done,
                    failed_fn failed) override {
        checkpoint_asks.push_back(source);
        auto it = checkpoints.find(source);
        if (it == checkpoints.end())
            return failed({static_cast<std::uint8_t>(actors::errc::no_checkpoint), "none"});
        done(it->second);
    }
    void await_witnessed(std::uint64_t size, std::chrono::milliseconds max_wait,
                         done_fn<std::string> done, failed_fn failed) override {
        awaits.push_back({size, max_wait, std::move(done), std::move(failed)});
    }
    void ledger_status(done_fn<actors::ledger_status> done, failed_fn failed) override {
        answer(ledger, done, failed);
    }
    void collector_status(done_fn<actors::collector_status> done, failed_fn failed) override {
        answer(collector, done, failed);
    }
    void link_status(done_fn<actors::link_status> done, failed_fn failed) override {
        answer(link, done, failed);
    }
    void scrub_status(done_fn<actors::scrub_status> done, failed_fn failed) override {
        answer(scrub, done, failed);
    }
    void witness_status(done_fn<actors::witness_status> done, failed_fn failed) override {
        answer(witness, done, failed);
    }
    void add_checkpoint(actors::cosign_request, done_fn<actors::cosign_answer> done,
                        failed_fn failed) override {
        answer(cosign, done, failed);
    }
    void cosigned_checkpoint(const std::string& origin_sha256, done_fn<std::string> done,
                             failed_fn failed) override {
        asked_cosigned.push_back(origin_sha256);
        answer(cosigned, done, failed);
    }
    std::string metrics_text() const override { return "civic_up 1\n"; }
    void report_damage(const std::string& what) override { damage.push_back(what); }
    void witnessed_polled(std::size_t waiting) override { polls.push_back(waiting); }
    void after(std::chrono::milliseconds delay, std::function<void()> job) override {
        scheduled.emplace_back(delay, std::move(job));
    }
    std::chrono::steady_clock::time_point now() const override { return clock; }

private:
    template <class T>
    void answer(const std::optional<T>& value, const done_fn<T>& done, const failed_fn& failed) {
        if (value) return done(*value);
        failed(refusal);
    }
};

} // namespace civic::test
