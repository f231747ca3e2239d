#pragma once
// Room: the chat's members (name -> address), one type for every mode. It has a fixed capacity and
// holds nothing that points into ordinary memory, so it can live in shared memory
// (sockserv::Shared<Room>): in fork mode a join handled by one child is seen by the next.
//
// Locking: the caller holds order() for every call. Handlers take it in arrival order
// (ArrivalOrder::Turn with the request's sequence), so one sender's messages are relayed in the order
// they arrived whatever the mode; the serving loop takes it plainly for housekeeping.

#include "protocol.hpp"

#include <sockserv/address.hpp>
#include <sockserv/arrival_order.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat {

class Room {
public:
    using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC: one clock for every process
    /// The most members any room can hold; a room's own capacity is at most this.
    static constexpr std::size_t max_capacity = 4096;

    explicit Room(std::size_t capacity);

    enum class Join {
        joined,        // a new member
        again,         // the same name from the same address: its OK got lost, say OK again
        name_taken,    // someone else has the name
        address_taken, // this address is in the room under another name
        full,
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

    /// Everyone's addresses but `except`'s, in joining order.
    std::vector<sockserv::Address> others(const sockserv::Address& except) const;
    std::vector<sockserv::Address> everyone() const;
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
        std::string_view view() const noexcept { return {name.data(), name_size}; }
    };
    Member* find(std::string_view name);
    const Member* find(std::string_view name) const;
    void remove(std::size_t index);

    sockserv::ArrivalOrder order_;
    std::size_t capacity_;
    std::size_t size_ = 0;
    // Members are kept packed at the front, in joining order: iteration touches only real members.
    std::array<Member, max_capacity> members_;
};

}  // namespace chat
