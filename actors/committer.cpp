#include "actors/committer.hpp"

#include "actors/errors.hpp"

namespace civic::actors {

committer_actor::behavior_type committer(committer_actor::pointer,
                                         std::shared_ptr<storage::ledger_store> store) {
    return {
        [store](atoms::commit_atom, const batch_ptr& b) -> caf::result<atoms::commit_atom> {
            if (auto ok = store->commit(*b); !ok) return store_write_failed(ok.err());
            return atoms::commit_atom_v;
        },
        [store](atoms::probe_atom, std::uint64_t bytes) -> caf::result<atoms::probe_atom> {
            if (auto ok = store->probe_write(static_cast<std::size_t>(bytes)); !ok)
                return store_write_failed(ok.err());
            return atoms::probe_atom_v;
        },
    };
}

} // namespace civic::actors
