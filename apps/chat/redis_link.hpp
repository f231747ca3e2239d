#pragma once
// RedisLink: a chat server's connections to Redis for one channel, driven by the serving loop and
// never blocking it: a subscriber that hands each message on, and a publisher. Two connections,
// because a connection that has subscribed can do nothing else (RESP2). hiredis formats and parses;
// the sockets are ours, non-blocking, connected without waiting (a Redis host that does not answer
// must not stall the members here) and watched with BaseServer::add_reader.
//
// Going down and coming back: any error or EOF closes both connections and retries after a
// back-off that doubles from 250 ms to 2 s, so a restarted Redis is found within 2 s and a Redis
// that stays away costs one connect every 2 s.

#include <sockserv/base/address.hpp>
#include <sockserv/base/unique_fd.hpp>
#include <sockserv/server/base_server.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct redisContext;

namespace chat {

class RedisLink {
public:
    using Clock = std::chrono::steady_clock;
    struct Events {
        std::function<void()> up;                          // subscribed: publishing works from now
        std::function<void(const std::string&)> down;      // why; also for each failed attempt
        std::function<void(std::string_view)> message;     // one payload published on the channel
    };
    RedisLink(sockserv::Address redis, std::string channel, Events events);
    ~RedisLink();
    RedisLink(const RedisLink&) = delete;
    RedisLink& operator=(const RedisLink&) = delete;

    /// Connects when due, finishes a connect in progress, sends what waits. Call after every
    /// wake-up of the serving loop that owns the link.
    void step(sockserv::BaseServer& server);
    bool up() const noexcept { return state_ == State::up; }
    /// Queues a PUBLISH (sent by step(), or now if the socket takes it). Only when up().
    void publish(sockserv::BaseServer& server, std::string_view payload);
    /// When step() must run again without a wake-up.
    std::optional<std::chrono::milliseconds> due() const;
    /// Closes both connections (the server is stopping); no retry until step() is called again.
    void close(sockserv::BaseServer& server) noexcept;

private:
    enum class State { down, connecting, subscribing, up };
    struct ContextFree {
        void operator()(redisContext* context) const noexcept;
    };
    using Context = std::unique_ptr<redisContext, ContextFree>;

    void start_connecting();
    void finish_connecting(sockserv::BaseServer& server);
    void read_subscriber(sockserv::BaseServer& server);
    void read_publisher(sockserv::BaseServer& server);
    void write(sockserv::BaseServer& server);
    void fail(sockserv::BaseServer& server, const std::string& why);

    sockserv::Address redis_;
    std::string channel_;
    Events events_;
    State state_ = State::down;
    Clock::time_point retry_at_{};
    Clock::time_point connect_deadline_{};
    std::chrono::milliseconds backoff_{250};
    sockserv::UniqueFd connecting_subscriber_, connecting_publisher_;
    Context subscriber_, publisher_;
};

}  // namespace chat
