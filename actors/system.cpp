#include "actors/system.hpp"

#include "actors/actors.hpp"

#include <caf/atom.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/timespan.hpp>

namespace civic::actors {

system_config::system_config(const system_options& options) {
    add_message_types<caf::id_block::civic_attest>();
    load<caf::io::middleman>();
    if (!options.tls_ca.empty()) {
        load<caf::openssl::manager>();
        openssl_certificate = options.tls_certificate;
        openssl_key = options.tls_key;
        openssl_cafile = options.tls_ca;
    }
    set("middleman.heartbeat-interval", caf::timespan{options.heartbeat_interval});
    set("middleman.connection-timeout", caf::timespan{options.connection_timeout});
    if (options.deterministic) {
        set("scheduler.policy", caf::atom("testing"));
        // The test multiplexer replaces real sockets; nothing may run on its own thread.
        set("middleman.network-backend", caf::atom("testing"));
        set("middleman.manual-multiplexing", true);
        set("middleman.workers", std::size_t{0});
        set("logger.file-verbosity", caf::atom("quiet"));
    }
    set("work-stealing.moderate-poll-attempts", options.moderate_poll_attempts);
    if (options.worker_threads > 0)
        set("scheduler.max-threads", std::size_t{options.worker_threads});
}

} // namespace civic::actors
