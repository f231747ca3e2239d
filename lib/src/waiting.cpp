#include <sockserv/error.hpp>
#include <sockserv/event_loop.hpp>

#include "fiber_context.hpp"
#include <sockserv/waiting.hpp>

#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace sockserv {

bool in_fiber() noexcept { return detail::Fiber::current() != nullptr; }

namespace {

bool poll_until(int fd, short events, std::optional<WaitClock::time_point> deadline) {
    pollfd entry{fd, events, 0};
    for (;;) {
        int timeout = -1;
        if (deadline) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - WaitClock::now()).count();
            if (left <= 0) timeout = 0;
            else timeout = static_cast<int>(std::min<long long>(left, 60'000));
        }
        const int ready = ::poll(&entry, 1, timeout);
        if (ready > 0) return true;
        if (ready < 0 && errno != EINTR) throw_errno("poll");
        if (ready == 0 && deadline && WaitClock::now() >= *deadline) return false;
    }
}

}  // namespace

// The loop's registrations are edge-triggered, so its wait_fd is only for a call that just said
// EAGAIN. A caller here may not have tried first (data may be waiting already): ask, then wait.
static bool fiber_wait(int fd, short poll_events, std::uint32_t epoll_events, std::optional<WaitClock::time_point> deadline) {
    pollfd entry{fd, poll_events, 0};
    if (::poll(&entry, 1, 0) > 0) return true;
    return EventLoop::current()->wait_fd(fd, epoll_events, deadline);
}

bool wait_readable(int fd, std::optional<WaitClock::time_point> deadline) {
    if (in_fiber()) return fiber_wait(fd, POLLIN, EPOLLIN, deadline);
    return poll_until(fd, POLLIN, deadline);
}

bool wait_writable(int fd, std::optional<WaitClock::time_point> deadline) {
    if (in_fiber()) return fiber_wait(fd, POLLOUT, EPOLLOUT, deadline);
    return poll_until(fd, POLLOUT, deadline);
}

void sleep_until(WaitClock::time_point deadline) {
    if (in_fiber()) return EventLoop::current()->sleep_until(deadline);
    std::this_thread::sleep_until(deadline);
}

void sleep_for(WaitClock::duration duration) { sleep_until(WaitClock::now() + duration); }

void yield_now() {
    if (in_fiber()) return EventLoop::current()->yield();
    ::sched_yield();
}

namespace detail {

void give_way(unsigned attempt) {
    if (attempt < 16) return yield_now();
    const auto pause = std::chrono::microseconds(50 << std::min(attempt - 16, 4u));  // 50 us .. 800 us
    sleep_for(pause);
}

std::optional<WaitClock::time_point> socket_deadline(int fd, int option) {
    if (const EventLoop* loop = EventLoop::current())
        if (const auto kept = loop->socket_timeout(fd, option)) {
            if (!*kept || (*kept)->count() <= 0) return std::nullopt;
            return WaitClock::now() + **kept;
        }
    timeval tv{};
    socklen_t size = sizeof tv;
    if (::getsockopt(fd, SOL_SOCKET, option, &tv, &size) != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0))
        return std::nullopt;
    return WaitClock::now() + std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}

}  // namespace detail
}  // namespace sockserv
