#include "protocol/checkpoint.hpp"

namespace civic {

std::string checkpoint::text() const {
    std::string out = origin;
    out += '\n';
    out += std::to_string(size);
    out += '\n';
    out += base64_encode(root);
    out += '\n';
    for (const auto& ext : extensions) {
        out += ext;
        out += '\n';
    }
    return out;
}

result<checkpoint> parse_checkpoint(std::string_view text) {
    if (text.size() > note::max_note_size) return make_error("checkpoint: too large");
    if (auto ok = note::check_text(text); !ok) return with_context("checkpoint", ok.err());
    checkpoint cp;
    std::size_t line_no = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        ++line_no;
        if (line.empty())
            return make_error("checkpoint: line " + std::to_string(line_no) + " is empty");
        switch (line_no) {
        case 1:
            cp.origin = std::string(line);
            break;
        case 2: {
            auto size = parse_decimal(line);
            if (!size) return make_error("checkpoint: tree size: " + size.message());
            cp.size = *size;
            break;
        }
        case 3: {
            auto root = base64_decode_fixed<32>(line);
            if (!root) return make_error("checkpoint: root hash: " + root.message());
            cp.root = *root;
            break;
        }
        default:
            if (cp.extensions.size() == max_checkpoint_extensions)
                return make_error("checkpoint: too many extension lines");
            cp.extensions.emplace_back(line);
        }
    }
    if (line_no < 3) return make_error("checkpoint: needs origin, size and root hash lines");
    return cp;
}

result<signed_checkpoint> parse_signed_checkpoint(std::string_view input) {
    auto n = note::parse(input);
    if (!n) return with_context("checkpoint note", n.err());
    auto body = parse_checkpoint(n->text);
    if (!body) return body.err();
    return signed_checkpoint{std::move(*body), std::move(*n)};
}

} // namespace civic
