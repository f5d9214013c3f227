#include "node/cli/cli.hpp"

#include <iostream>

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        return civic::node::run_cli(args, std::cout, std::cerr);
    } catch (const std::exception& e) {
        // Not expected: parsers return errors. Still, never die with an unexplained abort.
        std::cerr << "civic-attest: internal error: " << e.what() << "\n";
        return civic::node::exit_failed;
    }
}
