// Writes a static tlog-tiles directory of a Civic Attest log with real,
// Ed25519-signed entries (registrations, then statements) and a checkpoint
// signed by a test log key, and prints that key: logs of any size for
// measuring `civic-attest audit` (docs/PERFORMANCE.md's figures).
//
//   civic-audit-log-writer DIR ENTRIES [IDENTITIES]
//
// The same arguments give the same log, so a larger ENTRIES on the same
// directory makes the log grow.
#include "node/audit_log.hpp"

#include <cstdio>
#include <iostream>

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4) {
        std::cerr << "usage: civic-audit-log-writer DIR ENTRIES [IDENTITIES (default 64)]\n";
        return 2;
    }
    auto entries = civic::parse_decimal(argv[2], std::uint64_t{1} << 32);
    auto identities = civic::parse_decimal(argc == 4 ? argv[3] : "64", 1 << 16);
    if (!entries || !identities || *identities == 0) {
        std::cerr << "civic-audit-log-writer: ENTRIES and IDENTITIES are positive numbers\n";
        return 2;
    }
    civic::test::audit_log::static_log log;
    log.entries.reserve(*entries);
    log.add_clean(*entries, *identities);
    log.write(argv[1]);
    std::cout << log.vkey() << "\n";
    return 0;
}
