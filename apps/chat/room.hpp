#pragma once
// Room: what a chat handler talks to. Two implementations: LocalRoom, this server's members only
// (the default), and RedisRoom (redis_room.hpp), one room across several servers. A handler does
// not know which it has.
//
// Every call but order() is made with order() held: handlers take it in arrival order
// (ArrivalOrder::Turn), so one sender's lines go out in the order they came, in every mode; the
// serving loop takes it plainly. What the room tells members waits in their outboxes (members.hpp)
// until the serving loop flushes them, except what did not fit, which goes at once.

#include "members.hpp"

#include <sockserv/process/metrics.hpp>
#include <sockserv/server/base_server.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace chat {

/// What chat_server counts beside the framework (--metrics). Without a registry, nothing.
struct ChatMetrics {
    ChatMetrics() = default;
    explicit ChatMetrics(sockserv::metrics::Registry* registry);
    sockserv::metrics::Gauge members;   // this server's members (joins minus leaves: right summed over workers)
    sockserv::metrics::Counter lines;   // lines relayed (said, joined, left, admin), each once
    sockserv::metrics::Counter deliveries;  // lines times the members they went to
};

class Room {
public:
    using Clock = Members::Clock;
    using Join = Members::Join;
    virtual ~Room() = default;

    virtual sockserv::ArrivalOrder& order() noexcept = 0;
    /// Joins name at address, refusing a name taken anywhere in the room; on joining, tells the
    /// others "NAME joined".
    virtual Join join(const sockserv::BaseServer& server, std::string_view name, const sockserv::Address& address,
                      Clock::time_point now) = 0;
    /// The member name at address says text to the others. False when address is not name's.
    virtual bool say(const sockserv::BaseServer& server, std::string_view name, const sockserv::Address& address,
                     std::string_view text, Clock::time_point now) = 0;
    /// The member name at address leaves; everyone is told. False when address is not name's.
    virtual bool leave(const sockserv::BaseServer& server, std::string_view name, const sockserv::Address& address) = 0;
    /// True when name is the member at address; refreshes its last-seen time.
    virtual bool touch(std::string_view name, const sockserv::Address& address, Clock::time_point now) = 0;
    /// True when name is in the room, here or elsewhere.
    virtual bool has(std::string_view name) const = 0;
    /// The name of this server's member at address, if any.
    virtual std::optional<std::string> name_at(const sockserv::Address& address) const = 0;
    virtual std::size_t capacity() const noexcept = 0;
    /// The admin's line, to everyone.
    virtual void announce(const sockserv::BaseServer& server, std::string_view text) = 0;
    /// Drops this server's members silent for longer than idle, telling everyone; their names.
    virtual std::vector<std::string> evict_idle(const sockserv::BaseServer& server, Clock::time_point now,
                                                std::chrono::milliseconds idle) = 0;
    /// Sends what waits in the outboxes.
    virtual void flush(const sockserv::BaseServer& server) = 0;

    // ---- For the serving loop, without order() held ----

    /// After every wake-up of the serving loop (never in a --workers master, which serves
    /// nothing): a room shared with other servers does its I/O here.
    virtual void service_actions(sockserv::BaseServer& server) { (void)server; }
    /// How soon service_actions() must run again although nothing wakes the loop.
    virtual std::optional<std::chrono::milliseconds> service_due() const { return std::nullopt; }
};

/// The room of one server's members: Members in shared memory, so every mode sees one room.
class LocalRoom : public Room {
public:
    explicit LocalRoom(Members& members, ChatMetrics metrics = {}) : members_(members), metrics_(std::move(metrics)) {}

    sockserv::ArrivalOrder& order() noexcept override { return members_.order(); }
    Join join(const sockserv::BaseServer& server, std::string_view name, const sockserv::Address& address,
              Clock::time_point now) override;
    bool say(const sockserv::BaseServer& server, std::string_view name, const sockserv::Address& address,
             std::string_view text, Clock::time_point now) override;
    bool leave(const sockserv::BaseServer& server, std::string_view name, const sockserv::Address& address) override;
    bool touch(std::string_view name, const sockserv::Address& address, Clock::time_point now) override {
        return members_.touch(name, address, now);
    }
    bool has(std::string_view name) const override { return members_.has(name); }
    std::optional<std::string> name_at(const sockserv::Address& address) const override { return members_.name_at(address); }
    std::size_t capacity() const noexcept override { return members_.capacity(); }
    void announce(const sockserv::BaseServer& server, std::string_view text) override;
    std::vector<std::string> evict_idle(const sockserv::BaseServer& server, Clock::time_point now,
                                        std::chrono::milliseconds idle) override;
    void flush(const sockserv::BaseServer& server) override;

protected:
    /// Queues line for this server's members but `except` (Address{}: all); sends at once only what
    /// does not fit an outbox.
    void relay(const sockserv::BaseServer& server, const std::string& line, const sockserv::Address& except);
    Members& members() noexcept { return members_; }
    const Members& members() const noexcept { return members_; }
    const ChatMetrics& metrics() const noexcept { return metrics_; }

    /// What happened here that other servers sharing the room must hear; nothing for a local room.
    virtual void joined_here(std::string_view name) { (void)name; }
    virtual void left_here(std::string_view name) { (void)name; }
    virtual void said_here(std::string_view name, std::string_view text) { (void)name, (void)text; }
    virtual void announced_here(std::string_view text) { (void)text; }

private:
    Members& members_;
    ChatMetrics metrics_;
};

}  // namespace chat
