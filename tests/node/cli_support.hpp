// What the CLI tests share: running the command line in this process, files,
// and a node in this process with the flags to reach it.
#pragma once

#include "node/cli/cli.hpp"
#include "node/service/service.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace civic::test::cli_support {

struct cli_result {
    int code;
    std::string out, err;
};

inline cli_result run(std::vector<std::string> args) {
    std::ostringstream out, err;
    int code = node::run_cli(args, out, err);
    return {code, out.str(), err.str()};
}

inline void write(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
}
inline std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// A node in this process (port 0) and the CLI's flags to reach it.
struct cli_node {
    test::temp_dir dir{"cli-node"};
    node::init_result init;
    std::unique_ptr<node::service> node;
    std::string server;
    std::string admin_token_file;
    std::string vkey_file;

    cli_node() {
        auto made = node::init_data_dir(dir / "data", "cli.test/log");
        REQUIRE(made.ok());
        init = *made;
        node::service_options options;
        options.data_dir = dir / "data";
        auto started = node::service::start(options);
        INFO((started ? "" : started.message()));
        REQUIRE(started.ok());
        node = std::move(*started);
        server = "http://127.0.0.1:" + std::to_string(node->http_port());
        admin_token_file = dir / "data/admin.token";
        vkey_file = dir / "data/log.vkey";
    }
    /// `civic-attest identity ACTION --server ... --token-file admin.token ARGS...`.
    cli_result identity(const std::string& action, std::vector<std::string> args = {}) {
        std::vector<std::string> all{"identity", action,         "--server",
                                     server,     "--token-file", admin_token_file};
        all.insert(all.end(), args.begin(), args.end());
        return run(all);
    }
    cli_result log(const std::string& action, std::vector<std::string> args = {}) {
        std::vector<std::string> all{"log", action, "--server", server};
        all.insert(all.end(), args.begin(), args.end());
        return run(all);
    }
};

inline bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}
inline std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}
inline bool is_key_line(const std::string& out) {
    return out.size() == 65 && out.back() == '\n' && hex_decode(out.substr(0, 64)).ok();
}

} // namespace civic::test::cli_support
