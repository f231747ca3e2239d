#pragma once
// StopState: whether a server is asked to stop, and whether it is stopping, where every process
// and thread of the server sees it; and who is serving, for a shutdown() that must wait for it.
//
// The flags live in a MAP_SHARED page: a forked child's request() reaches the parent's loop, and a
// handler in a child of a stopping server sees stopping(). The waker wakes the loop at once.

#include <sockserv/io/waker.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace sockserv {

class StopState {
public:
    StopState();
    ~StopState();
    StopState(const StopState&) = delete;
    StopState& operator=(const StopState&) = delete;

    /// Asks the serving loop to return; never blocks. Async-signal-safe, thread safe, and from a
    /// forked child it reaches the parent.
    void request() noexcept;
    bool requested() const noexcept { return shared_->requested.load() != 0; }
    /// From a stop request until serving starts again, and after the server closed.
    bool stopping() const noexcept { return shared_->stopping.load(std::memory_order_relaxed) != 0; }
    /// The server is closing: stopping for good.
    void closing() noexcept { shared_->stopping.store(1); }
    const Waker& waker() const noexcept { return waker_; }

    /// Serving, on the calling thread, for the object's lifetime (serve_forever's frame): a stop
    /// requested before it is kept, and cleared when it ends; waiters are told.
    class Serving {
    public:
        explicit Serving(StopState& state);
        ~Serving();
        Serving(const Serving&) = delete;
        Serving& operator=(const Serving&) = delete;

    private:
        StopState& state_;
    };

    /// Serving now, on another thread than the caller's: a shutdown() from here may wait for it
    /// (from the serving thread itself, a handler, it would wait for itself).
    bool serving_elsewhere();
    /// Until serving has ended, or the deadline (nullopt: none); true when it has.
    bool wait_served(std::optional<std::chrono::steady_clock::time_point> deadline);

    /// The connection the serving thread's own handler (sync mode) is serving, or -1, recorded
    /// before it runs and cleared before the connection closes: so a cut-off never hits a reused
    /// fd number.
    void serving_connection(int fd);
    /// shutdown(2) on that connection, if any: SHUT_RDWR when cut_off (a send blocked on a client
    /// that does not read fails); else nothing (an idle sync handler is left to end by itself).
    void unblock_connection(bool cut_off) noexcept;

private:
    struct Shared {
        std::atomic<int> requested{0};
        std::atomic<int> stopping{0};
    };
    Shared* shared_;
    Waker waker_;
    std::mutex mutex_;
    std::condition_variable served_;
    bool serving_ = false;
    std::thread::id serving_thread_;
    int connection_ = -1;
};

}  // namespace sockserv
