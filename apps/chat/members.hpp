#pragma once
// Members: this server's chat members (name -> address), one type for every mode; the room (room.hpp)
// is built on it. It has a fixed capacity and holds nothing that points into ordinary memory, so it
// can live in shared memory (sockserv::Shared<Members>): in fork mode a join handled by one child is
// seen by the next.
//
// Relayed lines are not sent one datagram each: they wait in each member's outbox and the server
// flushes the outboxes after every burst of requests (outgoing(), then clear_outboxes()). Under
// light load a burst is one request and nothing waits; under load one datagram carries several
// lines, and the kernel's per-datagram cost — nearly all of a chat server's work — is shared.
//
// Locking: the caller holds order() for every call. Handlers take it in arrival order
// (ArrivalOrder::Turn with the request's sequence), so one sender's messages are relayed in the order
// they arrived whatever the mode; the serving loop takes it plainly for housekeeping.

#include "protocol.hpp"

#include <sockserv/base/address.hpp>
#include <sockserv/process/arrival_order.hpp>
#include <sockserv/io/socket.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace chat {

class Members {
public:
    using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC: one clock for every process
    /// The most members any room can hold; a room's own capacity is at most this.
    static constexpr std::size_t max_capacity = 4096;

    /// coalesce: an outbox may hold several lines, sent as one datagram (--coalesce). Off, each
    /// line is a datagram of its own, as the chat protocol has it and as clients that
    /// read one datagram as one message expect; outboxes then only batch the sends (sendmmsg).
    explicit Members(std::size_t capacity, bool coalesce = false);

    enum class Join {
        joined,        // a new member
        again,         // the same name from the same address: its OK got lost, say OK again
        name_taken,    // someone else has the name
        address_taken, // this address is in the room under another name
        full,
        pending,       // a shared room's join: OK (or a refusal) comes once the other servers agree
    };
    Join join(std::string_view name, const sockserv::Address& address, Clock::time_point now);
    /// Removes name if address is its address. False when it is not (not a member, or a spoof).
    bool leave(std::string_view name, const sockserv::Address& address);
    /// True when name is a member at address; refreshes its last-seen time.
    bool touch(std::string_view name, const sockserv::Address& address, Clock::time_point now);
    /// True when name is a member (at whatever address).
    bool has(std::string_view name) const;
    /// The name the member at address has, if any.
    std::optional<std::string> name_at(const sockserv::Address& address) const;
    /// Removes name whatever its address (another node won the name); returns where it was.
    std::optional<sockserv::Address> remove(std::string_view name);

    /// A room shared by several servers marks a member confirmed once its join has come back
    /// through the shared channel: from then on an earlier claim on the name cannot exist.
    void confirm(std::string_view name) noexcept;
    bool confirmed(std::string_view name) const noexcept;
    /// A member whose OK has not been sent yet (a shared room sends it once the name is agreed).
    void set_waiting(std::string_view name, bool waiting) noexcept;
    bool waiting(std::string_view name) const noexcept;
    std::optional<sockserv::Address> address_of(std::string_view name) const;
    struct Name {
        std::string name;
        bool confirmed;
    };
    /// Every member's name, in joining order.
    std::vector<Name> names() const;

    /// The members' addresses, in joining order.
    std::vector<sockserv::Address> addresses() const;
    /// Bytes one outbox holds, so one datagram carries at most: below a 1500-byte Ethernet MTU, so a
    /// batch of lines is never IP-fragmented.
    static constexpr std::size_t outbox_bytes = 1400;
    struct Datagram {
        sockserv::Address to;
        std::string data;
    };
    /// Queues line for every member but `except` (an empty Address: everyone). Returns what must
    /// be sent now, in this order, because it did not fit: a fuller outbox (without coalescing,
    /// any outbox that holds a line already), or a line too long for any outbox.
    std::vector<Datagram> queue(std::string_view line, const sockserv::Address& except);
    /// The outboxes holding lines, as datagrams to send, in joining order. They point into the
    /// room: send them before anything else changes it, then clear_outboxes().
    std::vector<sockserv::OutgoingDatagram> outgoing() const;
    void clear_outboxes() noexcept;

    /// Removes the members not seen for longer than idle; returns their names.
    std::vector<std::string> evict_idle(Clock::time_point now, std::chrono::milliseconds idle);

    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    sockserv::ArrivalOrder& order() noexcept { return order_; }

private:
    struct Member {
        std::array<char, max_name_bytes> name;
        std::uint8_t name_size;
        sockserv::Address address;
        std::int64_t last_seen;  // Clock ticks since its epoch
        bool confirmed;
        bool waiting;
        std::uint16_t outbox_size;
        std::array<char, outbox_bytes> outbox;  // lines waiting for the next flush
        std::string_view view() const noexcept { return {name.data(), name_size}; }
    };
    Member* find(std::string_view name);
    const Member* find(std::string_view name) const;
    void remove(std::size_t index);

    sockserv::ArrivalOrder order_;
    std::size_t capacity_;
    bool coalesce_;
    std::size_t size_ = 0;
    // Members are kept packed at the front, in joining order: iteration touches only real members.
    // Slots are raw storage, built on join: constructing all max_capacity of them up front would
    // fault in every page of the mapping (megabytes) for a room that may hold three people.
    union Slot {
        Slot() noexcept {}
        Member member;
    };
    static_assert(std::is_trivially_destructible_v<Member> && std::is_trivially_copyable_v<Member>);
    std::array<Slot, max_capacity> slots_;
    Member& at(std::size_t i) noexcept { return slots_[i].member; }
    const Member& at(std::size_t i) const noexcept { return slots_[i].member; }
};

}  // namespace chat
