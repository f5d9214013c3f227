// The start-up step-down (see leadership.hpp): a leader asks its peers for the
// newest epoch before it signs anything, and sets its ledger aside when it was
// deposed while away.
#include "actors/actors.hpp"
#include "node/leadership/leadership.hpp"
#include "protocol/assert.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <filesystem>

namespace civic::node::leadership {

namespace fs = std::filesystem;

peer_epoch newest_peer_epoch(caf::actor_system& sys, const network_options& net) {
    auto mm =
        net.insecure_dev ? sys.middleman().actor_handle() : sys.openssl_manager().actor_handle();
    auto timeout = std::max(net.system.connection_timeout, std::chrono::milliseconds(1000));
    peer_epoch newest;
    caf::scoped_actor self{sys};
    for (const auto& [host, port] : net.peers) {
        actors::gateway_actor gateway;
        self->request(mm, timeout, caf::connect_atom::value, host, port)
            .receive(
                [&](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
                    gateway = caf::actor_cast<actors::gateway_actor>(std::move(ptr));
                },
                [](caf::error&) {});
        if (!gateway) continue;
        self->request(gateway, timeout, atoms::status_atom_v)
            .receive(
                [&](const actors::node_status& s) {
                    if (s.epoch > newest.epoch) newest = {s.epoch, s.name};
                },
                [](caf::error&) {});
    }
    return newest;
}

result<stepped_down> step_down(const std::string& data_dir, const std::string& origin,
                               std::uint64_t own_epoch, const peer_epoch& newer) {
    CIVIC_ASSERT(newer.epoch > own_epoch);
    const fs::path dir = data_dir;
    // Its store may end in a batch no replica ever got, with a checkpoint of a
    // history the new leader does not share: kept for inspection, never served.
    auto aside = dir / ("ledger.deposed-epoch-" + std::to_string(own_epoch));
    std::error_code ec;
    fs::remove_all(aside, ec);
    fs::rename(dir / "ledger", aside, ec);
    if (ec) return make_error((dir / "ledger").string() + ": cannot set aside: " + ec.message());
    fs::create_directories(dir / "ledger", ec);
    auto fresh = storage::ledger_store::open({(dir / "ledger").string()});
    if (!fresh) return make_error(data_dir + ": " + fresh.message());
    stepped_down out{std::shared_ptr<storage::ledger_store>(std::move(*fresh)), aside.string()};
    CIVIC_TRY(out.store->put_setting(storage::origin_setting, origin));
    CIVIC_TRY(storage::store_epoch(*out.store, newer.epoch));
    CIVIC_TRY(out.store->put_setting(storage::role_setting, "replica"));
    return out;
}

} // namespace civic::node::leadership
