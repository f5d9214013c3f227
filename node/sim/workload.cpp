#include "node/sim/workload.hpp"

#include "actors/errors.hpp"
#include "actors/signer.hpp"
#include "node/sim/invariants.hpp"
#include "node/sim/report.hpp"
#include "node/sim/setup.hpp"
#include "protocol/note.hpp"
#include "protocol/sha256.hpp"

#include <filesystem>
#include <vector>

namespace civic::node::sim {

status workload::register_identity() {
    auto* lead = leader_of(nodes_);
    if (!lead) return {};
    auto key = std::make_shared<const ed25519::secret_key>(derived_key(options_.seed, "identity"));
    auto keys_dir = std::filesystem::path(lead->options.data_dir) / "keys";
    std::error_code ec;
    std::filesystem::create_directories(keys_dir, ec);
    CIVIC_TRY(write_private_file(
        (keys_dir / identity_key_file_name(identity_, key->public_key_bytes())).string(),
        note::format_signer_key(identity_, note::type_ed25519, *key)));
    try_register(actors::new_identity_key{identity_, key}, 0);
    return {};
}

void workload::try_register(actors::new_identity_key request, int attempt) {
    // Once the leader's signer runs (its supervisor starts it in its first step).
    clock_.at(clock_.now() + std::chrono::milliseconds(100), [this, request, attempt] {
        auto* lead = leader_of(nodes_);
        if (registered_ || !lead) return;
        auto retry = [this, request, attempt](const std::string& why) {
            if (attempt >= 100)
                report_.violation("the workload's identity was not registered: " + why);
            else
                try_register(request, attempt + 1);
        };
        if (!lead->up) return retry("the leader is down");
        actors::ask_actor<actors::append_receipt>(
            lead->bridge, lead->tree.directory, actors::slots::signer,
            [this](const actors::append_receipt&) { registered_ = true; },
            [this, retry](const caf::error& e) {
                if (actors::code_of(e) == static_cast<std::uint8_t>(actors::errc::identity_exists))
                    registered_ = true;
                else
                    retry(actors::message_of(e));
            },
            atoms::add_atom_v, request);
    });
}

void workload::schedule_submission(time_point t) {
    if (options_.submissions_per_second <= 0) return;
    clock_.at(t, [this] {
        if (clock_.now() >= end_) return;
        std::vector<sim_node*> targets;
        for (auto& n : nodes_)
            if (n->up && n->holds_ledger()) targets.push_back(n.get());
        if (registered_ && !targets.empty()) submit(*targets[random_.below(targets.size())]);
        auto gap = random_.exponential(1.0 / options_.submissions_per_second);
        schedule_submission(clock_.now() + sim_duration(static_cast<std::int64_t>(gap * 1e6) + 1));
    });
}

void workload::submit(sim_node& n) {
    ++report_.summary().submitted;
    auto content = sha256(byte_view("content/" + std::to_string(options_.seed) + "/" +
                                    std::to_string(content_counter_++)));
    actors::sign_request request{
        identity_, bytes(content.begin(), content.end()), {}, options_.witnessed};
    auto done = [this, node = &n, generation = n.generation](const actors::append_receipt& r) {
        if (!node->alive(generation)) return; // died before answering
        report_.acknowledged(r.index);
        checks_.acknowledged(r.index, sha256(byte_view(r.entry)));
    };
    auto failed = [this, node = &n, generation = n.generation](const caf::error&) {
        if (node->alive(generation)) ++report_.summary().refused;
    };
    if (n.options.network.leading)
        return actors::ask_actor<actors::append_receipt>(n.bridge, n.tree.directory,
                                                         actors::slots::signer, done, failed,
                                                         atoms::sign_atom_v, request);
    // Elsewhere the uplink forwards it, and the leader checks the token.
    auto token = sha256(byte_view(setup_.admin_token));
    actors::forwarded_sign forwarded{bytes(token.begin(), token.end()), request};
    actors::ask_actor<actors::append_receipt>(n.bridge, n.tree.directory, actors::slots::uplink,
                                              done, failed, atoms::sign_atom_v, forwarded);
}

} // namespace civic::node::sim
