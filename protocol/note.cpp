#include "protocol/note.hpp"

#include "protocol/cosignature.hpp"
#include "protocol/sha256.hpp"

#include <algorithm>

namespace civic::note {
namespace {

constexpr std::string_view em_dash_space = "\xE2\x80\x94 "; // U+2014 U+0020

// Decodes one UTF-8 code point at s[i]; returns its length, 0 if invalid.
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    unsigned char c = b(0);
    if (c < 0x80) {
        cp = c;
        return 1;
    }
    std::size_t len;
    char32_t min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (i + len > s.size()) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        if ((b(k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(k) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

bool is_unicode_space(char32_t cp) {
    // The Unicode White_Space property.
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

result<signature> parse_signature_line(std::string_view line) {
    if (line.substr(0, em_dash_space.size()) != em_dash_space)
        return make_error("signature line does not start with an em dash and a space");
    line.remove_prefix(em_dash_space.size());
    auto space = line.rfind(' ');
    if (space == std::string_view::npos) return make_error("signature line has no signature");
    auto name = line.substr(0, space);
    if (!valid_key_name(name)) return make_error("signature line has an invalid key name");
    auto decoded = base64_decode(line.substr(space + 1));
    if (!decoded) return make_error("signature line: " + decoded.message());
    if (decoded->size() < 5) return make_error("signature line: signature is too short");
    signature sig;
    sig.name = std::string(name);
    sig.key_id = get_u32_be(decoded->data());
    sig.data.assign(decoded->begin() + 4, decoded->end());
    return sig;
}

// The spec's hex is fixed-length lowercase: the only accepted spelling of a key ID.
bool lowercase_hex32(std::string_view text) {
    return text.size() == 8 && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::uint32_t derive_id(std::string_view name, std::uint8_t type, const ed25519::public_key& key) {
    return key_id(name, type, byte_view(key));
}

} // namespace

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        char32_t cp = 0;
        std::size_t n = decode_utf8(s, i, cp);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

bool valid_key_name(std::string_view name) {
    if (name.empty() || !valid_utf8(name)) return false;
    for (std::size_t i = 0; i < name.size();) {
        char32_t cp = 0;
        std::size_t n = decode_utf8(name, i, cp);
        if (n == 0 || cp == '+' || cp < 0x20 || cp == 0x7F || is_unicode_space(cp)) return false;
        i += n;
    }
    return true;
}

status check_text(std::string_view text) {
    if (text.empty()) return make_error("note text is empty");
    if (text.back() != '\n') return make_error("note text does not end in a newline");
    if (!valid_utf8(text)) return make_error("note is not valid UTF-8");
    for (char c : text)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n')
            return make_error("note contains a control character");
    return {};
}

result<note> parse(std::string_view input) {
    if (input.size() > max_note_size)
        return make_error("note is larger than " + std::to_string(max_note_size) + " bytes");
    CIVIC_TRY(check_text(input));
    // The text ends at the last blank line; the text keeps its final newline.
    auto split = input.rfind("\n\n");
    if (split == std::string_view::npos)
        return make_error("note has no blank line before its signatures");
    note n;
    n.text = std::string(input.substr(0, split + 1));
    std::string_view sigs = input.substr(split + 2);
    if (sigs.empty()) return make_error("note has no signatures");
    while (!sigs.empty()) {
        auto nl = sigs.find('\n'); // present: input ends in a newline
        if (n.signatures.size() == max_signatures)
            return make_error("note has more than " + std::to_string(max_signatures) +
                              " signatures");
        auto sig = parse_signature_line(sigs.substr(0, nl));
        if (!sig) return sig.err();
        n.signatures.push_back(std::move(*sig));
        sigs.remove_prefix(nl + 1);
    }
    return n;
}

std::string signature_line(const signature& sig) {
    bytes raw;
    raw.reserve(4 + sig.data.size());
    put_u32_be(raw, sig.key_id);
    raw.insert(raw.end(), sig.data.begin(), sig.data.end());
    std::string line(em_dash_space);
    line += sig.name;
    line += ' ';
    line += base64_encode(raw);
    line += '\n';
    return line;
}

std::string serialize(const note& n) {
    std::string out = n.text;
    out += '\n';
    for (const auto& sig : n.signatures)
        out += signature_line(sig);
    return out;
}

std::uint32_t key_id(std::string_view name, std::uint8_t type, byte_view public_key) {
    auto& h = thread_hasher().reset();
    h.update(byte_view(name)).update(std::uint8_t{'\n'}).update(type).update(public_key);
    auto digest = h.finish();
    return get_u32_be(digest.data());
}

result<vkey> parse_vkey(std::string_view text) {
    auto plus1 = text.find('+');
    if (plus1 == std::string_view::npos) return make_error("vkey: expected name+id+key");
    auto plus2 = text.find('+', plus1 + 1);
    if (plus2 == std::string_view::npos) return make_error("vkey: expected name+id+key");
    vkey key;
    key.name = std::string(text.substr(0, plus1));
    if (!valid_key_name(key.name)) return make_error("vkey: invalid key name");
    auto id_text = text.substr(plus1 + 1, plus2 - plus1 - 1);
    if (!lowercase_hex32(id_text)) return make_error("vkey: key ID must be 8 lowercase hex digits");
    auto id = hex_decode(id_text);
    if (!id) return make_error("vkey: key ID must be 8 hex digits");
    key.key_id = get_u32_be(id->data());
    auto material = base64_decode(text.substr(plus2 + 1));
    if (!material) return make_error("vkey: " + material.message());
    if (material->size() < 2) return make_error("vkey: key material too short");
    key.type = (*material)[0];
    key.public_key.assign(material->begin() + 1, material->end());
    if (key.type == type_ed25519 || key.type == type_cosignature_v1) {
        if (key.public_key.size() != ed25519::public_key_size)
            return make_error("vkey: Ed25519 public key must be 32 bytes");
        if (civic::note::key_id(key.name, key.type, key.public_key) != key.key_id)
            return make_error("vkey: key ID does not match name and key");
    }
    return key;
}

std::string format_vkey(const vkey& key) {
    bytes material;
    material.push_back(key.type);
    material.insert(material.end(), key.public_key.begin(), key.public_key.end());
    bytes id;
    put_u32_be(id, key.key_id);
    return key.name + "+" + hex_encode(id) + "+" + base64_encode(material);
}

std::string format_signer_key(const std::string& name, std::uint8_t type,
                              const ed25519::secret_key& key) {
    bytes material(1 + ed25519::seed_size);
    material[0] = type;
    key.copy_seed(material.data() + 1);
    bytes id;
    put_u32_be(id, civic::note::key_id(name, type, byte_view(key.public_key_bytes())));
    // Built in one buffer reserved up front: a chain of '+' would leave copies of
    // the secret in freed buffers that nobody wipes.
    auto encoded = base64_encode(material);
    ed25519::wipe(material.data(), material.size());
    constexpr std::string_view prefix = "PRIVATE+KEY+";
    auto id_text = hex_encode(id);
    std::string out;
    out.reserve(prefix.size() + name.size() + 1 + id_text.size() + 1 + encoded.size());
    out.append(prefix).append(name).append("+").append(id_text).append("+").append(encoded);
    ed25519::wipe(encoded.data(), encoded.size());
    return out;
}

result<signer_key> parse_signer_key(std::string_view text) {
    constexpr std::string_view prefix = "PRIVATE+KEY+";
    if (text.substr(0, prefix.size()) != prefix)
        return make_error("signer key: must start with PRIVATE+KEY+");
    text.remove_prefix(prefix.size());
    auto plus1 = text.find('+');
    auto plus2 = plus1 == std::string_view::npos ? plus1 : text.find('+', plus1 + 1);
    if (plus2 == std::string_view::npos)
        return make_error("signer key: expected PRIVATE+KEY+name+id+key");
    std::string name(text.substr(0, plus1));
    if (!valid_key_name(name)) return make_error("signer key: invalid key name");
    auto id_text = text.substr(plus1 + 1, plus2 - plus1 - 1);
    if (!lowercase_hex32(id_text))
        return make_error("signer key: key ID must be 8 lowercase hex digits");
    auto id = hex_decode(id_text);
    auto material = base64_decode(text.substr(plus2 + 1));
    if (!material || material->size() != 1 + ed25519::seed_size)
        return make_error("signer key: key material must be a type byte and a 32-byte seed");
    std::uint8_t type = (*material)[0];
    auto key = ed25519::secret_key::from_seed(byte_view(material->data() + 1, ed25519::seed_size));
    ed25519::wipe(material->data(), material->size());
    if (type != type_ed25519 && type != type_cosignature_v1)
        return make_error("signer key: unsupported type " + std::to_string(type));
    if (civic::note::key_id(name, type, byte_view(key->public_key_bytes())) !=
        get_u32_be(id->data()))
        return make_error("signer key: key ID does not match name and key");
    return signer_key{std::move(name), type, std::move(*key)};
}

ed25519_verifier::ed25519_verifier(std::string name, const ed25519::public_key& key)
    : name_(std::move(name)), key_(key), id_(derive_id(name_, type_ed25519, key)) {}

bool ed25519_verifier::verify(std::string_view text, byte_view sig) const {
    return ed25519::verify(key_, byte_view(text), sig);
}

cosignature_verifier::cosignature_verifier(std::string name, const ed25519::public_key& key)
    : name_(std::move(name)), key_(key), id_(derive_id(name_, type_cosignature_v1, key)) {}

bool cosignature_verifier::verify(std::string_view text, byte_view sig) const {
    auto ts = cosignature::decode(sig);
    if (!ts) return false;
    auto message = cosignature::signed_message(text, ts->timestamp);
    return ed25519::verify(key_, byte_view(message), ts->signature);
}

result<std::unique_ptr<verifier>> make_verifier(const vkey& key) {
    if (key.public_key.size() != ed25519::public_key_size)
        return make_error("vkey: unsupported key");
    ed25519::public_key pk;
    std::copy(key.public_key.begin(), key.public_key.end(), pk.begin());
    std::unique_ptr<verifier> v;
    if (key.type == type_ed25519)
        v = std::make_unique<ed25519_verifier>(key.name, pk);
    else if (key.type == type_cosignature_v1)
        v = std::make_unique<cosignature_verifier>(key.name, pk);
    else
        return make_error("vkey: unsupported signature type " + std::to_string(key.type));
    if (v->key_id() != key.key_id) return make_error("vkey: key ID does not match name and key");
    return v;
}

ed25519_signer::ed25519_signer(std::string name, ed25519::secret_key key)
    : name_(std::move(name)), key_(std::move(key)),
      id_(derive_id(name_, type_ed25519, key_.public_key_bytes())) {}

vkey ed25519_signer::verifier_key() const {
    const auto& pk = key_.public_key_bytes();
    return vkey{name_, id_, type_ed25519, bytes(pk.begin(), pk.end())};
}

signature ed25519_signer::sign(std::string_view text) const {
    auto sig = key_.sign(byte_view(text));
    return signature{name_, id_, bytes(sig.begin(), sig.end())};
}

cosigner::cosigner(std::string name, ed25519::secret_key key)
    : name_(std::move(name)), key_(std::move(key)),
      id_(derive_id(name_, type_cosignature_v1, key_.public_key_bytes())) {}

vkey cosigner::verifier_key() const {
    const auto& pk = key_.public_key_bytes();
    return vkey{name_, id_, type_cosignature_v1, bytes(pk.begin(), pk.end())};
}

signature cosigner::cosign(std::string_view checkpoint_text, std::uint64_t timestamp) const {
    auto message = cosignature::signed_message(checkpoint_text, timestamp);
    auto sig = key_.sign(byte_view(message));
    return signature{name_, id_, cosignature::encode({timestamp, sig})};
}

result<verified_note> open(note n, const std::vector<const verifier*>& known) {
    verified_note out;
    // Each known key is verified at most once: its first line counts and later
    // lines by the same key are dropped, as Go's note.Open does. Otherwise a note
    // that repeats one signature 64 times costs 64 Ed25519 verifications.
    std::vector<bool> verified(known.size(), false);
    for (const auto& sig : n.signatures) {
        for (std::size_t i = 0; i < known.size(); ++i) {
            const verifier* v = known[i];
            if (verified[i] || v->key_id() != sig.key_id || v->name() != sig.name) continue;
            if (!v->verify(n.text, sig.data))
                return make_error("note: invalid signature from known key " + sig.name);
            verified[i] = true;
            out.signed_by.push_back(i);
        }
    }
    if (out.signed_by.empty()) return make_error("note: no signature from a known key");
    std::sort(out.signed_by.begin(), out.signed_by.end());
    out.content = std::move(n);
    return out;
}

} // namespace civic::note
