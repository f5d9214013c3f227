// A check on what a peer sends over the peer port, after TLS and before CAF
// reads it: CAF 0.17's BASP (Binary Actor System Protocol) frames.
//
// CAF attributes a message to the node whose handshake opened the connection,
// or, for routed, monitor and down messages, to the node their payload names.
// Both are the sender's word. The peer port's TLS front knows more: the name in
// the certificate the connection was authenticated with. This guard holds the
// stream to that: its first frame is a handshake naming one CAF node (which the
// front then binds to the certificate's name), a later handshake names the same
// node, and no routed, monitor or down message speaks for another node; a
// stream that breaks one of these is cut off. And a message that is not a
// response goes only to an actor the node exposes to peers (the receiver
// check); one to any other actor is dropped (CAF's own helpers get such
// messages from peers, harmless to lose; see peer_tls.cpp). So a node that holds a certificate of the network
// cannot pass itself off as another node of it, what a node's actors learn of a
// message's sender (its CAF node) is what the front authenticated, and no peer
// reaches an actor behind the gateway by its (guessable) actor id.
//
// Wire format (CAF 0.17.6, libcaf_io basp/header.hpp and instance.cpp; every
// integer big-endian): a 32-byte header, then payload_len bytes of payload.
//   header: operation u8, padding u8 u8, flags u8, payload_len u32,
//           operation_data u64, source_actor u64, dest_actor u64
//   server_handshake (0) payload: node_id, app ids, actor id, interfaces
//   client_handshake (1) payload: node_id
//   direct_message (2): forwarding stack, message (from the connection's node)
//   routed_message (3), monitor_message (4), down_message (5) payload:
//           source node_id, destination node_id, ...
//   heartbeat (6): no payload
//   node_id (default implementation): atom "default" u64, pid u32, host 20 bytes
#pragma once

#include "protocol/result.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>

namespace civic::basp {

inline constexpr std::size_t header_size = 32;
/// A serialized default node id: the implementation's atom, a pid, a host id.
inline constexpr std::size_t node_id_size = 8 + 4 + 20;
/// CAF's atom("default"), the tag of a node id made from pid and host id.
inline constexpr std::uint64_t default_node_id_tag = 0x00003e9aab9bac79ULL;
/// The bit of a header's operation data (a caf::message_id) that marks a response.
inline constexpr std::uint64_t response_flag = 0x8000000000000000ULL;
/// The header flag that makes dest_actor a name (an atom) rather than an id.
inline constexpr std::uint8_t named_receiver_flag = 0x01;

/// The bits of a message id that number a request (caf::message_id).
inline constexpr std::uint64_t request_id_mask = 0x0FFFFFFFFFFFFFFFULL;

/// Whether a peer may send a message that is not a response to `dest_actor`
/// (an actor id, or with `named` an atom naming a registered actor).
using receiver_check = std::function<bool(std::uint64_t dest_actor, bool named)>;
/// Whether a response to `dest_actor` for request `request_id` answers a
/// request that went to this peer (and is still unanswered).
using response_check = std::function<bool(std::uint64_t dest_actor, std::uint64_t request_id)>;

/// The frames a BASP stream carries (caf::io::basp::message_type).
enum class operation : std::uint8_t {
    server_handshake = 0,
    client_handshake = 1,
    direct_message = 2,
    routed_message = 3,
    monitor_message = 4,
    down_message = 5,
    heartbeat = 6,
};

/// Watches the bytes one peer sends, frame by frame: see the file comment for
/// what it holds the stream to. Passes every frame on unchanged except those
/// to actors the node does not expose, which it leaves out. Any split of the
/// stream into feed() calls gives the same verdicts and the same bytes out.
class stream_guard {
public:
    /// `max_payload`: the largest payload a frame may announce. `may_receive`:
    /// which actors direct and routed messages other than responses may go to
    /// (none given: any).
    /// `answers`: which responses may pass (none given: all); CAF matches a
    /// response to its request by id alone, not by who sends it.
    explicit stream_guard(std::size_t max_payload, receiver_check may_receive = {},
                          response_check answers = {})
        : max_payload_(max_payload), may_receive_(std::move(may_receive)),
          answers_(std::move(answers)) {}

    /// Takes the next bytes of the stream and appends to `out` what may pass on
    /// (a frame's header waits until it is whole). An error says why the
    /// connection must close; after one, every call returns it again.
    status feed(const std::uint8_t* data, std::size_t size, std::string& out);

    /// The node the stream's handshake named (node_id_size bytes, as serialized),
    /// once its first frame has been read that far.
    const std::optional<std::string>& peer_node() const { return peer_node_; }

    /// Frames seen in full or in part (the handshake included).
    std::uint64_t frames() const { return frames_; }
    /// Frames left out (to actors not exposed), and the last one's receiver.
    std::uint64_t dropped() const { return dropped_; }
    std::uint64_t last_dropped_receiver() const { return last_dropped_receiver_; }

private:
    status frame_begins();   // header_ complete
    status prefix_complete(); // the payload's first node id complete

    std::size_t max_payload_;
    receiver_check may_receive_;
    response_check answers_;
    std::array<std::uint8_t, header_size> header_{};
    std::size_t header_have_ = 0;
    std::array<std::uint8_t, node_id_size> prefix_{};
    std::size_t prefix_need_ = 0; // bytes of payload to inspect (0 or node_id_size)
    std::size_t prefix_have_ = 0;
    std::uint64_t payload_left_ = 0; // of the current frame, after the prefix
    bool in_payload_ = false;
    bool dropping_ = false; // the current frame is left out
    std::uint64_t dropped_ = 0;
    std::uint64_t last_dropped_receiver_ = 0;
    std::optional<std::string> peer_node_;
    std::optional<std::string> failure_;
    std::uint64_t frames_ = 0;
};

/// Reads the frames this node's own CAF sends to a peer, and keeps
/// - the actors that asked the peer's named actors something (CAF's helper
///   that asks a new peer's "SpawnServ" gets its answer as an ordinary
///   message, not a response): the receiver check lets those answers through;
/// - the requests sent to the peer, until answered (at most `max_pending`, the
///   oldest forgotten first): only a response to one of them may pass, so a
///   peer cannot answer for another what this node asked it.
class outgoing_watch {
public:
    static constexpr std::size_t max_pending = 65536;

    void feed(const std::uint8_t* data, std::size_t size);
    /// Whether `actor` asked a named actor of the peer (one of the last 64 to).
    bool asked(std::uint64_t actor) const;
    /// Whether `actor` sent the peer request `request_id` (masked) and has no
    /// answer yet; an answer counts from now on.
    bool answer(std::uint64_t actor, std::uint64_t request_id);
    std::size_t pending() const { return pending_.size(); }

private:
    std::array<std::uint8_t, header_size> header_{};
    std::size_t header_have_ = 0;
    std::uint64_t payload_left_ = 0;
    std::array<std::uint64_t, 64> askers_{};
    std::size_t next_asker_ = 0;
    std::set<std::pair<std::uint64_t, std::uint64_t>> pending_; // (actor, request id)
    std::deque<std::pair<std::uint64_t, std::uint64_t>> order_; // oldest first (may hold answered ones)
};

} // namespace civic::basp
