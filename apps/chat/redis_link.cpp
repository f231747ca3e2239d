#include "redis_link.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace chat {

namespace {

constexpr std::chrono::milliseconds first_backoff{250}, last_backoff{2000};
constexpr std::chrono::seconds connect_timeout{3};

struct ReplyFree {
    void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

sockserv::UniqueFd start_connect(const sockserv::Address& to) {
    sockserv::UniqueFd fd(::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw std::system_error(errno, std::generic_category(), "socket");
    if (::connect(fd.get(), to.data(), to.size()) != 0 && errno != EINPROGRESS)
        throw std::system_error(errno, std::generic_category(), "connect " + to.to_string());
    return fd;
}

// 1: connected, 0: still connecting, throws: refused (or any other error).
bool connected(int fd, const sockserv::Address& to) {
    pollfd poller{fd, POLLOUT, 0};
    if (::poll(&poller, 1, 0) <= 0) return false;
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) throw std::system_error(error, std::generic_category(), "connect " + to.to_string());
    return true;
}

bool writable(int fd) {
    pollfd poller{fd, POLLOUT, 0};
    return ::poll(&poller, 1, 0) > 0;
}

bool output_waiting(const redisContext* context) { return context && context->obuf && sdslen(context->obuf) > 0; }

std::string context_error(const redisContext& context) {
    return context.errstr[0] ? std::string(context.errstr) : std::string("connection closed");
}

// Reads what the socket has and hands each whole reply to on_reply until none is left or it
// returns false. Throws on a read error, EOF or an error reply: a Redis that refuses `command`
// (AUTH required, a read-only replica) is a link that does not work.
template <class OnReply>
void read_replies(redisContext& context, const char* command, OnReply on_reply) {
    if (redisBufferRead(&context) != REDIS_OK) throw std::runtime_error(context_error(context));
    for (;;) {
        void* raw = nullptr;
        if (redisGetReplyFromReader(&context, &raw) != REDIS_OK) throw std::runtime_error(context_error(context));
        if (!raw) return;
        const Reply reply(static_cast<redisReply*>(raw));
        if (reply->type == REDIS_REPLY_ERROR) throw std::runtime_error(std::string(command) + ": " + reply->str);
        if (!on_reply(*reply)) return;
    }
}

}  // namespace

void RedisLink::ContextFree::operator()(redisContext* context) const noexcept { redisFree(context); }

RedisLink::RedisLink(sockserv::Address redis, std::string channel, Events events)
    : redis_(std::move(redis)), channel_(std::move(channel)), events_(std::move(events)) {}

RedisLink::~RedisLink() = default;

void RedisLink::step(sockserv::BaseServer& server) {
    try {
        if (state_ == State::down && Clock::now() >= retry_at_) start_connecting();
        if (state_ == State::connecting) finish_connecting(server);
        if (state_ == State::subscribing || state_ == State::up) write(server);
    } catch (const std::exception& error) {
        fail(server, error.what());
    }
}

void RedisLink::start_connecting() {
    connecting_subscriber_ = start_connect(redis_);
    connecting_publisher_ = start_connect(redis_);
    connect_deadline_ = Clock::now() + connect_timeout;
    state_ = State::connecting;
}

void RedisLink::finish_connecting(sockserv::BaseServer& server) {
    const bool subscriber = connected(connecting_subscriber_.get(), redis_);
    const bool publisher = connected(connecting_publisher_.get(), redis_);
    if (!subscriber || !publisher) {
        if (Clock::now() >= connect_deadline_) throw std::runtime_error("connect " + redis_.to_string() + ": timed out");
        return;
    }
    // hiredis takes the fds; its REDIS_BLOCK flag off, a read or write that would block is "try
    // again later" rather than an error.
    for (auto [fd, context] : {std::pair{&connecting_subscriber_, &subscriber_}, std::pair{&connecting_publisher_, &publisher_}}) {
        redisContext* made = redisConnectFd(fd->get());
        if (!made) throw std::bad_alloc();
        fd->release();
        context->reset(made);
        if (made->err) throw std::runtime_error(context_error(*made));
        made->flags &= ~REDIS_BLOCK;
    }
    redisAppendCommand(subscriber_.get(), "SUBSCRIBE %b", channel_.data(), channel_.size());
    server.add_reader(subscriber_->fd, [this, &server] { read_subscriber(server); });
    server.add_reader(publisher_->fd, [this, &server] { read_publisher(server); });
    state_ = State::subscribing;
}

void RedisLink::write(sockserv::BaseServer& server) {
    (void)server;
    for (redisContext* context : {subscriber_.get(), publisher_.get()}) {
        for (int done = 0; !done;) {
            if (redisBufferWrite(context, &done) != REDIS_OK) throw std::runtime_error(context_error(*context));
            // The socket is full: the rest goes on a later step (due() asks for one soon).
            if (!done && !writable(context->fd)) break;
        }
    }
}

void RedisLink::publish(sockserv::BaseServer& server, std::string_view payload) {
    if (state_ != State::up) return;
    redisAppendCommand(publisher_.get(), "PUBLISH %b %b", channel_.data(), channel_.size(), payload.data(), payload.size());
    try {
        write(server);
    } catch (const std::exception& error) {
        fail(server, error.what());
    }
}

void RedisLink::read_subscriber(sockserv::BaseServer& server) {
    try {
        read_replies(*subscriber_, "SUBSCRIBE", [this](const redisReply& reply) {
            if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3 || reply.element[0]->type != REDIS_REPLY_STRING)
                return true;
            const std::string_view kind(reply.element[0]->str, reply.element[0]->len);
            if (kind == "subscribe" && state_ == State::subscribing) {
                state_ = State::up;
                backoff_ = first_backoff;
                if (events_.up) events_.up();
            } else if (kind == "message" && reply.element[2]->type == REDIS_REPLY_STRING && events_.message) {
                events_.message(std::string_view(reply.element[2]->str, reply.element[2]->len));
            }
            return state_ != State::down;  // a handler may have closed the link
        });
    } catch (const std::exception& error) {
        fail(server, error.what());
    }
}

void RedisLink::read_publisher(sockserv::BaseServer& server) {
    // PUBLISH answers with the number of subscribers: nothing to do but read it.
    try {
        read_replies(*publisher_, "PUBLISH", [](const redisReply&) { return true; });
    } catch (const std::exception& error) {
        fail(server, error.what());
    }
}

void RedisLink::close(sockserv::BaseServer& server) noexcept {
    if (subscriber_) server.remove_reader(subscriber_->fd);
    if (publisher_) server.remove_reader(publisher_->fd);
    subscriber_.reset();
    publisher_.reset();
    connecting_subscriber_.reset();
    connecting_publisher_.reset();
    state_ = State::down;
}

void RedisLink::fail(sockserv::BaseServer& server, const std::string& why) {
    close(server);
    retry_at_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, last_backoff);
    if (events_.down) events_.down(why);
}

std::optional<std::chrono::milliseconds> RedisLink::due() const {
    using std::chrono::milliseconds;
    switch (state_) {
    case State::down:
        return std::max(milliseconds(0), std::chrono::ceil<milliseconds>(retry_at_ - Clock::now()));
    case State::connecting:
        return milliseconds(20);
    case State::subscribing:
    case State::up:
        if (output_waiting(subscriber_.get()) || output_waiting(publisher_.get())) return milliseconds(10);
        return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace chat
