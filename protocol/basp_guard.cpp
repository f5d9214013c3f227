#include "protocol/basp_guard.hpp"

#include <algorithm>

namespace civic::basp {
namespace {

std::uint64_t big_endian(const std::uint8_t* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i)
        v = (v << 8) | p[i];
    return v;
}

const char* name_of(std::uint8_t op) {
    switch (static_cast<operation>(op)) {
        case operation::server_handshake: return "server handshake";
        case operation::client_handshake: return "client handshake";
        case operation::direct_message: return "direct message";
        case operation::routed_message: return "routed message";
        case operation::monitor_message: return "monitor message";
        case operation::down_message: return "down message";
        case operation::heartbeat: return "heartbeat";
    }
    return "unknown frame";
}

bool is_handshake(std::uint8_t op) {
    return op == static_cast<std::uint8_t>(operation::server_handshake) ||
           op == static_cast<std::uint8_t>(operation::client_handshake);
}

// The frames whose payload begins with the node they speak for.
bool names_a_node(std::uint8_t op) {
    return is_handshake(op) || op == static_cast<std::uint8_t>(operation::routed_message) ||
           op == static_cast<std::uint8_t>(operation::monitor_message) ||
           op == static_cast<std::uint8_t>(operation::down_message);
}

/// Copies from (data, size) into `into` until it holds `want` bytes; advances
/// both. Whether it is full.
template <std::size_t N>
bool fill(std::array<std::uint8_t, N>& into, std::size_t& have, std::size_t want,
          const std::uint8_t*& data, std::size_t& size) {
    auto take = std::min(size, want - have);
    std::copy_n(data, take, into.begin() + static_cast<std::ptrdiff_t>(have));
    have += take;
    data += take;
    size -= take;
    return have == want;
}

} // namespace

status stream_guard::feed(const std::uint8_t* data, std::size_t size, std::string& out) {
    auto fail = [this](status s) {
        failure_ = s.message();
        return s;
    };
    auto pass = [this, &out](const std::uint8_t* bytes, std::size_t n) {
        if (!dropping_) out.append(reinterpret_cast<const char*>(bytes), n);
    };
    if (failure_) return make_error(*failure_);
    while (size > 0) {
        if (!in_payload_) {
            if (!fill(header_, header_have_, header_size, data, size)) break;
            header_have_ = 0;
            ++frames_;
            if (auto begun = frame_begins(); !begun) return fail(std::move(begun));
            pass(header_.data(), header_.size());
            continue;
        }
        if (prefix_have_ < prefix_need_) {
            if (!fill(prefix_, prefix_have_, prefix_need_, data, size)) break;
            if (auto checked = prefix_complete(); !checked) return fail(std::move(checked));
            pass(prefix_.data(), prefix_.size());
            if (payload_left_ == 0) in_payload_ = false;
            continue;
        }
        auto take = static_cast<std::size_t>(std::min<std::uint64_t>(size, payload_left_));
        pass(data, take);
        data += take;
        size -= take;
        payload_left_ -= take;
        if (payload_left_ == 0) in_payload_ = false;
    }
    return {};
}

status stream_guard::frame_begins() {
    const auto op = header_[0];
    const auto payload_len = big_endian(header_.data() + 4, 4);
    if (op > static_cast<std::uint8_t>(operation::heartbeat))
        return make_error("BASP: unknown operation " + std::to_string(op));
    if (payload_len > max_payload_)
        return make_error(std::string("BASP: a ") + name_of(op) + " of " +
                          std::to_string(payload_len) + " bytes (at most " +
                          std::to_string(max_payload_) + ")");
    if (frames_ == 1 && !is_handshake(op))
        return make_error(std::string("BASP: the first frame is a ") + name_of(op) +
                          ", not a handshake");
    const bool carries_message = op == static_cast<std::uint8_t>(operation::direct_message) ||
                                 op == static_cast<std::uint8_t>(operation::routed_message);
    const auto message_id = big_endian(header_.data() + 8, 8);
    dropping_ = false;
    const auto dest_actor = big_endian(header_.data() + 24, 8);
    if (carries_message && answers_ && (message_id & response_flag) != 0 &&
        !answers_(dest_actor, message_id & request_id_mask)) {
        dropping_ = true;
        ++dropped_;
        last_dropped_receiver_ = dest_actor;
    }
    if (carries_message && may_receive_ && (message_id & response_flag) == 0 &&
        !may_receive_(dest_actor, (header_[3] & named_receiver_flag) != 0)) {
        dropping_ = true;
        ++dropped_;
        last_dropped_receiver_ = dest_actor;
    }
    prefix_have_ = 0;
    if (names_a_node(op)) {
        if (payload_len < node_id_size)
            return make_error(std::string("BASP: a ") + name_of(op) + " of " +
                              std::to_string(payload_len) + " bytes cannot name its node");
        prefix_need_ = node_id_size;
        payload_left_ = payload_len - node_id_size;
    } else {
        prefix_need_ = 0;
        payload_left_ = payload_len;
    }
    in_payload_ = payload_len > 0;
    return {};
}

status stream_guard::prefix_complete() {
    const auto op = header_[0];
    if (big_endian(prefix_.data(), 8) != default_node_id_tag)
        return make_error(std::string("BASP: a ") + name_of(op) +
                          " names a node id that is not made of pid and host id");
    std::string node(prefix_.begin(), prefix_.end());
    if (is_handshake(op)) {
        if (!peer_node_) {
            peer_node_ = std::move(node);
            return {};
        }
        if (node != *peer_node_)
            return make_error("BASP: a second handshake names another node than the first");
        return {};
    }
    // The first frame was a handshake: peer_node_ is known.
    if (node != *peer_node_)
        return make_error(std::string("BASP: a ") + name_of(op) +
                          " speaks for another node than the one that connected");
    return {};
}

void outgoing_watch::feed(const std::uint8_t* data, std::size_t size) {
    while (size > 0) {
        if (payload_left_ > 0) {
            auto take = static_cast<std::size_t>(std::min<std::uint64_t>(size, payload_left_));
            data += take;
            size -= take;
            payload_left_ -= take;
            continue;
        }
        if (!fill(header_, header_have_, header_size, data, size)) break;
        header_have_ = 0;
        payload_left_ = big_endian(header_.data() + 4, 4);
        const auto op = header_[0];
        const bool message = op == static_cast<std::uint8_t>(operation::direct_message) ||
                             op == static_cast<std::uint8_t>(operation::routed_message);
        if (!message) continue;
        const auto source = big_endian(header_.data() + 16, 8);
        if ((header_[3] & named_receiver_flag) != 0) {
            askers_[next_asker_] = source;
            next_asker_ = (next_asker_ + 1) % askers_.size();
        }
        const auto id = big_endian(header_.data() + 8, 8);
        if ((id & response_flag) == 0 && (id & request_id_mask) != 0) {
            std::pair<std::uint64_t, std::uint64_t> request{source, id & request_id_mask};
            if (pending_.insert(request).second) order_.push_back(request);
            while (order_.size() > max_pending) {
                pending_.erase(order_.front());
                order_.pop_front();
            }
        }
    }
}

bool outgoing_watch::answer(std::uint64_t actor, std::uint64_t request_id) {
    return pending_.erase({actor, request_id}) > 0;
}

bool outgoing_watch::asked(std::uint64_t actor) const {
    return actor != 0 && std::find(askers_.begin(), askers_.end(), actor) != askers_.end();
}

} // namespace civic::basp
