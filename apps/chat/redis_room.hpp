#pragma once
// RedisRoom: one chat room across several chat_server processes ("nodes", on any machines) that
// share a Redis server: `chat_server --room redis://HOST:PORT/NAME`. Members connect to any node
// and talk as if on one server.
//
// How: each node PUBLISHes what happens among its members (joins, lines, leaves, its admin's
// announcements, and every 2 s its roster) on the channel sockserv:chat:NAME (node_messages.hpp),
// and relays what the other nodes publish to its own members. Redis delivers a channel's messages
// to every subscriber in one order, and that order settles the two questions a shared room has:
//
// - Whose is a name? A node refuses a join for a name it knows elsewhere. Otherwise it publishes
//   the claim and answers the joiner only when the claim comes back through the channel
//   ("confirmed": no earlier claim can exist then; OK, and the members here hear it joined), or
//   refuses it (ERR name is taken) if another node's claim for the name came first. Every node
//   sees the claims in one order, so every node decides the same, without a lock in Redis: a
//   joiner never gets OK and then loses the name. Two confirmed claims (nodes that granted a name
//   while Redis was away, answering at once) go to the lower node id; that member is told.
// - Is a node alive? Its roster comes every 2 s. A node not heard from for 3 rosters (6 s) is
//   gone and its names are free: a SIGKILLed node's names are free within 6.5 s (the 6 s, plus
//   the quarter second of the serving loop's tick that notices). One lost roster is not enough
//   to drop anybody.
//
// Where the work happens: handlers (threads, children, fibers, in any mode) touch only shared
// memory — the members, a mirror of the other nodes' names, and a bounded queue of what to
// publish — and an eventfd wakes the serving loop. One serving loop per node owns the Redis
// connections (with --workers, whichever worker claims it first; if it dies, the next takes over)
// and does all the Redis I/O there: so one sender's lines reach Redis in the order they came.
//
// Redis away: the node says so once, its own members keep talking among themselves (their lines
// are not queued for later: they are not delivered late, out of the conversation), it retries
// with back-off (redis_link.hpp) and says when it is back; then the rosters bring the nodes
// together again. While Redis is away, nobody's names expire: the node cannot tell a dead node
// from a dead Redis.

#include "node_messages.hpp"
#include "redis_link.hpp"
#include "room.hpp"

#include <sockserv/base/unique_fd.hpp>
#include <sockserv/process/shared_memory.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace chat {

/// Where a Redis room is: redis://HOST[:PORT]/NAME.
struct RedisRoomAddress {
    std::string host;
    std::uint16_t port = 6379;
    std::string name;
    /// Throws std::invalid_argument saying what is wrong.
    static RedisRoomAddress parse(std::string_view url);
    std::string url() const;
    std::string channel() const { return "sockserv:chat:" + name; }
};

class RedisRoom : public LocalRoom {
public:
    static constexpr std::chrono::milliseconds roster_interval{2000};
    static constexpr int missed_rosters = 3;

    /// Resolves the host now (a name that does not resolve is an error at start); connects later,
    /// from the serving loop. Before serving, so every worker and child shares the state.
    RedisRoom(Members& members, RedisRoomAddress where, bool verbose, ChatMetrics metrics = {});
    ~RedisRoom() override;

    Join join(const sockserv::BaseServer& server, std::string_view name, const sockserv::Address& address,
              Clock::time_point now) override;
    bool has(std::string_view name) const override;

    void service_actions(sockserv::BaseServer& server) override;
    std::optional<std::chrono::milliseconds> service_due() const override;

    std::uint64_t node() const noexcept { return node_; }

protected:
    void joined_here(std::string_view name) override;
    void left_here(std::string_view name) override;
    void said_here(std::string_view name, std::string_view text) override;
    void announced_here(std::string_view text) override;

private:
    struct Fleet;
    void publish_record(const nodes::Record& record);
    bool claim_link();
    void on_up(sockserv::BaseServer& server);
    void on_down(sockserv::BaseServer& server, const std::string& why);
    void admit(sockserv::BaseServer& server, const std::string& name);
    void on_message(sockserv::BaseServer& server, std::string_view payload);
    void apply(sockserv::BaseServer& server, std::uint64_t from, const nodes::Record& record);
    void claim_name(sockserv::BaseServer& server, std::uint64_t from, const std::string& name, bool confirmed);
    void drop_node_names(sockserv::BaseServer& server, std::uint64_t node, const std::vector<std::string>* keep);
    void send_queue(sockserv::BaseServer& server);
    void send_roster(sockserv::BaseServer& server);
    void report_problems(std::uint64_t dropped);
    void expire_nodes(sockserv::BaseServer& server);

    RedisRoomAddress where_;
    sockserv::Address redis_;
    bool verbose_;
    std::uint64_t node_;
    std::unique_ptr<sockserv::Shared<Fleet>> fleet_;  // Fleet is only complete in redis_room.cpp
    sockserv::UniqueFd wake_;         // eventfd: a handler queued something to publish
    // The serving loop that owns the link (one per node); the rest is only used there.
    bool owner_ = false;
    std::unique_ptr<RedisLink> link_;
    bool said_down_ = false;  // the outage has been logged
    bool was_up_ = false;
    Clock::time_point next_roster_{};
    std::uint64_t dropped_reported_ = 0;
    std::uint64_t ignored_ = 0, ignored_reported_ = 0;  // payloads that were not ours
};

}  // namespace chat
