#include "actors/errors.hpp"

#include "storage/lmdb.hpp"

#include <caf/atom.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace civic::actors {

caf::error make_error(errc code, std::string message) {
    return caf::error(static_cast<std::uint8_t>(code), error_category,
                      caf::make_message(std::move(message)));
}

std::uint8_t code_of(const caf::error& e) {
    // CAF 0.17 cannot give the category of an empty error.
    if (!e) return 0;
    return e.category() == error_category ? e.code() : 0;
}

std::string message_of(const caf::error& e) {
    if (!e) return "no error";
    if (e.category() == error_category && e.context().match_elements<std::string>())
        return e.context().get_as<std::string>(0);
    return caf::to_string(e);
}

caf::error store_write_failed(const civic::error& e) {
    bool no_room = storage::shortage_of(e) != storage::space_shortage::none;
    return make_error(no_room ? errc::no_space : errc::storage_failure, e.message);
}

} // namespace civic::actors
