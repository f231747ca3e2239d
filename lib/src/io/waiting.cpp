#include <sockserv/base/error.hpp>
#include <sockserv/io/waiting.hpp>

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <utility>

namespace sockserv {

namespace detail {
namespace {
thread_local Suspender* thread_suspender = nullptr;
}  // namespace

Suspender* current_suspender() noexcept { return thread_suspender; }
Suspender* exchange_suspender(Suspender* suspender) noexcept { return std::exchange(thread_suspender, suspender); }
Suspender* fiber_suspender() noexcept {
    return thread_suspender && thread_suspender->can_suspend() ? thread_suspender : nullptr;
}
}  // namespace detail

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

// The engine's waits are edge-triggered, so its wait_fd is only for a call that just said EAGAIN.
// A caller here may not have tried first (data may be waiting already): ask, then wait.
bool fiber_wait(detail::Suspender& suspender, int fd, short poll_events, detail::Readiness readiness,
                std::optional<WaitClock::time_point> deadline) {
    // Known empty (a short read, no edge since): nothing to ask.
    if (readiness == detail::Readiness::readable && suspender.known_drained(fd))
        return suspender.wait_fd(fd, readiness, deadline);
    pollfd entry{fd, poll_events, 0};
    if (::poll(&entry, 1, 0) > 0) return true;
    return suspender.wait_fd(fd, readiness, deadline);
}

}  // namespace

bool in_fiber() noexcept { return detail::fiber_suspender() != nullptr; }

bool wait_readable(int fd, std::optional<WaitClock::time_point> deadline) {
    if (detail::Suspender* suspender = detail::fiber_suspender())
        return fiber_wait(*suspender, fd, POLLIN, detail::Readiness::readable, deadline);
    return poll_until(fd, POLLIN, deadline);
}

bool wait_writable(int fd, std::optional<WaitClock::time_point> deadline) {
    if (detail::Suspender* suspender = detail::fiber_suspender())
        return fiber_wait(*suspender, fd, POLLOUT, detail::Readiness::writable, deadline);
    return poll_until(fd, POLLOUT, deadline);
}

void sleep_until(WaitClock::time_point deadline) {
    if (detail::Suspender* suspender = detail::fiber_suspender()) return suspender->sleep_until(deadline);
    std::this_thread::sleep_until(deadline);
}

void sleep_for(WaitClock::duration duration) { sleep_until(WaitClock::now() + duration); }

void yield_now() {
    if (detail::Suspender* suspender = detail::fiber_suspender()) return suspender->yield();
    ::sched_yield();
}

namespace detail {

void give_way(unsigned attempt) {
    if (attempt < 16) return yield_now();
    const auto pause = std::chrono::microseconds(50 << std::min(attempt - 16, 4u));  // 50 us .. 800 us
    sleep_for(pause);
}

std::optional<WaitClock::time_point> socket_deadline(int fd, int option) {
    if (const Suspender* suspender = current_suspender())
        if (const auto kept = suspender->socket_timeout(fd, option)) {
            if (!*kept) return std::nullopt;
            // Zero is no wait at all, as on a thread (Socket::set_timeout asks the kernel for 1 µs
            // there, its zero being "forever"), not a wait without end.
            return WaitClock::now() + std::max(**kept, std::chrono::milliseconds::zero());
        }
    timeval tv{};
    socklen_t size = sizeof tv;
    if (::getsockopt(fd, SOL_SOCKET, option, &tv, &size) != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0))
        return std::nullopt;
    return WaitClock::now() + std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}

}  // namespace detail
}  // namespace sockserv
