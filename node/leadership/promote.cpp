// Promotion: a stopped replica becomes the leader under a new epoch (see
// leadership.hpp for the whole failover protocol).
#include "node/http/client.hpp"
#include "node/leadership/leadership.hpp"
#include "node/system/files.hpp"
#include "protocol/note.hpp"
#include "storage/ledger_store.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>

namespace civic::node::leadership {

namespace fs = std::filesystem;

namespace {

/// Asks every other node of the network for its status: none may lead now,
/// none may hold more than `own_size` (unless `force`). Returns the newest
/// epoch known, the candidate's own (`own_epoch`) included.
result<std::uint64_t> newest_epoch_of_peers(const candidate& target, std::uint64_t own_size,
                                            std::uint64_t own_epoch, bool force,
                                            const progress_callback& progress) {
    auto newest = own_epoch;
    for (const auto& n : target.network.nodes) {
        if (n.name == target.node.name) continue;
        auto reply = http_call({n.host, std::to_string(n.http_port)}, "GET", "/api/status", "", "",
                               std::chrono::seconds(3));
        if (!reply || reply->status != 200) {
            progress(n.name + ": no answer (down)");
            continue;
        }
        auto j = nlohmann::json::parse(reply->body, nullptr, false);
        if (!j.is_object()) continue;
        auto epoch = j.value("epoch", std::uint64_t{0});
        auto size = j.value("size", std::uint64_t{0});
        newest = std::max(newest, epoch);
        progress(n.name + ": " + j.value("role", "?") + ", epoch " + std::to_string(epoch) + ", " +
                 std::to_string(size) + " entries");
        if (j.value("role", "") == "leader" && !force)
            return make_error(n.name + " answers as the leader: stop it first (or --force)");
        if (size > own_size && !force)
            return make_error(n.name + " holds " + std::to_string(size) + " entries, " +
                              target.node.name + " only " + std::to_string(own_size) +
                              ": promote the replica that holds the most (or --force)");
    }
    return newest;
}

/// Copies the candidate's log key into its data directory (log.key), once it
/// is checked to be the key of the network's log_vkey.
status install_log_key(const candidate& target) {
    const auto& name = target.node.name;
    auto key = read_signer_key_file(target.node.log_key);
    if (!key) return make_error("nodes[" + name + "].log_key: " + key.message());
    auto vkey_text = read_file(target.network.log_vkey);
    if (!vkey_text) return make_error("log_vkey: " + vkey_text.message());
    const auto& origin = target.network.origin;
    auto secret = note::format_signer_key(origin, note::type_ed25519, key->key);
    note::ed25519_signer signer(origin, std::move(key->key));
    if (note::format_vkey(signer.verifier_key()) !=
        vkey_text->substr(0, vkey_text->find_first_of("\r\n"))) {
        ed25519::wipe(secret.data(), secret.size());
        return make_error("nodes[" + name + "].log_key is not the key of " +
                          target.network.log_vkey);
    }
    auto log_key = fs::path(target.node.data) / "log.key";
    auto copied = write_secret_key_file(log_key.string(), secret);
    // Kept if there already: a promotion tried before wrote it.
    if (!copied && !fs::exists(log_key)) return copied.err();
    return {};
}

/// Copies identity keys (keys/*.key), API tokens and admin.token from the old
/// leader's data directory `from` into the candidate's; keeps what it has.
status copy_secrets(const fs::path& from, const fs::path& data, storage::ledger_store& store,
                    promotion& counts) {
    std::error_code ec;
    fs::create_directories(data / "keys", ec);
    for (const auto& file : fs::directory_iterator(from / "keys", ec)) {
        if (file.path().extension() != ".key") continue;
        auto target = data / "keys" / file.path().filename();
        if (fs::exists(target)) continue;
        fs::copy_file(file.path(), target, ec);
        if (ec) return make_error(target.string() + ": " + ec.message());
        fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write, ec);
        ++counts.identity_keys_copied;
    }
    if (ec) return make_error((from / "keys").string() + ": " + ec.message());
    auto old = storage::ledger_store::open({(from / "ledger").string()});
    if (!old) return make_error(from.string() + ": " + old.message());
    auto tokens = (*old)->tokens();
    if (!tokens) return make_error(from.string() + ": " + tokens.message());
    for (const auto& [digest, record] : *tokens) {
        if (auto ok = store.put_token(digest, record); !ok) return ok;
        ++counts.tokens_copied;
    }
    if (fs::exists(from / "admin.token") && !fs::exists(data / "admin.token"))
        fs::copy_file(from / "admin.token", data / "admin.token", ec);
    return {};
}

} // namespace

result<candidate> find_candidate(const std::string& topology_file, const std::string& name) {
    auto t = load_topology(topology_file);
    if (!t) return t.err();
    const node_spec* self = t->find(name);
    if (!self) return make_error("--name '" + name + "': no such node in " + t->file);
    if (!self->may_lead || self->log_key.empty())
        return make_error(t->file + ": nodes[" + name +
                          "]: may_lead is not set (or there is no log_key)");
    node_spec node = *self;
    return candidate{std::move(*t), std::move(node)};
}

result<promotion> promote(const promotion_request& request, const progress_callback& progress) {
    const auto& target = request.target;
    const fs::path data = target.node.data;
    auto store = storage::ledger_store::open({(data / "ledger").string()});
    if (!store)
        return make_error(target.node.data + ": " + store.message() + " (is the node stopped?)");
    promotion done;
    done.entries = (*store)->stored_size();

    // What the other nodes say: nobody may lead now, nobody may hold more.
    auto newest = newest_epoch_of_peers(target, done.entries, storage::stored_epoch(**store),
                                        request.force, progress);
    if (!newest) return newest.err();
    CIVIC_TRY(install_log_key(target));
    if (request.secrets_from) CIVIC_TRY(copy_secrets(*request.secrets_from, data, **store, done));

    done.epoch = *newest + 1;
    CIVIC_TRY(storage::store_epoch(**store, done.epoch));
    CIVIC_TRY((*store)->put_setting(storage::role_setting, "leader"));
    return done;
}

} // namespace civic::node::leadership
