#pragma once
// Waits that work in every mode. On an event-mode fiber they suspend the fiber and let its loop
// serve the others; anywhere else they block the calling thread. A handler that waits through
// these (or through the framework's I/O) never needs to know which mode runs it; one that calls
// sleep(3) or poll(2) itself stalls every fiber of its loop in event mode.
//
// This is the seam between I/O and whatever runs it: Socket, the stream reader and writer and the
// waits here ask detail::Suspender, and the event engine (engine/event_loop.hpp) is one. I/O never
// names the engine; with no Suspender on the thread, every wait blocks the thread.

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

/// What a wait on an fd waits for.
enum class Readiness : std::uint8_t { readable, writable };

/// What suspends a wait instead of blocking its thread: the event engine's loop, installed on the
/// thread for as long as it runs there (exchange_suspender). Everything on it belongs to that thread.
class Suspender {
public:
    /// A fiber (something that can be suspended) is running now, not the loop itself.
    virtual bool can_suspend() const noexcept = 0;
    /// Suspends until fd is ready (errors and hang-ups count as both) or the deadline; false on
    /// time-out. Only right after a call on fd said EAGAIN: the engine waits for the next edge.
    virtual bool wait_fd(int fd, Readiness readiness, std::optional<WaitClock::time_point> deadline) = 0;
    virtual void sleep_until(WaitClock::time_point deadline) = 0;
    /// Lets every other ready fiber run first.
    virtual void yield() = 0;
    /// A socket time-out (SO_RCVTIMEO or SO_SNDTIMEO) kept by the engine, not the kernel: its calls
    /// never block, so the kernel's would never apply, and keeping it costs no system call.
    virtual void set_socket_timeout(int fd, int option, std::optional<std::chrono::milliseconds> timeout) = 0;
    /// The time-out set so for fd, if one was (an empty inner optional: none).
    virtual std::optional<std::optional<std::chrono::milliseconds>> socket_timeout(int fd, int option) const noexcept = 0;
    /// A read on the stream socket fd came back short: it took everything the kernel held
    /// (note_drained), and no readiness edge can have come since. A read now would only say EAGAIN, so
    /// the caller waits first (known_drained) — one system call fewer per request, as nginx's
    /// `ready` flag saves it.
    virtual void note_drained(int fd) noexcept = 0;
    virtual bool known_drained(int fd) const noexcept = 0;

protected:
    ~Suspender() = default;
};

/// This thread's Suspender, or nullptr (a thread no event loop runs on: waits block).
Suspender* current_suspender() noexcept;
/// The same, only while a fiber runs (nullptr in the loop's own context): what a wait suspends.
Suspender* fiber_suspender() noexcept;
/// Installs suspender on this thread (nullptr: none) and returns the one it replaces.
Suspender* exchange_suspender(Suspender* suspender) noexcept;

/// For a wait that polls for a condition set by another thread or process (a turn, a lock): gives
/// way for longer as attempts grow — a few yields, then sleeps growing to a millisecond.
void give_way(unsigned attempt);
/// The socket's SO_RCVTIMEO or SO_SNDTIMEO as a deadline from now (nullopt: none set). In event
/// mode sockets are used without blocking, so the kernel keeps the time-out but does not apply it:
/// the fiber's wait does.
std::optional<WaitClock::time_point> socket_deadline(int fd, int option);
}  // namespace detail

}  // namespace sockserv
