// What the commands that talk to a node share: --server and --token-file, the
// API token, and node_client's calls with their error reports.
#include "node/cli/commands.hpp"
#include "node/system/files.hpp"
#include "protocol/note.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string_view>

namespace civic::node::cli_detail {

namespace {

constexpr const char* default_server = "http://127.0.0.1:8080";
constexpr auto call_timeout = std::chrono::seconds(30);
/// Most characters of a node's text repeated in an error message.
constexpr std::size_t max_echo = 300;

} // namespace

std::string printable(std::string_view text, std::size_t limit) {
    bool cut = text.size() > limit;
    text = text.substr(0, limit);
    bool utf8 = note::valid_utf8(text);
    std::string out;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        out += u < 0x20 || u == 0x7f || (u >= 0x80 && !utf8) ? '?' : c;
    }
    return cut ? out + "..." : out;
}

namespace {

std::string printable(std::string_view text) { return cli_detail::printable(text, max_echo); }

} // namespace

void describe_server(po::options_description& o) {
    o.add_options()("server", po::value<std::string>()->default_value(default_server),
                    "the node, http://HOST:PORT");
}

void describe_token_file(po::options_description& o, const char* who_needs_it) {
    o.add_options()("token-file", po::value<std::string>(),
                    (std::string(who_needs_it) +
                     ": file holding the API token (mode 0600); default: $CIVIC_ATTEST_TOKEN")
                        .c_str());
}

result<std::string> read_token(const po::variables_map& vm, bool from_environment) {
    std::string token;
    std::string source = "CIVIC_ATTEST_TOKEN";
    if (vm.count("token-file") && vm["token-file"].as<std::string>() == "-") {
        source = "--token-file - (standard input)";
        std::getline(std::cin, token);
        if (!token.empty() && token.back() == '\r') token.pop_back();
    } else if (vm.count("token-file")) {
        source = "--token-file " + vm["token-file"].as<std::string>();
        auto text = read_secret_file(vm["token-file"].as<std::string>());
        if (!text) return make_error("--token-file " + text.message());
        token = text->substr(0, text->find_first_of("\r\n"));
        ed25519::wipe(text->data(), text->size());
    } else if (!from_environment) {
        return make_error("give --token-file FILE, or --token-file - to read it from standard "
                          "input");
    } else if (const char* env = std::getenv("CIVIC_ATTEST_TOKEN")) {
        token = env;
    } else {
        return make_error("give --token-file FILE or set CIVIC_ATTEST_TOKEN");
    }
    // It goes into an HTTP header: printable ASCII, no spaces.
    bool printable_ascii = !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
        return c > ' ' && c < 0x7f;
    });
    if (!printable_ascii)
        return make_error(source + ": not a token (empty, or spaces or control characters)");
    return token;
}

status node_client::authorize(const po::variables_map& vm) {
    auto token = read_token(vm);
    if (!token) return token.err();
    authorization = "Bearer " + *token;
    return {};
}

int node_client::usage_error(const std::string& message) const {
    *err << who << ": " << message << "\n";
    return exit_usage;
}

std::optional<std::string> node_client::text(const std::string& method, const std::string& target,
                                             const std::string& body, bool* not_found) const {
    auto res = http_call(server, method, target, body, authorization, call_timeout);
    if (!res) {
        // No answer: refused, timed out, or too large (http_call bounds it).
        *err << who << ": request failed: " << res.message() << "\n";
        return std::nullopt;
    }
    if (res->status >= 200 && res->status < 300) return std::move(res->body);
    if (not_found && res->status == 404) {
        *not_found = true;
        return std::nullopt;
    }
    auto reply = nlohmann::json::parse(res->body, nullptr, false);
    *err << who << ": the node answered " << res->status;
    if (reply.is_object() && reply.contains("error") && reply["error"].is_string() &&
        reply.contains("message") && reply["message"].is_string())
        *err << " " << printable(reply["error"].get<std::string>()) << ": "
             << printable(reply["message"].get<std::string>()) << "\n";
    else
        *err << ": " << printable(res->body) << "\n";
    return std::nullopt;
}

std::optional<nlohmann::json> node_client::json(const std::string& method,
                                                const std::string& target, const std::string& body,
                                                bool* not_found) const {
    auto answer = text(method, target, body, not_found);
    if (!answer) return std::nullopt;
    auto reply = nlohmann::json::parse(*answer, nullptr, false);
    if (!reply.is_object()) {
        *err << who << ": the node's answer is not a JSON object: " << printable(*answer) << "\n";
        return std::nullopt;
    }
    return reply;
}

std::optional<node_client> open_node(const po::variables_map& vm, std::string who,
                                     std::ostream& err) {
    auto server = parse_server_url(vm["server"].as<std::string>());
    if (!server) {
        err << who << ": --server: " << server.message() << "\n";
        return std::nullopt;
    }
    return node_client{std::move(who), std::move(*server), "", &err};
}

std::string key_hex(const nlohmann::json& j, const char* field) {
    auto text = j.at(field).get<std::string>();
    auto decoded = hex_decode(text);
    if (!decoded || decoded->size() != ed25519::public_key{}.size())
        throw bad_answer(std::string("'") + field + "' is not 64 hex digits");
    return text;
}

result<std::optional<std::uint64_t>> number_flag(const po::variables_map& vm, const char* flag) {
    if (!vm.count(flag)) return std::optional<std::uint64_t>();
    auto text = vm[flag].as<std::string>();
    auto n = parse_decimal(text);
    if (!n) return make_error(std::string("--") + flag + " '" + text + "': " + n.message());
    return std::optional<std::uint64_t>(*n);
}

status refuse_flags(const po::variables_map& vm, const std::vector<const char*>& flags,
                    const std::string& action) {
    for (const char* flag : flags)
        if (vm.count(flag))
            return make_error(std::string("--") + flag + " is not used by '" + action + "'");
    return {};
}

} // namespace civic::node::cli_detail
