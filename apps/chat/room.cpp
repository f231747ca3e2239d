#include "room.hpp"

#include <algorithm>
#include <stdexcept>

namespace chat {

namespace {
std::int64_t ticks(Room::Clock::time_point t) { return t.time_since_epoch().count(); }
}  // namespace

Room::Room(std::size_t capacity) : capacity_(capacity) {
    if (capacity == 0 || capacity > max_capacity)
        throw std::invalid_argument("room capacity must be 1.." + std::to_string(max_capacity));
}

Room::Member* Room::find(std::string_view name) {
    for (std::size_t i = 0; i < size_; ++i)
        if (members_[i].view() == name) return &members_[i];
    return nullptr;
}

const Room::Member* Room::find(std::string_view name) const { return const_cast<Room*>(this)->find(name); }

Room::Join Room::join(std::string_view name, const sockserv::Address& address, Clock::time_point now) {
    if (Member* member = find(name)) {
        if (!(member->address == address)) return Join::name_taken;
        member->last_seen = ticks(now);
        return Join::again;
    }
    if (name_at(address)) return Join::address_taken;
    if (size_ >= capacity_) return Join::full;
    if (name.size() > max_name_bytes) throw std::invalid_argument("name too long for the room");
    Member& member = members_[size_];
    std::copy(name.begin(), name.end(), member.name.begin());
    member.name_size = static_cast<std::uint8_t>(name.size());
    member.address = address;
    member.last_seen = ticks(now);
    // Counted only once complete: a process that dies mid-join (the mutex is robust) leaves no
    // half-written member behind.
    ++size_;
    return Join::joined;
}

void Room::remove(std::size_t index) {
    // Shift, not swap: joining order is kept, so fan-out order is stable.
    std::move(members_.begin() + static_cast<long>(index) + 1, members_.begin() + static_cast<long>(size_),
              members_.begin() + static_cast<long>(index));
    --size_;
}

bool Room::leave(std::string_view name, const sockserv::Address& address) {
    const Member* member = find(name);
    if (!member || !(member->address == address)) return false;
    remove(static_cast<std::size_t>(member - members_.data()));
    return true;
}

bool Room::touch(std::string_view name, const sockserv::Address& address, Clock::time_point now) {
    Member* member = find(name);
    if (!member || !(member->address == address)) return false;
    member->last_seen = ticks(now);
    return true;
}

bool Room::has(std::string_view name) const { return find(name) != nullptr; }

std::optional<std::string> Room::name_at(const sockserv::Address& address) const {
    for (std::size_t i = 0; i < size_; ++i)
        if (members_[i].address == address) return std::string(members_[i].view());
    return std::nullopt;
}

std::vector<sockserv::Address> Room::others(const sockserv::Address& except) const {
    std::vector<sockserv::Address> addresses;
    addresses.reserve(size_);
    for (std::size_t i = 0; i < size_; ++i)
        if (!(members_[i].address == except)) addresses.push_back(members_[i].address);
    return addresses;
}

std::vector<sockserv::Address> Room::everyone() const { return others(sockserv::Address{}); }

std::vector<std::string> Room::evict_idle(Clock::time_point now, std::chrono::milliseconds idle) {
    std::vector<std::string> evicted;
    const std::int64_t limit = ticks(now) - std::chrono::duration_cast<Clock::duration>(idle).count();
    for (std::size_t i = 0; i < size_;) {
        if (members_[i].last_seen < limit) {
            evicted.emplace_back(members_[i].view());
            remove(i);
        } else {
            ++i;
        }
    }
    return evicted;
}

}  // namespace chat
