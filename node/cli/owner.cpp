// What the commands an identity's owner runs share: the owner's key file
// (keygen --identity), entries signed with it on this machine, their
// submission to a node (POST /api/submit), and the owner's journal of what
// was signed in the identity's name, for `monitor --journal`.
#include "node/cli/commands.hpp"
#include "node/system/files.hpp"
#include "protocol/merkle.hpp"

#include <chrono>
#include <ostream>

namespace civic::node::cli_detail {

result<ed25519::secret_key> read_owner_key(const po::variables_map& vm, const char* flag,
                                           const std::string& identity) {
    auto path = vm[flag].as<std::string>();
    auto key = read_signer_key_file(path);
    if (!key) return make_error(std::string("--") + flag + " " + key.message());
    // The file names its identity: a key of another one would sign in vain.
    if (key->type != note::type_ed25519 || key->name != identity)
        return make_error(std::string("--") + flag + " " + path + ": the key of '" + key->name +
                          "', not of '" + identity + "' (make one with keygen --identity)");
    return std::move(key->key);
}

bytes sign_owner_entry(entry_kind kind, const std::string& identity, const ed25519::secret_key& key,
                       const hash& content, bytes payload) {
    entry e;
    e.kind = kind;
    e.timestamp_ms =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    e.identity = identity;
    e.public_key = key.public_key_bytes();
    e.content_hash = content;
    e.payload = std::move(payload);
    e.sign(key);
    return e.encode();
}

std::optional<nlohmann::json> submit_owner_entry(const node_client& node, const bytes& signed_entry,
                                                 bool witnessed) {
    nlohmann::json body{{"entry", base64_encode(signed_entry)}};
    if (witnessed) body["witnessed"] = true;
    auto reply = node.json("POST", "/api/submit", body.dump());
    if (!reply) return std::nullopt;
    // The log must hold exactly what was signed here.
    auto logged = base64_decode(reply->at("entry").get<std::string>());
    if (!logged || *logged != signed_entry)
        throw bad_answer("the node answered with another entry than the one submitted");
    return reply;
}

status append_journal(const std::string& path, const nlohmann::json& reply) {
    auto raw = base64_decode(reply.at("entry").get<std::string>());
    if (!raw) throw bad_answer("'entry' is not base64");
    auto logged = decode_entry(*raw);
    if (!logged) throw bad_answer("'entry' is not a ledger entry: " + logged.message());
    nlohmann::json line{{"index", reply.at("index").get<std::uint64_t>()},
                        {"leaf_hash", hex_encode(merkle::leaf_hash(*raw))},
                        {"identity", logged->identity},
                        {"kind", to_string(logged->kind)},
                        {"content_sha256", hex_encode(logged->content_hash)},
                        {"timestamp_ms", logged->timestamp_ms}};
    if (auto ok = append_durably(path, line.dump() + "\n"); !ok)
        return make_error("--journal " + ok.message());
    return {};
}

} // namespace civic::node::cli_detail
