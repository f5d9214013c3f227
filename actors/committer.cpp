#include "actors/committer.hpp"

#include "actors/errors.hpp"

namespace civic::actors {

committer_actor::behavior_type committer(committer_actor::pointer,
                                         std::shared_ptr<storage::ledger_store> store) {
    return {
        [store](atoms::commit_atom, const batch_ptr& b) -> caf::result<atoms::commit_atom> {
            if (auto ok = store->commit(*b); !ok)
                return make_error(errc::storage_failure, ok.message());
            return atoms::commit_atom_v;
        },
    };
}

} // namespace civic::actors
