#include "room.hpp"

#include "protocol.hpp"

namespace chat {

ChatMetrics::ChatMetrics(sockserv::metrics::Registry* registry) {
    if (!registry) return;
    members = registry->gauge("chat_members", "Members in the room on this server.");
    lines = registry->counter("chat_lines_relayed_total", "Lines relayed to members (said, joined, left, admin), each counted once.");
    deliveries = registry->counter("chat_line_deliveries_total", "Lines relayed times the members each went to.");
}

Room::Join LocalRoom::join(const sockserv::BaseServer& server, std::string_view name, const sockserv::Address& address,
                           Clock::time_point now) {
    const Join result = members_.join(name, address, now);
    if (result == Join::joined) {
        metrics_.members.add(1);
        relay(server, joined(name), address);
        joined_here(name);
    }
    return result;
}

bool LocalRoom::say(const sockserv::BaseServer& server, std::string_view name, const sockserv::Address& address,
                    std::string_view text, Clock::time_point now) {
    if (!members_.touch(name, address, now)) return false;
    relay(server, said(name, text), address);
    said_here(name, text);
    return true;
}

bool LocalRoom::leave(const sockserv::BaseServer& server, std::string_view name, const sockserv::Address& address) {
    if (!members_.leave(name, address)) return false;
    metrics_.members.sub(1);
    relay(server, left(name), sockserv::Address{});
    left_here(name);
    return true;
}

void LocalRoom::announce(const sockserv::BaseServer& server, std::string_view text) {
    relay(server, announcement(text), sockserv::Address{});
    announced_here(text);
}

std::vector<std::string> LocalRoom::evict_idle(const sockserv::BaseServer& server, Clock::time_point now,
                                               std::chrono::milliseconds idle) {
    std::vector<std::string> names = members_.evict_idle(now, idle);
    metrics_.members.sub(static_cast<std::int64_t>(names.size()));
    for (const std::string& name : names) {
        relay(server, left(name), sockserv::Address{});
        left_here(name);
    }
    return names;
}

void LocalRoom::relay(const sockserv::BaseServer& server, const std::string& line, const sockserv::Address& except) {
    if (metrics_.lines) {
        metrics_.lines.add();
        metrics_.deliveries.add(members_.size() - (except.family() == AF_UNSPEC || !members_.name_at(except) ? 0 : 1));
    }
    const std::vector<Members::Datagram> now = members_.queue(line, except);
    if (now.empty()) return;
    std::vector<sockserv::OutgoingDatagram> batch;
    for (const Members::Datagram& datagram : now) batch.push_back({datagram.data, &datagram.to});
    server.socket().send_datagrams(batch);  // a member's address failing costs the others nothing
}

void LocalRoom::flush(const sockserv::BaseServer& server) {
    const auto outgoing = members_.outgoing();
    if (outgoing.empty()) return;
    server.socket().send_datagrams(outgoing);
    members_.clear_outboxes();
}

}  // namespace chat
