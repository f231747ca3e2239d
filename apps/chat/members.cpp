#include "members.hpp"

#include <algorithm>
#include <new>
#include <stdexcept>

namespace chat {

namespace {
std::int64_t ticks(Members::Clock::time_point t) { return t.time_since_epoch().count(); }
}  // namespace

Members::Members(std::size_t capacity, bool coalesce) : capacity_(capacity), coalesce_(coalesce) {
    if (capacity == 0 || capacity > max_capacity)
        throw std::invalid_argument("room capacity must be 1.." + std::to_string(max_capacity));
}

Members::Member* Members::find(std::string_view name) {
    for (std::size_t i = 0; i < size_; ++i)
        if (at(i).view() == name) return &at(i);
    return nullptr;
}

const Members::Member* Members::find(std::string_view name) const { return const_cast<Members*>(this)->find(name); }

Members::Join Members::join(std::string_view name, const sockserv::Address& address, Clock::time_point now) {
    if (Member* member = find(name)) {
        if (!(member->address == address)) return Join::name_taken;
        member->last_seen = ticks(now);
        return Join::again;
    }
    if (name_at(address)) return Join::address_taken;
    if (size_ >= capacity_) return Join::full;
    if (name.size() > max_name_bytes) throw std::invalid_argument("name too long for the room");
    Member& member = *::new (&slots_[size_].member) Member{};
    std::copy(name.begin(), name.end(), member.name.begin());
    member.name_size = static_cast<std::uint8_t>(name.size());
    member.address = address;
    member.last_seen = ticks(now);
    member.outbox_size = 0;
    member.confirmed = false;
    member.waiting = false;
    // Counted only once complete: a process that dies mid-join (the mutex is robust) leaves no
    // half-written member behind.
    ++size_;
    return Join::joined;
}

void Members::remove(std::size_t index) {
    // Shift, not swap: joining order is kept, so fan-out order is stable.
    for (std::size_t i = index; i + 1 < size_; ++i) at(i) = at(i + 1);
    --size_;
}

bool Members::leave(std::string_view name, const sockserv::Address& address) {
    const Member* member = find(name);
    if (!member || !(member->address == address)) return false;
    remove(static_cast<std::size_t>(reinterpret_cast<const Slot*>(member) - slots_.data()));
    return true;
}

bool Members::touch(std::string_view name, const sockserv::Address& address, Clock::time_point now) {
    Member* member = find(name);
    if (!member || !(member->address == address)) return false;
    member->last_seen = ticks(now);
    return true;
}

bool Members::has(std::string_view name) const { return find(name) != nullptr; }

std::optional<std::string> Members::name_at(const sockserv::Address& address) const {
    for (std::size_t i = 0; i < size_; ++i)
        if (at(i).address == address) return std::string(at(i).view());
    return std::nullopt;
}

std::optional<sockserv::Address> Members::remove(std::string_view name) {
    const Member* member = find(name);
    if (!member) return std::nullopt;
    const sockserv::Address address = member->address;
    remove(static_cast<std::size_t>(reinterpret_cast<const Slot*>(member) - slots_.data()));
    return address;
}

void Members::confirm(std::string_view name) noexcept {
    if (Member* member = find(name)) member->confirmed = true;
}

bool Members::confirmed(std::string_view name) const noexcept {
    const Member* member = find(name);
    return member && member->confirmed;
}

void Members::set_waiting(std::string_view name, bool waiting) noexcept {
    if (Member* member = find(name)) member->waiting = waiting;
}

bool Members::waiting(std::string_view name) const noexcept {
    const Member* member = find(name);
    return member && member->waiting;
}

std::optional<sockserv::Address> Members::address_of(std::string_view name) const {
    const Member* member = find(name);
    if (!member) return std::nullopt;
    return member->address;
}

std::vector<Members::Name> Members::names() const {
    std::vector<Name> all;
    all.reserve(size_);
    for (std::size_t i = 0; i < size_; ++i) all.push_back({std::string(at(i).view()), at(i).confirmed});
    return all;
}

std::vector<sockserv::Address> Members::addresses() const {
    std::vector<sockserv::Address> all;
    all.reserve(size_);
    for (std::size_t i = 0; i < size_; ++i) all.push_back(at(i).address);
    return all;
}

std::vector<Members::Datagram> Members::queue(std::string_view line, const sockserv::Address& except) {
    std::vector<Datagram> now;
    for (std::size_t i = 0; i < size_; ++i) {
        Member& member = at(i);
        // A member still waiting for its OK is not in the room yet, as far as it knows: lines
        // before the OK would arrive before the answer to its join.
        if (member.address == except || member.waiting) continue;
        if (member.outbox_size > 0 && (!coalesce_ || member.outbox_size + line.size() > outbox_bytes)) {
            // Full (or one line is all it may hold): what waits goes first, then this line starts
            // the outbox afresh.
            now.push_back({member.address, std::string(member.outbox.data(), member.outbox_size)});
            member.outbox_size = 0;
        }
        if (line.size() > outbox_bytes) {
            now.push_back({member.address, std::string(line)});
            continue;
        }
        std::copy(line.begin(), line.end(), member.outbox.begin() + member.outbox_size);
        member.outbox_size = static_cast<std::uint16_t>(member.outbox_size + line.size());
    }
    return now;
}

std::vector<sockserv::OutgoingDatagram> Members::outgoing() const {
    std::vector<sockserv::OutgoingDatagram> datagrams;
    for (std::size_t i = 0; i < size_; ++i) {
        const Member& member = at(i);
        if (member.outbox_size > 0) datagrams.push_back({{member.outbox.data(), member.outbox_size}, &member.address});
    }
    return datagrams;
}

void Members::clear_outboxes() noexcept {
    for (std::size_t i = 0; i < size_; ++i) at(i).outbox_size = 0;
}

std::vector<std::string> Members::evict_idle(Clock::time_point now, std::chrono::milliseconds idle) {
    std::vector<std::string> evicted;
    const std::int64_t limit = ticks(now) - std::chrono::duration_cast<Clock::duration>(idle).count();
    for (std::size_t i = 0; i < size_;) {
        if (at(i).last_seen < limit) {
            evicted.emplace_back(at(i).view());
            remove(i);
        } else {
            ++i;
        }
    }
    return evicted;
}

}  // namespace chat
