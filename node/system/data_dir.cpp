#include "node/system/data_dir.hpp"

#include "node/system/files.hpp"
#include "protocol/bytes.hpp"
#include "protocol/ed25519.hpp"
#include "protocol/note.hpp"
#include "protocol/sha256.hpp"
#include "storage/ledger_store.hpp"

#include <sodium.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sys/stat.h>

namespace civic::node {

namespace fs = std::filesystem;
using storage::origin_setting;

std::string make_token() {
    ed25519::ensure_initialized();
    std::array<std::uint8_t, 32> raw{};
    randombytes_buf(raw.data(), raw.size());
    auto token = "cat_" + hex_encode(raw);
    sodium_memzero(raw.data(), raw.size());
    return token;
}

result<init_result> init_data_dir(const std::string& dir, const std::string& origin,
                                  const std::string& log_key_file) {
    if (!note::valid_key_name(origin))
        return make_error("--origin '" + origin +
                          "': must be non-empty, with no spaces and no '+'");
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
        return make_error(dir + ": exists and is not empty");
    fs::create_directories(fs::path(dir) / "keys", ec);
    if (!ec) fs::create_directories(fs::path(dir) / "ledger", ec);
    if (ec) return make_error(dir + ": cannot create: " + ec.message());
    ::chmod(dir.c_str(), 0700);
    ::chmod((fs::path(dir) / "keys").c_str(), 0700);

    std::optional<ed25519::secret_key> given;
    if (!log_key_file.empty()) {
        auto k = read_signer_key_file(log_key_file);
        if (!k) return k.err();
        if (k->type != note::type_ed25519 || k->name != origin)
            return make_error(log_key_file + ": not an Ed25519 key named '" + origin + "'");
        given.emplace(std::move(k->key));
    }
    auto key = given ? std::move(*given) : ed25519::secret_key::generate();
    auto secret = note::format_signer_key(origin, note::type_ed25519, key);
    CIVIC_TRY(write_secret_key_file((fs::path(dir) / "log.key").string(), secret));
    note::ed25519_signer log(origin, std::move(key));
    init_result out;
    out.log_vkey = note::format_vkey(log.verifier_key());
    {
        std::ofstream vkey(fs::path(dir) / "log.vkey");
        vkey << out.log_vkey << "\n";
        if (!vkey) return make_error(dir + "/log.vkey: write failed");
    }
    CIVIC_TRY_ASSIGN(store, storage::ledger_store::open({(fs::path(dir) / "ledger").string()}));
    CIVIC_TRY(store->put_setting(origin_setting, origin));
    out.admin_token = make_token();
    CIVIC_TRY(write_secret_file((fs::path(dir) / "admin.token").string(), {out.admin_token, "\n"}));
    CIVIC_TRY(store->put_token(sha256(byte_view(out.admin_token)),
                               storage::token_record{"admin", true, {}}));
    return out;
}

status init_replica_dir(const std::string& dir, const std::string& origin) {
    if (!note::valid_key_name(origin))
        return make_error("origin '" + origin + "': must be non-empty, with no spaces and no '+'");
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
        return make_error(dir + ": exists and is not empty");
    fs::create_directories(fs::path(dir) / "ledger", ec);
    if (ec) return make_error(dir + ": cannot create: " + ec.message());
    ::chmod(dir.c_str(), 0700);
    CIVIC_TRY_ASSIGN(store, storage::ledger_store::open({(fs::path(dir) / "ledger").string()}));
    return store->put_setting(origin_setting, origin);
}

} // namespace civic::node
