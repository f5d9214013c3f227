// civic-bench-protocol: throughput of the protocol library, and how close each
// operation runs to the raw primitive it is built on (SHA-256 compressions,
// Ed25519 sign/verify). After the normal Google Benchmark output, a second table
// relates every benchmark to its baseline:
//
//   ratio = ops/s / (baseline ops/s * factor)   1.00 = running at the primitive's limit
//   ratio = 1/N                                 one op costs N baseline ops
//
// Deterministic inputs throughout (fixed seeds, fixed keys).
// One file over 600 lines on purpose: the ratio table at its end names every
// benchmark registered above it, and one program keeps them in step.

#include "protocol/bundle.hpp"
#include "protocol/bytes.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/cosignature.hpp"
#include "protocol/ed25519.hpp"
#include "protocol/entry.hpp"
#include "protocol/merkle.hpp"
#include "protocol/note.hpp"
#include "protocol/result.hpp"
#include "protocol/sha256.hpp"
#include "protocol/tiles.hpp"
#include "protocol/tlog_proof.hpp"

#include <benchmark/benchmark.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using civic::hash;

// ---------------------------------------------------------------------------
// Benchmark names (shared by registration and the ratio table).

constexpr const char* bm_sha256_bulk = "sha256/compressions_bulk_64KiB";
constexpr const char* bm_sha256_reused = "sha256/1block_reused";
constexpr const char* bm_sha256_oneshot = "sha256/1block_openssl_oneshot";
constexpr const char* bm_sha256_direct = "sha256/1block_direct";
constexpr const char* bm_ed25519_sign = "ed25519/sign_100B";
constexpr const char* bm_ed25519_verify = "ed25519/verify_100B";
constexpr const char* bm_leaf_hash = "merkle/leaf_hash_100B";
constexpr const char* bm_node_hash = "merkle/node_hash";
constexpr const char* bm_compact_append = "merkle/compact_range_append";
constexpr const char* bm_tiles_append = "tiles/memory_tiles_append";
constexpr const char* bm_incl_gen = "proof/inclusion_generate_1M";
constexpr const char* bm_cons_gen = "proof/consistency_generate_1M";
constexpr const char* bm_incl_cache_random = "proof/inclusion_generate_1M_tile_cache_random";
constexpr const char* bm_incl_cache_edge = "proof/inclusion_generate_1M_tile_cache_newest";
constexpr const char* bm_incl_verify = "proof/inclusion_verify_1M";
constexpr const char* bm_cons_verify = "proof/consistency_verify_1M";
constexpr const char* bm_note_sign = "note/sign_checkpoint";
constexpr const char* bm_note_open1 = "note/open_1_ed25519";
constexpr const char* bm_note_open4 = "note/open_log_3_cosigners";
constexpr const char* bm_note_parse = "note/parse_4_sigs";
constexpr const char* bm_cp_parse = "checkpoint/parse_body";
constexpr const char* bm_cp_parse_signed = "checkpoint/parse_signed_4_sigs";
constexpr const char* bm_tlog_parse = "tlog_proof/parse_20_hashes";
constexpr const char* bm_entry_encode = "entry/encode";
constexpr const char* bm_entry_decode = "entry/decode";
constexpr const char* bm_bundle_uncached = "bundle/verify_offline_uncached";
constexpr const char* bm_bundle_cached = "bundle/verify_offline_cached_checkpoint";
constexpr const char* bm_bundle_cached_2 = "bundle/verify_offline_cached_checkpoint_2_threads";

constexpr double default_min_time = 0.5; // seconds per benchmark

// ---------------------------------------------------------------------------
// Fixtures.

[[noreturn]] void fixture_failed(const std::string& what) {
    std::fprintf(stderr, "civic-bench-protocol: fixture setup failed: %s\n", what.c_str());
    std::abort();
}

civic::bytes patterned_bytes(std::size_t n, std::uint8_t seed) {
    civic::bytes out(n);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<std::uint8_t>(seed + 31 * i);
    return out;
}

civic::ed25519::secret_key key_from_seed(std::uint8_t seed_byte) {
    std::array<std::uint8_t, civic::ed25519::seed_size> seed{};
    seed.fill(seed_byte);
    auto key = civic::ed25519::secret_key::from_seed(seed);
    if (!key) fixture_failed(key.message());
    return std::move(key).value();
}

/// The leaf hash of entry number i of the benchmark tree.
hash tree_leaf(std::uint64_t i) {
    civic::bytes entry;
    civic::put_u64_be(entry, i);
    civic::put_u64_be(entry, i ^ 0x9e3779b97f4a7c15ULL);
    return civic::merkle::leaf_hash(entry);
}

/// Average node hashes an operation needs, computed from the sample by the proof
/// fixture (0 until it is built); shown in the ratio table's notes.
struct needed_hashes {
    double inclusion_generate = 0, consistency_generate = 0;
    double inclusion_verify = 0, consistency_verify = 0;
};
needed_hashes needed_avg;

/// Node hashes needed to produce the hashes of `ranges` from tiles: each
/// perfect subtree of height h inside a tile is re-hashed (2^h - 1 hashes), and
/// the subtrees of one range are folded (count - 1 hashes).
double tile_proof_hashes(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges) {
    double total = 0;
    for (const auto& [begin, end] : ranges) {
        auto nodes = civic::merkle::decompose(begin, end);
        total += static_cast<double>(nodes.size() - 1);
        for (const auto& node : nodes)
            total += static_cast<double>(
                (std::uint64_t{1} << (node.level % civic::tiles::tile_height)) - 1);
    }
    return total;
}

/// Node hashes RFC 9162 consistency verification computes for a valid proof.
double consistency_verify_hashes(std::uint64_t size1, std::uint64_t size2, std::size_t proof_size) {
    std::size_t start = (size1 & (size1 - 1)) == 0 ? 0 : 1;
    std::uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    double total = 0;
    for (std::size_t i = start; i < proof_size; ++i) {
        if ((fn & 1) || fn == sn) {
            total += 2;
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            total += 1;
        }
        fn >>= 1;
        sn >>= 1;
    }
    return total;
}

constexpr std::uint64_t tree_size = 1000000;
constexpr std::size_t sample_count = 4096; // pre-drawn pseudo-random inputs (power of two)

/// A tiled tree of 10^6 leaves, pseudo-random proof requests, and pre-generated
/// proofs for verification. Built once, on first use.
struct proof_fixture {
    civic::tiles::memory_tiles tree;
    hash root{};
    std::vector<std::uint64_t> inclusion_index;                       // for size tree_size
    std::vector<std::pair<std::uint64_t, std::uint64_t>> consistency; // (old, new)

    std::vector<hash> inclusion_leaf;
    std::vector<std::vector<hash>> inclusion_proofs;
    std::vector<hash> old_root, new_root;
    std::vector<std::vector<hash>> consistency_proofs;
};

const proof_fixture& proofs() {
    static const std::unique_ptr<proof_fixture> fixture = [] {
        auto f = std::make_unique<proof_fixture>();
        for (std::uint64_t i = 0; i < tree_size; ++i)
            f->tree.append(tree_leaf(i));
        f->root = f->tree.root();

        std::mt19937_64 rng(20240601);
        std::uniform_int_distribution<std::uint64_t> any_index(0, tree_size - 1);
        for (std::size_t i = 0; i < sample_count; ++i) {
            f->inclusion_index.push_back(any_index(rng));
            std::uniform_int_distribution<std::uint64_t> old_dist(1, tree_size - 1);
            std::uint64_t old_size = old_dist(rng);
            std::uniform_int_distribution<std::uint64_t> new_dist(old_size + 1, tree_size);
            f->consistency.emplace_back(old_size, new_dist(rng));
        }

        for (std::size_t i = 0; i < sample_count; ++i) {
            std::uint64_t index = f->inclusion_index[i];
            auto proof = civic::tiles::inclusion_proof(f->tree, index, tree_size);
            if (!proof) fixture_failed(proof.message());
            hash leaf = tree_leaf(index);
            if (auto ok = civic::merkle::verify_inclusion(index, tree_size, leaf, *proof, f->root);
                !ok)
                fixture_failed(ok.message());
            f->inclusion_leaf.push_back(leaf);
            f->inclusion_proofs.push_back(std::move(*proof));

            auto [old_size, new_size] = f->consistency[i];
            auto proof2 = civic::tiles::consistency_proof(f->tree, old_size, new_size);
            if (!proof2) fixture_failed(proof2.message());
            auto r1 = civic::tiles::root_at(f->tree, tree_size, old_size);
            auto r2 = civic::tiles::root_at(f->tree, tree_size, new_size);
            if (!r1 || !r2) fixture_failed("root_at");
            if (auto ok = civic::merkle::verify_consistency(old_size, new_size, *proof2, *r1, *r2);
                !ok)
                fixture_failed(ok.message());
            f->old_root.push_back(*r1);
            f->new_root.push_back(*r2);
            needed_avg.inclusion_generate +=
                tile_proof_hashes(civic::tiles::inclusion_ranges(index, tree_size));
            needed_avg.consistency_generate +=
                tile_proof_hashes(civic::tiles::consistency_ranges(old_size, new_size));
            needed_avg.inclusion_verify += static_cast<double>(f->inclusion_proofs.back().size());
            needed_avg.consistency_verify +=
                consistency_verify_hashes(old_size, new_size, proof2->size());
            f->consistency_proofs.push_back(std::move(*proof2));
        }
        constexpr auto n = static_cast<double>(sample_count);
        needed_avg.inclusion_generate /= n;
        needed_avg.consistency_generate /= n;
        needed_avg.inclusion_verify /= n;
        needed_avg.consistency_verify /= n;
        return f;
    }();
    return *fixture;
}

/// A log key, three witnesses, a checkpoint and its signed forms; an entry; a
/// tlog-proof file.
struct note_fixture {
    civic::note::ed25519_signer log{"example.com/civic-attest", key_from_seed(1)};
    std::vector<civic::note::cosigner> witnesses;
    civic::note::ed25519_verifier log_verifier{log.name(), key_from_seed(1).public_key_bytes()};
    std::vector<civic::note::cosignature_verifier> witness_verifiers;

    civic::checkpoint body;
    std::string text;           // checkpoint note text
    std::string signed_by_log;  // serialized note, log signature only
    std::string signed_by_four; // serialized note, log + 3 cosignatures
    civic::note::note note_log; // parsed forms
    civic::note::note note_four;

    civic::ed25519::secret_key author = key_from_seed(9);
    civic::entry attestation;
    civic::bytes entry_bytes;
    std::string tlog_proof_file;

    note_fixture() {
        const char* names[] = {"witness.example.org/w1", "witness.example.net/w2", "w3.example"};
        for (std::uint8_t i = 0; i < 3; ++i) {
            witnesses.emplace_back(names[i], key_from_seed(static_cast<std::uint8_t>(2 + i)));
            witness_verifiers.emplace_back(
                names[i], key_from_seed(static_cast<std::uint8_t>(2 + i)).public_key_bytes());
        }

        body.origin = log.name();
        body.size = 1234567;
        body.root = civic::sha256(civic::byte_view(std::string_view("benchmark root")));
        text = body.text();

        civic::note::note n{text, {log.sign(text)}};
        signed_by_log = civic::note::serialize(n);
        for (std::size_t i = 0; i < witnesses.size(); ++i)
            n.signatures.push_back(witnesses[i].cosign(text, 1767225600 + i));
        signed_by_four = civic::note::serialize(n);

        auto p1 = civic::note::parse(signed_by_log);
        auto p4 = civic::note::parse(signed_by_four);
        if (!p1 || !p4) fixture_failed("note parse");
        note_log = std::move(*p1);
        note_four = std::move(*p4);
        auto opened = civic::note::open(note_four, verifiers_all());
        if (!opened || opened->signed_by.size() != 4) fixture_failed("note open");

        attestation.kind = civic::entry_kind::statement;
        attestation.timestamp_ms = 1767225600123;
        attestation.identity = "alice.example/release-signing";
        attestation.public_key = author.public_key_bytes();
        attestation.content_hash = civic::sha256(patterned_bytes(4096, 7));
        std::string meta = R"({"name":"civic-attest-0.1.0.tar.gz","type":"release","size":4096})";
        attestation.payload.assign(meta.begin(), meta.end());
        attestation.sign(author);
        if (!civic::check_entry(attestation) || !attestation.signature_valid())
            fixture_failed("entry check");
        entry_bytes = attestation.encode();
        auto decoded = civic::decode_entry(entry_bytes);
        if (!decoded || !(*decoded == attestation)) fixture_failed("entry round trip");

        civic::tlog_proof proof;
        proof.extra = entry_bytes;
        proof.index = 987654;
        for (std::uint64_t i = 0; i < 20; ++i)
            proof.inclusion.push_back(tree_leaf(i));
        proof.checkpoint = signed_by_four;
        tlog_proof_file = proof.serialize();
        auto parsed = civic::parse_tlog_proof(tlog_proof_file);
        if (!parsed || parsed->inclusion.size() != 20) fixture_failed("tlog-proof round trip");
    }

    std::vector<const civic::note::verifier*> verifiers_log() const { return {&log_verifier}; }
    std::vector<const civic::note::verifier*> verifiers_all() const {
        std::vector<const civic::note::verifier*> out{&log_verifier};
        for (const auto& w : witness_verifiers)
            out.push_back(&w);
        return out;
    }
};

const note_fixture& notes() {
    static const note_fixture fixture;
    return fixture;
}

// ---------------------------------------------------------------------------
// Raw primitives.

// 55 bytes: the longest message that pads into a single 64-byte block.
constexpr std::size_t one_block_message = 55;

// Bulk hashing: items are 64-byte compressions, so this is the compression
// function's own rate with the per-call EVP overhead amortised away.
constexpr std::size_t bulk_size = 64 * 1024;

void bench_sha256_bulk(benchmark::State& state) {
    const civic::bytes msg = patterned_bytes(bulk_size, 1);
    civic::sha256_hasher hasher;
    for (auto _ : state) {
        hash digest = hasher.reset().update(msg).finish();
        benchmark::DoNotOptimize(digest);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(bulk_size / 64));
}

void bench_sha256_reused(benchmark::State& state) {
    const civic::bytes msg = patterned_bytes(one_block_message, 1);
    civic::sha256_hasher hasher;
    for (auto _ : state) {
        hash digest = hasher.reset().update(msg).finish();
        benchmark::DoNotOptimize(digest);
    }
    state.SetItemsProcessed(state.iterations());
}

// The path the Merkle hashes take: OpenSSL's SHA256_Init/Update/Final, no EVP provider layer.
void bench_sha256_direct(benchmark::State& state) {
    const civic::bytes msg = patterned_bytes(one_block_message - 1, 1); // + prefix byte = 1 block
    for (auto _ : state) {
        hash digest = civic::sha256_prefixed(0x00, msg);
        benchmark::DoNotOptimize(digest);
    }
    state.SetItemsProcessed(state.iterations());
}

void bench_sha256_oneshot(benchmark::State& state) {
    const civic::bytes msg = patterned_bytes(one_block_message, 1);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    for (auto _ : state) {
        SHA256(msg.data(), msg.size(), digest);
        benchmark::DoNotOptimize(digest);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
}

void bench_ed25519_sign(benchmark::State& state) {
    const auto key = key_from_seed(42);
    const civic::bytes msg = patterned_bytes(100, 2);
    for (auto _ : state) {
        auto sig = key.sign(msg);
        benchmark::DoNotOptimize(sig);
    }
    state.SetItemsProcessed(state.iterations());
}

void bench_ed25519_verify(benchmark::State& state) {
    const auto key = key_from_seed(42);
    const civic::bytes msg = patterned_bytes(100, 2);
    const auto sig = key.sign(msg);
    const auto& pk = key.public_key_bytes();
    for (auto _ : state) {
        bool ok = civic::ed25519::verify(pk, msg, sig);
        if (!ok) {
            state.SkipWithError("signature did not verify");
            break;
        }
        benchmark::DoNotOptimize(ok);
    }
    state.SetItemsProcessed(state.iterations());
}

// ---------------------------------------------------------------------------
// Merkle hashing and appends.

void bench_leaf_hash(benchmark::State& state) {
    const civic::bytes entry = patterned_bytes(100, 3);
    for (auto _ : state) {
        hash h = civic::merkle::leaf_hash(entry);
        benchmark::DoNotOptimize(h);
    }
    state.SetItemsProcessed(state.iterations());
}

void bench_node_hash(benchmark::State& state) {
    hash left = tree_leaf(1), right = tree_leaf(2);
    for (auto _ : state) {
        hash h = civic::merkle::node_hash(left, right);
        benchmark::DoNotOptimize(h);
        left = h; // a dependency chain, like climbing a tree
    }
    state.SetItemsProcessed(state.iterations());
}

/// A distinct leaf hash per append without hashing (so the figure is the append
/// alone): a fixed hash with a counter written into its first bytes.
hash counter_leaf(hash base, std::uint64_t counter) {
    std::memcpy(base.data(), &counter, sizeof counter);
    return base;
}

void bench_compact_range_append(benchmark::State& state) {
    civic::merkle::compact_range range; // keeps growing across iterations
    const hash base = tree_leaf(0);
    std::uint64_t n = 0;
    for (auto _ : state) {
        range.append(counter_leaf(base, n++));
        benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(range.size());
    state.SetItemsProcessed(state.iterations());
}

void bench_memory_tiles_append(benchmark::State& state) {
    civic::tiles::memory_tiles tiles; // keeps growing across iterations
    const hash base = tree_leaf(0);
    std::uint64_t n = 0;
    for (auto _ : state) {
        tiles.append(counter_leaf(base, n++));
        benchmark::ClobberMemory();
    }
    benchmark::DoNotOptimize(tiles.size());
    state.SetItemsProcessed(state.iterations());
}

// ---------------------------------------------------------------------------
// Proofs in a tree of 10^6 leaves.

/// Runs `op(i)` over the pre-generated samples, round robin; `op` returns a
/// result or status, and a failure stops the benchmark with its message.
template <class Op>
void over_samples(benchmark::State& state, Op op) {
    std::size_t i = 0;
    for (auto _ : state) {
        auto outcome = op(i);
        if (!outcome) {
            state.SkipWithError(outcome.message().c_str());
            break;
        }
        benchmark::DoNotOptimize(outcome);
        i = (i + 1) & (sample_count - 1);
    }
    state.SetItemsProcessed(state.iterations());
}

void bench_inclusion_generate(benchmark::State& state) {
    const auto& f = proofs();
    over_samples(state, [&](std::size_t i) {
        return civic::tiles::inclusion_proof(f.tree, f.inclusion_index[i], tree_size);
    });
}

void bench_consistency_generate(benchmark::State& state) {
    const auto& f = proofs();
    over_samples(state, [&](std::size_t i) {
        return civic::tiles::consistency_proof(f.tree, f.consistency[i].first,
                                               f.consistency[i].second);
    });
}

// Through tiles::tile_cache (1,024 expanded tiles, 16 MiB), indexes anywhere in the tree:
// misses at level 0 dominate (3,907 level-0 tiles do not fit).
void bench_inclusion_cache_random(benchmark::State& state) {
    const auto& f = proofs();
    civic::tiles::tile_cache cache(f.tree, 1024);
    over_samples(state, [&](std::size_t i) {
        return civic::tiles::inclusion_proof(cache, f.inclusion_index[i], tree_size);
    });
}

// Through tiles::tile_cache, indexes among the newest 4,096 entries: what a ledger does
// when it answers the submissions of its latest batches.
void bench_inclusion_cache_newest(benchmark::State& state) {
    const auto& f = proofs();
    civic::tiles::tile_cache cache(f.tree, 1024);
    over_samples(state, [&](std::size_t i) {
        return civic::tiles::inclusion_proof(cache, tree_size - 1 - (f.inclusion_index[i] % 4096),
                                             tree_size);
    });
}

void bench_inclusion_verify(benchmark::State& state) {
    const auto& f = proofs();
    over_samples(state, [&](std::size_t i) {
        return civic::merkle::verify_inclusion(f.inclusion_index[i], tree_size, f.inclusion_leaf[i],
                                               f.inclusion_proofs[i], f.root);
    });
}

void bench_consistency_verify(benchmark::State& state) {
    const auto& f = proofs();
    over_samples(state, [&](std::size_t i) {
        return civic::merkle::verify_consistency(f.consistency[i].first, f.consistency[i].second,
                                                 f.consistency_proofs[i], f.old_root[i],
                                                 f.new_root[i]);
    });
}

// ---------------------------------------------------------------------------
// Notes, checkpoints, proof files, entries.

void bench_note_sign(benchmark::State& state) {
    const auto& f = notes();
    for (auto _ : state) {
        auto sig = f.log.sign(f.text);
        benchmark::DoNotOptimize(sig.data.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void bench_note_open(benchmark::State& state, const civic::note::note& n,
                     const std::vector<const civic::note::verifier*>& verifiers,
                     std::size_t expected) {
    for (auto _ : state) {
        auto opened = civic::note::open(n, verifiers); // open() takes the note by value
        if (!opened || opened->signed_by.size() != expected) {
            state.SkipWithError("note did not open");
            break;
        }
        benchmark::DoNotOptimize(opened->signed_by.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void bench_note_open1(benchmark::State& state) {
    const auto& f = notes();
    bench_note_open(state, f.note_log, f.verifiers_log(), 1);
}

void bench_note_open4(benchmark::State& state) {
    const auto& f = notes();
    bench_note_open(state, f.note_four, f.verifiers_all(), 4);
}

template <class Parse>
void bench_parse(benchmark::State& state, const std::string& input, Parse parse) {
    for (auto _ : state) {
        auto parsed = parse(input);
        if (!parsed) {
            state.SkipWithError(parsed.message().c_str());
            break;
        }
        benchmark::DoNotOptimize(parsed);
    }
    state.SetItemsProcessed(state.iterations());
}

void bench_note_parse(benchmark::State& state) {
    bench_parse(state, notes().signed_by_four,
                [](std::string_view s) { return civic::note::parse(s); });
}

void bench_checkpoint_parse(benchmark::State& state) {
    bench_parse(state, notes().text, [](std::string_view s) { return civic::parse_checkpoint(s); });
}

void bench_checkpoint_parse_signed(benchmark::State& state) {
    bench_parse(state, notes().signed_by_four,
                [](std::string_view s) { return civic::parse_signed_checkpoint(s); });
}

void bench_tlog_proof_parse(benchmark::State& state) {
    bench_parse(state, notes().tlog_proof_file,
                [](std::string_view s) { return civic::parse_tlog_proof(s); });
}

void bench_entry_encode(benchmark::State& state) {
    const auto& f = notes();
    for (auto _ : state) {
        civic::bytes encoded = f.attestation.encode();
        benchmark::DoNotOptimize(encoded.data());
    }
    state.SetItemsProcessed(state.iterations());
}

void bench_entry_decode(benchmark::State& state) {
    const auto& f = notes();
    for (auto _ : state) {
        auto decoded = civic::decode_entry(f.entry_bytes);
        if (!decoded) {
            state.SkipWithError(decoded.message().c_str());
            break;
        }
        benchmark::DoNotOptimize(decoded->payload.data());
    }
    state.SetItemsProcessed(state.iterations());
}

// ---------------------------------------------------------------------------
// Offline verification of proof files: what `civic-attest verify` and
// /api/verify do per bundle. 4,096 statements by one author under one
// checkpoint signed by the log and 3 witnesses (policy: 2 of 3).

struct bundle_fixture {
    std::vector<std::string> files;
    std::vector<civic::hash> contents;
    std::string policy_text;

    bundle_fixture() {
        auto author = key_from_seed(20);
        civic::note::ed25519_signer log{"example.com/civic-attest", key_from_seed(21)};
        std::vector<civic::entry> entries;
        civic::tiles::memory_tiles tree;
        for (std::uint64_t i = 0; i < 4096; ++i) {
            civic::entry e;
            e.timestamp_ms = 1795000000000 + i;
            e.identity = "town/clerk";
            e.public_key = author.public_key_bytes();
            e.content_hash = civic::sha256(civic::byte_view("document " + std::to_string(i)));
            e.sign(author);
            tree.append(civic::merkle::leaf_hash(e.encode()));
            contents.push_back(e.content_hash);
            entries.push_back(std::move(e));
        }
        civic::checkpoint cp{log.name(), tree.size(), tree.root(), {}};
        civic::note::note n{cp.text(), {log.sign(cp.text())}};
        policy_text = "log " + civic::note::format_vkey(log.verifier_key()) + "\n";
        for (std::uint8_t w = 0; w < 3; ++w) {
            civic::note::cosigner witness("w" + std::to_string(w) + ".example",
                                          key_from_seed(static_cast<std::uint8_t>(22 + w)));
            n.signatures.push_back(witness.cosign(cp.text(), 1795000001));
            policy_text += "witness W" + std::to_string(w) + " " +
                           civic::note::format_vkey(witness.verifier_key()) + "\n";
        }
        policy_text += "group G 2 W0 W1 W2\nquorum G\n";
        auto signed_checkpoint = civic::note::serialize(n);
        for (std::uint64_t i = 0; i < entries.size(); ++i)
            files.push_back(civic::make_bundle(entries[i], i,
                                               *civic::tiles::inclusion_proof(tree, i, tree.size()),
                                               signed_checkpoint)
                                .serialize());
    }
};

const bundle_fixture& bundles() {
    static const bundle_fixture f;
    return f;
}

void verify_bundles(benchmark::State& state, const civic::policy_verifier& trust) {
    const auto& f = bundles();
    // Each thread walks the files from its own offset.
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 1021;
    for (auto _ : state) {
        auto k = i++ % f.files.size();
        auto verdict = civic::verify_bundle(trust, f.files[k], f.contents[k]);
        if (!verdict.valid) {
            state.SkipWithError("a genuine bundle failed to verify");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void bench_bundle_uncached(benchmark::State& state) {
    static const auto trust =
        *civic::policy_verifier::make(*civic::parse_policy(bundles().policy_text));
    verify_bundles(state, trust);
}

void bench_bundle_cached(benchmark::State& state) {
    static const auto trust =
        *civic::policy_verifier::make(*civic::parse_policy(bundles().policy_text), 64);
    verify_bundles(state, trust);
}

// ---------------------------------------------------------------------------
// The ratio table.

enum class ratio_kind {
    none,        // a baseline itself, or no meaningful baseline
    fraction,    // ops/s / (baseline ops/s * factor); 1.00 = at the limit
    equivalents, // printed as 1/N: one op costs N baseline ops
};

struct ratio_row {
    const char* benchmark;
    const char* baseline; // nullptr when kind is none
    double factor;        // baseline ops per op, inverted: expected ops/s = baseline ops/s * factor
    ratio_kind kind;
    const char* note;
    const double* needed = nullptr; // when set and > 0: "needs N" is added to the note
};

constexpr double half = 0.5;
constexpr double quarter = 0.25;

const ratio_row ratio_table[] = {
    {bm_sha256_bulk, nullptr, 1, ratio_kind::none,
     "reference: SHA-256 compressions/s in bulk (no per-call cost)"},
    {bm_sha256_reused, bm_sha256_bulk, 1, ratio_kind::fraction,
     "BASELINE for hashing: 55 B = 1 compression; ratio = share left after EVP per-call cost"},
    {bm_sha256_oneshot, bm_sha256_reused, 1, ratio_kind::fraction,
     "OpenSSL one-shot SHA256(); < 1 = gain of reusing the context"},
    {bm_sha256_direct, bm_sha256_bulk, 1, ratio_kind::fraction,
     "BASELINE for Merkle hashing: SHA256_Init/Update/Final (no EVP dispatch), 1 compression"},
    {bm_ed25519_sign, nullptr, 1, ratio_kind::none, "BASELINE: libsodium Ed25519 sign"},
    {bm_ed25519_verify, nullptr, 1, ratio_kind::none, "BASELINE: libsodium Ed25519 verify"},

    {bm_leaf_hash, bm_sha256_direct, half, ratio_kind::fraction,
     "0x00||100 B = 101 B -> 2 compressions; > 1: per-call cost, not compressions, dominates"},
    {bm_node_hash, bm_sha256_direct, half, ratio_kind::fraction,
     "0x01||L||R = 65 B -> 2 compressions; > 1: per-call cost, not compressions, dominates"},
    {bm_compact_append, bm_node_hash, 1, ratio_kind::fraction,
     "amortised 1 node hash per append (leaf hash precomputed)"},
    {bm_tiles_append, bm_node_hash, 1, ratio_kind::fraction,
     "compact-range append + storing tile-level hashes"},

    {bm_incl_gen, bm_node_hash, 1, ratio_kind::equivalents,
     "N node-hash equivalents per proof; tiles force re-hashing subtrees",
     &needed_avg.inclusion_generate},
    {bm_cons_gen, bm_node_hash, 1, ratio_kind::equivalents,
     "N node-hash equivalents per proof; tiles force re-hashing subtrees",
     &needed_avg.consistency_generate},
    {bm_incl_cache_random, bm_node_hash, 1, ratio_kind::equivalents,
     "N node-hash equivalents per proof, with a 1,024-tile cache (random indexes)"},
    {bm_incl_cache_edge, bm_node_hash, 1, ratio_kind::equivalents,
     "N node-hash equivalents per proof, with a 1,024-tile cache (newest 4,096 entries)"},
    {bm_incl_verify, bm_node_hash, 1, ratio_kind::equivalents,
     "N node-hash equivalents per verify (~log2 10^6)", &needed_avg.inclusion_verify},
    {bm_cons_verify, bm_node_hash, 1, ratio_kind::equivalents, "N node-hash equivalents per verify",
     &needed_avg.consistency_verify},

    {bm_note_sign, bm_ed25519_sign, 1, ratio_kind::fraction,
     "1 Ed25519 sign of the checkpoint text"},
    {bm_note_open1, bm_ed25519_verify, 1, ratio_kind::fraction, "1 Ed25519 verify"},
    {bm_note_open4, bm_ed25519_verify, quarter, ratio_kind::fraction,
     "4 Ed25519 verifies (log + 3 cosignature/v1)"},
    {bm_note_parse, bm_sha256_reused, 1, ratio_kind::equivalents,
     "for scale: 1/N = cost of N one-block SHA-256s"},
    {bm_cp_parse, bm_sha256_reused, 1, ratio_kind::equivalents,
     "for scale: 1/N = cost of N one-block SHA-256s"},
    {bm_cp_parse_signed, bm_sha256_reused, 1, ratio_kind::equivalents,
     "for scale: note parse + body parse"},
    {bm_tlog_parse, bm_sha256_reused, 1, ratio_kind::equivalents,
     "for scale: 20 hashes + extra + 4-sig checkpoint"},
    {bm_entry_encode, bm_sha256_reused, 1, ratio_kind::equivalents,
     "for scale: 1/N = cost of N one-block SHA-256s"},
    {bm_entry_decode, bm_sha256_reused, 1, ratio_kind::equivalents,
     "for scale: 1/N = cost of N one-block SHA-256s"},
    {bm_bundle_uncached, bm_ed25519_verify, 0.2, ratio_kind::fraction,
     "5 Ed25519 verifies: entry, log, 3 cosignatures"},
    {bm_bundle_cached, bm_ed25519_verify, 1, ratio_kind::fraction,
     "1 Ed25519 verify (the entry's): the checkpoint's verdict is cached"},
    {bm_bundle_cached_2, bm_ed25519_verify, 2, ratio_kind::fraction,
     "both cores (real time): 2 x one core's Ed25519 verify = the limit; target 30k/s"},
};

/// Display width of a UTF-8 string (code points; enough for the em dash).
std::size_t display_width(const std::string& s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string pad_right(const std::string& s, std::size_t width) {
    std::size_t w = display_width(s);
    return w >= width ? s : s + std::string(width - w, ' ');
}

std::string pad_left(const std::string& s, std::size_t width) {
    std::size_t w = display_width(s);
    return w >= width ? s : std::string(width - w, ' ') + s;
}

std::string format_double(const char* fmt, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
}

std::string format_rate(double v) {
    if (v >= 1e9) return format_double("%.2fG", v / 1e9);
    if (v >= 1e6) return format_double("%.2fM", v / 1e6);
    if (v >= 1e3) return format_double("%.2fk", v / 1e3);
    return format_double("%.1f", v);
}

std::string format_factor(double factor) {
    if (factor == 1) return "";
    if (factor < 1) return format_double(" /%.0f", 1 / factor);
    return format_double(" x%.0f", factor);
}

const std::string dash = "\xE2\x80\x94"; // U+2014

/// Wraps the reporter the flags ask for (--benchmark_format, --benchmark_color,
/// --benchmark_counters_tabular): passes everything through, records each
/// benchmark's items_per_second, and prints the ratio table at the end.
class ratio_reporter final : public benchmark::BenchmarkReporter {
public:
    explicit ratio_reporter(benchmark::BenchmarkReporter* inner) : inner_(inner) {}

    bool ReportContext(const Context& context) override { return inner_->ReportContext(context); }

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& run : runs) {
            if (run.error_occurred) continue;
            auto it = run.counters.find("items_per_second");
            if (it == run.counters.end()) continue;
            auto& rec = rates_[run.run_name.function_name];
            if (run.run_type == Run::RT_Iteration) {
                rec.sum += it->second.value;
                ++rec.count;
            } else if (run.aggregate_name == "mean") {
                rec.mean = it->second.value;
                rec.has_mean = true;
            }
        }
        inner_->ReportRuns(runs);
    }

    void Finalize() override {
        inner_->Finalize();
        // Keep machine-readable stdout clean: the table goes to stderr unless
        // the display format is the console one.
        bool console = dynamic_cast<benchmark::ConsoleReporter*>(inner_) != nullptr;
        print_table(console ? GetOutputStream() : GetErrorStream());
    }

private:
    struct record {
        double sum = 0;
        int count = 0;
        double mean = 0;
        bool has_mean = false;
    };

    bool rate(const std::string& name, double& out) const {
        auto it = rates_.find(name);
        if (it == rates_.end()) return false;
        if (it->second.has_mean) {
            out = it->second.mean;
            return true;
        }
        if (it->second.count == 0) return false;
        out = it->second.sum / it->second.count;
        return true;
    }

    void print_table(std::ostream& os) const {
        struct line {
            std::string name, ops, baseline, ratio, note;
        };
        std::vector<line> lines;
        std::vector<std::string> listed;
        for (const auto& row : ratio_table) {
            double ops = 0;
            if (!rate(row.benchmark, ops)) continue; // filtered out or failed
            listed.emplace_back(row.benchmark);
            line l{row.benchmark, format_rate(ops), dash, dash, row.note};
            if (row.needed != nullptr && *row.needed > 0)
                l.note += format_double("; needs %.1f node hashes on average", *row.needed);
            if (row.kind != ratio_kind::none) {
                l.baseline = std::string(row.baseline) + format_factor(row.factor);
                double base = 0;
                if (rate(row.baseline, base) && base > 0 && ops > 0) {
                    double expected = base * row.factor;
                    if (row.kind == ratio_kind::fraction)
                        l.ratio = format_double("%.2f", ops / expected);
                    else if (expected / ops >= 1)
                        l.ratio = format_double(expected / ops >= 100 ? "1/%.0f" : "1/%.1f",
                                                expected / ops);
                    else // cheaper than one baseline op: show it as a plain ratio
                        l.ratio = format_double("%.2f", ops / expected);
                }
            }
            lines.push_back(std::move(l));
        }
        // Anything that ran but is missing from the static table.
        for (const auto& [name, rec] : rates_) {
            double ops = 0;
            if (std::find(listed.begin(), listed.end(), name) != listed.end() || !rate(name, ops))
                continue;
            lines.push_back(line{name, format_rate(ops), dash, dash, "(not in the ratio table)"});
        }
        if (lines.empty()) return;

        const line header{"benchmark", "ops/s", "baseline", "ratio", "note"};
        std::size_t w_name = display_width(header.name), w_ops = display_width(header.ops),
                    w_base = display_width(header.baseline), w_ratio = display_width(header.ratio);
        for (const auto& l : lines) {
            w_name = std::max(w_name, display_width(l.name));
            w_ops = std::max(w_ops, display_width(l.ops));
            w_base = std::max(w_base, display_width(l.baseline));
            w_ratio = std::max(w_ratio, display_width(l.ratio));
        }
        auto print = [&](const line& l) {
            os << pad_right(l.name, w_name) << " | " << pad_left(l.ops, w_ops) << " | "
               << pad_right(l.baseline, w_base) << " | " << pad_left(l.ratio, w_ratio) << " | "
               << l.note << '\n';
        };
        os << "\nRatios against raw primitives (items_per_second):\n"
           << "  ratio = ops/s / (baseline ops/s / k) when the baseline reads \"name /k\": 1.00 = "
              "at "
              "the primitive's limit\n"
           << "  ratio = 1/N: one op costs as much as N baseline ops\n"
           << "  " << dash
           << " = no baseline, or the baseline did not run (--benchmark_filter)\n\n";
        print(header);
        os << std::string(w_name, '-') << "-+-" << std::string(w_ops, '-') << "-+-"
           << std::string(w_base, '-') << "-+-" << std::string(w_ratio, '-') << "-+-"
           << std::string(4, '-') << '\n';
        for (const auto& l : lines)
            print(l);
        os.flush();
    }

    benchmark::BenchmarkReporter* inner_; // owned by the library (static)
    std::map<std::string, record> rates_;
};

void register_benchmarks() {
    struct registration {
        const char* name;
        void (*fn)(benchmark::State&);
    };
    const registration all[] = {
        {bm_sha256_bulk, bench_sha256_bulk},
        {bm_sha256_reused, bench_sha256_reused},
        {bm_sha256_oneshot, bench_sha256_oneshot},
        {bm_sha256_direct, bench_sha256_direct},
        {bm_ed25519_sign, bench_ed25519_sign},
        {bm_ed25519_verify, bench_ed25519_verify},
        {bm_leaf_hash, bench_leaf_hash},
        {bm_node_hash, bench_node_hash},
        {bm_compact_append, bench_compact_range_append},
        {bm_tiles_append, bench_memory_tiles_append},
        {bm_incl_gen, bench_inclusion_generate},
        {bm_cons_gen, bench_consistency_generate},
        {bm_incl_cache_random, bench_inclusion_cache_random},
        {bm_incl_cache_edge, bench_inclusion_cache_newest},
        {bm_incl_verify, bench_inclusion_verify},
        {bm_cons_verify, bench_consistency_verify},
        {bm_note_sign, bench_note_sign},
        {bm_note_open1, bench_note_open1},
        {bm_note_open4, bench_note_open4},
        {bm_note_parse, bench_note_parse},
        {bm_cp_parse, bench_checkpoint_parse},
        {bm_cp_parse_signed, bench_checkpoint_parse_signed},
        {bm_tlog_parse, bench_tlog_proof_parse},
        {bm_entry_encode, bench_entry_encode},
        {bm_entry_decode, bench_entry_decode},
        {bm_bundle_uncached, bench_bundle_uncached},
        {bm_bundle_cached, bench_bundle_cached},
    };
    for (const auto& e : all)
        benchmark::RegisterBenchmark(e.name, e.fn)->MinTime(default_min_time);
    benchmark::RegisterBenchmark(bm_bundle_cached_2, bench_bundle_cached)
        ->MinTime(default_min_time)
        ->Threads(2)
        ->UseRealTime();
}

} // namespace

int main(int argc, char** argv) {
    civic::ed25519::ensure_initialized();
    register_benchmarks();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    ratio_reporter reporter(benchmark::CreateDefaultDisplayReporter());
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
