// A node's HTTP API: the one route table (routes.cpp) over a node's
// operations. Every route, its methods and its handler are listed there.
#pragma once

#include "node/api/handlers.hpp"
#include "node/api/witnessed.hpp"
#include "node/http/server.hpp"

namespace civic::node::api {

class node_api {
public:
    /// The routes `ops.facts()` calls for: a ledger's (leader or replica, and
    /// add-checkpoint if it is also a witness), or a witness's alone.
    explicit node_api(operations& ops);
    node_api(const node_api&) = delete; // the routes hold `this`
    node_api& operator=(const node_api&) = delete;

    void handle(const http_request& request, http_respond respond);

    /// Requests waiting for a witnessed answer.
    std::size_t witnessed_waiting() const { return waiter_.waiting(); }

private:
    /// A handler that answers at once, and one that answers later (it asks the
    /// node's actors).
    using now_handler = http_response (*)(context&, const call&);
    using later_handler = void (*)(context&, const call&, http_respond);
    void add(const std::vector<std::string>& methods, std::string pattern, now_handler run);
    void add(const std::vector<std::string>& methods, std::string pattern, later_handler run);
    void add_ledger_routes();
    void add_witness_routes();

    witnessed_waiter waiter_;
    context context_;
    router routes_;
};

} // namespace civic::node::api
