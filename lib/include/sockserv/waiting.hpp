#pragma once
// Waits that work in every mode. On an event-mode fiber they suspend the fiber and let its loop
// serve the others; anywhere else they block the calling thread. A handler that waits through
// these (or through the framework's I/O) never needs to know which mode runs it; one that calls
// sleep(3) or poll(2) itself stalls every fiber of its loop in event mode.

#include <chrono>
#include <cstdint>
#include <optional>

namespace sockserv {

using WaitClock = std::chrono::steady_clock;

/// True on an event-mode fiber.
bool in_fiber() noexcept;

/// Until fd is readable (or hung up, or in error), or the deadline (nullopt: none). False on
/// time-out.
bool wait_readable(int fd, std::optional<WaitClock::time_point> deadline);
/// Until fd is writable (or in error), or the deadline. False on time-out.
bool wait_writable(int fd, std::optional<WaitClock::time_point> deadline);

void sleep_until(WaitClock::time_point deadline);
void sleep_for(WaitClock::duration duration);

/// Gives way: on a fiber, every other ready fiber of the loop runs first; elsewhere, sched_yield.
void yield_now();

namespace detail {
/// For a wait that polls for a condition set by another thread or process (a turn, a lock): gives
/// way for longer as attempts grow — a few yields, then sleeps growing to a millisecond.
void give_way(unsigned attempt);
/// The socket's SO_RCVTIMEO or SO_SNDTIMEO as a deadline from now (nullopt: none set). In event
/// mode sockets are used without blocking, so the kernel keeps the time-out but does not apply it:
/// the fiber's wait does.
std::optional<WaitClock::time_point> socket_deadline(int fd, int option);
}  // namespace detail

}  // namespace sockserv
