// civic-bench-storage: what durability costs. Raw fsync'd LMDB commits per second
// on this disk, and durable ledger appends per second by batch size (one write
// transaction and one fsync per batch), with the commit latency per batch; and
// what the background scrub costs: one pass over a store of 1M entries.
//
// The store lives under $CIVIC_BENCH_DIR (default: build dir's bench-data), never
// on tmpfs, so that fsync is real.

#include "protocol/checkpoint.hpp"
#include "storage/ledger_store.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

fs::path bench_dir(const std::string& name) {
    const char* base = std::getenv("CIVIC_BENCH_DIR");
    fs::path dir = fs::path(base ? base : "bench-data") / (name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "civic-bench-storage: %s\n", what.c_str());
    std::abort();
}

// One tiny durable transaction per iteration: the disk's fsync rate through LMDB.
void bench_raw_commit(benchmark::State& state) {
    auto dir = bench_dir("raw");
    auto env = civic::storage::environment::open({dir.string()});
    if (!env) die(env.message());
    auto db = (*env)->database("x");
    if (!db) die(db.message());
    std::uint64_t i = 0;
    for (auto _ : state) {
        auto txn = civic::storage::transaction::begin(**env, false);
        civic::bytes key;
        civic::put_u64_be(key, i++);
        if (!txn || !txn->put(*db, key, key).ok() || !txn->commit().ok()) die("commit failed");
    }
    state.SetItemsProcessed(state.iterations());
    env->reset();
    fs::remove_all(dir);
}

// Durable appends of 160-byte entries in batches of state.range(0): tree update,
// tiles, a signed checkpoint, one commit. Items are entries.
void bench_durable_append(benchmark::State& state) {
    const auto batch_size = static_cast<std::size_t>(state.range(0));
    auto dir = bench_dir("append");
    auto store = civic::storage::ledger_store::open({dir.string()});
    if (!store) die(store.message());
    civic::storage::tree_state tree;
    std::array<std::uint8_t, 32> seed{};
    civic::note::ed25519_signer log("bench.example/log",
                                    std::move(*civic::ed25519::secret_key::from_seed(seed)));
    civic::bytes entry(160, 0x5a);
    std::uint64_t n = 0;
    for (auto _ : state) {
        civic::storage::batch b;
        b.first_index = tree.size();
        b.entries.reserve(batch_size);
        for (std::size_t i = 0; i < batch_size; ++i) {
            civic::put_u64_be(entry, n++); // appended past 160: keep entries distinct, then trim
            entry.resize(160);
            std::copy(entry.end() - 8, entry.end(), entry.begin());
            tree.append(civic::merkle::leaf_hash(entry));
            b.entries.push_back(entry);
        }
        b.tiles = tree.take_changed_tiles();
        b.range = tree.range().hashes();
        civic::checkpoint cp{"bench.example/log", tree.size(), tree.root(), {}};
        b.checkpoint = civic::note::serialize(civic::note::note{cp.text(), {log.sign(cp.text())}});
        if (auto ok = (*store)->commit(b); !ok) die(ok.message());
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch_size));
    state.counters["batches_per_s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    store->reset();
    fs::remove_all(dir);
}

// One scrub pass (ledger_store::scrub_entry_tile over every entry tile) of a
// store of 1M 160-byte entries, its pages in the page cache. Items are entries.
void bench_scrub_pass(benchmark::State& state) {
    constexpr std::uint64_t entries = 1000000;
    auto dir = bench_dir("scrub");
    auto store = civic::storage::ledger_store::open({dir.string()});
    if (!store) die(store.message());
    civic::storage::tree_state tree;
    (*store)->trust(tree);
    std::array<std::uint8_t, 32> seed{};
    civic::note::ed25519_signer log("bench.example/log",
                                    std::move(*civic::ed25519::secret_key::from_seed(seed)));
    civic::bytes entry(160, 0x5a);
    for (std::uint64_t n = 0; n < entries;) {
        civic::storage::batch b;
        b.first_index = tree.size();
        for (std::size_t i = 0; i < 10000 && n < entries; ++i, ++n) {
            std::fill(entry.begin(), entry.end(), 0x5a);
            civic::bytes index;
            civic::put_u64_be(index, n);
            std::copy(index.begin(), index.end(), entry.begin());
            tree.append(civic::merkle::leaf_hash(entry));
            b.entries.push_back(entry);
        }
        b.tiles = tree.take_changed_tiles();
        b.range = tree.range().hashes();
        civic::checkpoint cp{"bench.example/log", tree.size(), tree.root(), {}};
        b.checkpoint = civic::note::serialize(civic::note::note{cp.text(), {log.sign(cp.text())}});
        if (auto ok = (*store)->commit(b); !ok) die(ok.message());
    }
    const std::uint64_t tiles = (entries + 255) / 256;
    for (auto _ : state)
        for (std::uint64_t t = 0; t < tiles; ++t)
            if (auto ok = (*store)->scrub_entry_tile(t); !ok) die(ok.message());
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(entries));
    store->reset();
    fs::remove_all(dir);
}

} // namespace

BENCHMARK(bench_scrub_pass)
    ->Name("ledger_store/scrub_pass_1M")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);
BENCHMARK(bench_raw_commit)->Name("lmdb/fsync_commit")->UseRealTime()->MinTime(2.0);
BENCHMARK(bench_durable_append)
    ->Name("ledger_store/durable_append")
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->UseRealTime()
    ->MinTime(2.0);

BENCHMARK_MAIN();
