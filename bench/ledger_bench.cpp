// civic-bench-ledger: the ledger actor alone, durable. Clients pipeline appends
// of entries this node's signer made (signed_locally: the ledger checks the
// registry, not the signature) into a ledger whose committer fsyncs every batch.
// Prints appends/s, commit batches, and append latency percentiles.
//
//   civic-bench-ledger [--entries N] [--clients C] [--window W] [--dir DIR]

#include "actors/committer.hpp"
#include "actors/ledger.hpp"
#include "actors/system.hpp"
#include "protocol/entry.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <unistd.h>

using namespace civic;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct options {
    std::size_t entries = 200000;
    std::size_t clients = 8;
    std::size_t window = 512;
    std::string dir = "bench-data";
};

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string flag = argv[i];
        std::string value = argv[i + 1];
        if (flag == "--entries")
            o.entries = std::stoul(value);
        else if (flag == "--clients")
            o.clients = std::stoul(value);
        else if (flag == "--window")
            o.window = std::stoul(value);
        else if (flag == "--dir")
            o.dir = value;
        else {
            std::fprintf(
                stderr,
                "usage: civic-bench-ledger [--entries N] [--clients C] [--window W] [--dir DIR]\n");
            std::exit(2);
        }
    }
    return o;
}

ed25519::secret_key fixed_key() {
    std::array<std::uint8_t, 32> seed{};
    seed.fill(7);
    return std::move(*ed25519::secret_key::from_seed(seed));
}

// Signs the registration and N statements on all cores (not measured).
std::vector<bytes> make_entries(std::size_t n) {
    std::vector<bytes> out(n + 1);
    auto key = fixed_key();
    entry reg;
    reg.kind = entry_kind::identity_registration;
    reg.identity = "bench/clerk";
    reg.public_key = key.public_key_bytes();
    reg.sign(key);
    out[0] = reg.encode();
    auto work = [&](std::size_t from, std::size_t to) {
        auto k = fixed_key();
        for (std::size_t i = from; i < to; ++i) {
            entry e;
            e.timestamp_ms = 1795000000000 + i;
            e.identity = "bench/clerk";
            e.public_key = k.public_key_bytes();
            e.content_hash = sha256(byte_view("document " + std::to_string(i)));
            e.sign(k);
            out[i] = e.encode();
        }
    };
    std::size_t half = (n + 1) / 2;
    std::thread t(work, 1, half);
    work(half, n + 1);
    t.join();
    return out;
}

struct client_state {
    std::vector<double> latencies_us;
};

// Appends entries [first, last) keeping `window` requests in flight.
caf::behavior client(caf::stateful_actor<client_state>* self, actors::ledger_actor ledger,
                     std::shared_ptr<const std::vector<bytes>> entries, std::size_t first,
                     std::size_t last, std::size_t window, caf::actor done) {
    auto next = std::make_shared<std::size_t>(first);
    auto outstanding = std::make_shared<std::size_t>(0);
    auto send_one = std::make_shared<std::function<void()>>();
    *send_one = [=] {
        if (*next >= last) {
            if (*outstanding == 0) {
                self->send(done, self->state.latencies_us);
                self->quit();
            }
            return;
        }
        auto i = (*next)++;
        ++*outstanding;
        auto start = std::chrono::steady_clock::now();
        self->request(ledger, 60s, atoms::append_atom_v, actors::signed_locally{(*entries)[i]})
            .then(
                [=](const actors::append_receipt&) {
                    self->state.latencies_us.push_back(std::chrono::duration<double, std::micro>(
                                                           std::chrono::steady_clock::now() - start)
                                                           .count());
                    --*outstanding;
                    (*send_one)();
                },
                [=](caf::error& err) {
                    std::fprintf(stderr, "append failed: %s\n", caf::to_string(err).c_str());
                    std::exit(1);
                });
    };
    for (std::size_t w = 0; w < window; ++w)
        (*send_one)();
    return {[](caf::tick_atom) {}};
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

} // namespace

int main(int argc, char** argv) {
    auto opt = parse(argc, argv);
    fs::path dir = fs::path(opt.dir) / ("ledger-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);

    std::fprintf(stderr, "signing %zu entries...\n", opt.entries);
    auto entries = std::make_shared<const std::vector<bytes>>(make_entries(opt.entries));

    actors::system_config cfg;
    caf::actor_system sys(cfg);
    auto store = std::shared_ptr<storage::ledger_store>(
        std::move(*storage::ledger_store::open({dir.string()})));
    auto log = std::make_shared<const note::ed25519_signer>("bench.example/log", fixed_key());
    auto committer = sys.spawn<caf::detached>(actors::committer, store);
    actors::ledger_config config;
    config.origin = "bench.example/log";
    config.max_pending = 1000000;
    auto ledger = sys.spawn(actors::ledger, config, store, log, committer);

    caf::scoped_actor self{sys};
    // The registration first, alone.
    self->request(ledger, 10s, atoms::append_atom_v, actors::signed_locally{(*entries)[0]})
        .receive([](const actors::append_receipt&) {},
                 [](caf::error& err) {
                     std::fprintf(stderr, "registration failed: %s\n", caf::to_string(err).c_str());
                     std::exit(1);
                 });

    auto start = std::chrono::steady_clock::now();
    std::size_t per = opt.entries / opt.clients;
    for (std::size_t c = 0; c < opt.clients; ++c) {
        std::size_t first = 1 + c * per;
        std::size_t last = c + 1 == opt.clients ? opt.entries + 1 : first + per;
        sys.spawn(client, ledger, entries, first, last, opt.window, caf::actor{self});
    }
    std::vector<double> all;
    for (std::size_t c = 0; c < opt.clients; ++c)
        self->receive(
            [&](const std::vector<double>& lat) { all.insert(all.end(), lat.begin(), lat.end()); });
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    actors::ledger_status status;
    self->request(ledger, 10s, atoms::status_atom_v)
        .receive([&](const actors::ledger_status& s) { status = s; }, [](caf::error&) {});
    std::printf(
        "ledger: %zu durable appends in %.2f s = %.0f appends/s (%zu clients x %zu in flight)\n",
        opt.entries, seconds, static_cast<double>(opt.entries) / seconds, opt.clients, opt.window);
    std::printf("batches: %llu commits, %.0f entries per commit on average, last commit %.2f ms\n",
                static_cast<unsigned long long>(status.batches),
                static_cast<double>(status.committed_size) /
                    static_cast<double>(std::max<std::uint64_t>(status.batches, 1)),
                static_cast<double>(status.last_commit_us) / 1000.0);
    std::printf("append latency: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n",
                percentile(all, 0.50) / 1000, percentile(all, 0.95) / 1000,
                percentile(all, 0.99) / 1000);
    self->send_exit(ledger, caf::exit_reason::user_shutdown);
    self->send_exit(committer, caf::exit_reason::user_shutdown);
    store.reset();
    fs::remove_all(dir);
    return 0;
}
