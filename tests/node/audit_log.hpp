// Logs made by hand for `civic-attest audit`: entries of any kind (signed
// properly or not, following the registry's rules or not), written as a
// static tlog-tiles directory with a checkpoint signed by a test log key, so
// that a test can give the auditor any history, invalid ones included.
#pragma once

#include "protocol/assert.hpp"
#include "protocol/checkpoint.hpp"
#include "protocol/entry.hpp"
#include "protocol/tiles.hpp"
#include "support.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace civic::test::audit_log {

inline void write_file(const std::filesystem::path& path, const bytes& data) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(data.data()),
               static_cast<std::streamsize>(data.size()));
}

/// Flips the bits of byte `offset` of a file.
inline void flip_byte(const std::filesystem::path& path, std::size_t offset) {
    auto text = read_file(path.string());
    text.at(offset) = static_cast<char>(~text.at(offset));
    std::ofstream(path, std::ios::binary) << text;
}

struct static_log {
    std::string origin = "audit.test/log";
    std::vector<bytes> entries;
    /// Keys made once per label (test::key_for derives each from scratch).
    std::shared_ptr<std::map<std::string, ed25519::secret_key>> keys =
        std::make_shared<std::map<std::string, ed25519::secret_key>>();

    const ed25519::secret_key& key(const std::string& label) const {
        auto it = keys->find(label);
        if (it == keys->end()) it = keys->emplace(label, key_for(label)).first;
        return it->second;
    }

    note::ed25519_signer signer() const { return log_signer(origin); }
    std::string vkey() const { return note::format_vkey(signer().verifier_key()); }

    /// An entry signed by the key named `key_label` (test::key_for), appended.
    std::uint64_t add(entry_kind kind, const std::string& identity, const std::string& key_label,
                      bytes payload = {}, const std::string& content = {}) {
        entry e;
        e.kind = kind;
        e.timestamp_ms = 1795000000000 + entries.size();
        e.identity = identity;
        const auto& key = this->key(key_label);
        e.public_key = key.public_key_bytes();
        if (kind == entry_kind::statement) e.content_hash = sha256(byte_view(content));
        e.payload = std::move(payload);
        e.sign(key);
        entries.push_back(e.encode());
        return entries.size() - 1;
    }
    std::uint64_t register_identity(const std::string& name, const std::string& key_label) {
        return add(entry_kind::identity_registration, name, key_label);
    }
    std::uint64_t statement(const std::string& name, const std::string& key_label,
                            const std::string& content = "a document") {
        return add(entry_kind::statement, name, key_label, bytes{'t', 'x', 't'}, content);
    }
    bytes key_payload(const std::string& key_label) const {
        const auto& k = key(key_label).public_key_bytes();
        return bytes(k.begin(), k.end());
    }
    std::uint64_t rotate(const std::string& name, const std::string& signed_by,
                         const std::string& new_key) {
        return add(entry_kind::key_rotation, name, signed_by, key_payload(new_key));
    }
    std::uint64_t revoke(const std::string& name, const std::string& signed_by,
                         const std::string& revoked) {
        return add(entry_kind::key_revocation, name, signed_by, key_payload(revoked));
    }
    /// `count` entries that break no rule: on an empty log `identities`
    /// registrations first, then statements by those identities in turn.
    void add_clean(std::size_t count, std::size_t identities = 16) {
        const auto first = entries.size();
        for (std::size_t i = first; i < first + count; ++i) {
            auto name = "town/clerk-" + std::to_string(i % identities);
            if (i < identities)
                register_identity(name, name);
            else
                statement(name, name, "document " + std::to_string(i));
        }
    }

    /// The signed checkpoint of the first `size` entries, cosigned by the
    /// witnesses (test::witness) named in `cosigners`.
    std::string checkpoint_text(std::uint64_t size,
                                const std::vector<std::string>& cosigners = {}) const {
        tiles::memory_tiles tree;
        for (std::uint64_t i = 0; i < size; ++i)
            tree.append(merkle::leaf_hash(entries[i]));
        checkpoint c{origin, size, tree.root(), {}};
        note::note n{c.text(), {signer().sign(c.text())}};
        for (const auto& name : cosigners)
            n.signatures.push_back(witness(name).cosign(c.text(), 1795000000));
        return note::serialize(n);
    }

    /// Writes the tlog-tiles directory of the first `size` entries (all by
    /// default) into `dir`: the checkpoint, every hash tile and entry bundle.
    /// Files of a smaller tree already there stay, as on a log that grew.
    void write(const std::filesystem::path& dir, std::uint64_t size = UINT64_MAX,
               const std::vector<std::string>& cosigners = {}) const {
        size = std::min<std::uint64_t>(size, entries.size());
        tiles::memory_tiles tree;
        for (std::uint64_t i = 0; i < size; ++i)
            tree.append(merkle::leaf_hash(entries[i]));
        for (std::uint8_t level = 0; level < 8 && (size >> (8 * level)) > 0; ++level) {
            const auto count = size >> (8 * level);
            for (std::uint64_t index = 0; index * 256 < count; ++index) {
                auto width =
                    static_cast<std::uint16_t>(std::min<std::uint64_t>(256, count - index * 256));
                tiles::tile_id tile{level, index, width};
                std::vector<std::vector<hash>> content;
                CIVIC_ASSERT(tree.read_tiles({tile}, content).ok());
                bytes data;
                for (std::size_t i = 0; i < width; ++i)
                    data.insert(data.end(), content[0][i].begin(), content[0][i].end());
                write_file(dir / tiles::tile_path(tile), data);
                if (level == 0)
                    write_file(dir / tiles::entries_path(index, width), bundle(index, width));
            }
        }
        auto text = checkpoint_text(size, cosigners);
        write_file(dir / "checkpoint", bytes(text.begin(), text.end()));
    }

    bytes bundle(std::uint64_t index, std::uint16_t width) const {
        bytes out;
        for (std::uint64_t i = index * 256; i < index * 256 + width; ++i) {
            put_u16_be(out, static_cast<std::uint16_t>(entries[i].size()));
            out.insert(out.end(), entries[i].begin(), entries[i].end());
        }
        return out;
    }
};

} // namespace civic::test::audit_log
