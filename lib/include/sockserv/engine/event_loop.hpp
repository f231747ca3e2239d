#pragma once
// EventLoop: one thread's epoll, its timers, and the fibers it runs (event mode).
//
//   run():  resume the fibers that are ready (FIFO) -> run tasks posted from other threads
//           -> epoll_wait (until the next timer) -> wake the fibers whose fd or timer fired,
//              call the callbacks of watched fds (listeners, readers) -> round again
//
// A fiber waits with wait_fd(fd, events, deadline): the fd is registered once, edge-triggered, and
// stays registered until it is closed (UniqueFd tells the loop), so a keep-alive request costs no
// epoll_ctl at all. Lost wake-ups cannot happen: a fiber only waits after its system call said
// EAGAIN, and the loop only polls once every fiber has stopped running.
//
// While it runs, the loop is its thread's detail::Suspender (waiting.hpp): the framework's I/O on
// its fibers suspends here without naming it; and its fd-close listener (unique_fd.hpp).
//
// Thread safety: post() and wake() are safe from any thread (and wake() from a signal handler);
// everything else belongs to the loop's thread.

#include <sockserv/base/log.hpp>
#include <sockserv/base/unique_fd.hpp>
#include <sockserv/engine/fiber.hpp>
#include <sockserv/io/waiting.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace sockserv {

class EventLoop final : public detail::Suspender, public detail::FdCloseListener {
public:
    using Clock = std::chrono::steady_clock;

    /// fiber_stack_size: usable bytes of each fiber's stack.
    explicit EventLoop(std::size_t fiber_stack_size);
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    /// The loop running on this thread (inside run()), or nullptr.
    static EventLoop* current() noexcept;

    /// Runs work() on a new fiber of this loop, after what runs now has yielded. connection_fd
    /// (-1: none) is shut down for reading by unblock_connections().
    template <class Work>
    void spawn(Work work, int connection_fd = -1) {
        struct Typed final : detail::FiberJob {
            explicit Typed(Work w) : work(std::move(w)) {}
            void run() noexcept override { work(); }
            Work work;
        };
        start_fiber(std::make_unique<Typed>(std::move(work)), connection_fd);
    }

    /// Like spawn, for a connection whose client speaks first: its fiber (and stack) starts only once
    /// fd is readable (or hung up), or at the deadline. A connection that has sent nothing costs
    /// the loop a few hundred bytes, not a stack page. work(readable): false when the deadline came
    /// first. unblock_connections() shuts it down for reading too, which starts it (readable).
    template <class Work>
    void spawn_when_readable(int fd, std::optional<Clock::time_point> deadline, Work work) {
        struct Typed final : DeferredJob {
            explicit Typed(Work w) : work(std::move(w)) {}
            void run() noexcept override { work(readable); }
            Work work;
        };
        defer_fiber(fd, deadline, std::make_unique<Typed>(std::move(work)));
    }

    /// How watch() hears an fd.
    enum class Watch : unsigned char {
        level,      ///< every round while it is readable
        exclusive,  ///< EPOLLEXCLUSIVE, for a listener shared by several loops: the kernel wakes one
                    ///< loop that is waiting, so a loop stalled by a handler is passed over
        edge,       ///< edge-triggered: for an eventfd several loops watch and none drains
        once,       ///< EPOLLONESHOT: once, then not again until rearm() (a loop on standby that
                    ///< wants to hear that a connection waits, but not each one)
    };
    /// Calls on_ready in the loop's own context (not a fiber) when fd is readable (or has an
    /// error), as `how` says. A callback may (un)watch fds. False for an fd epoll cannot watch (a
    /// regular file, /dev/null: always readable).
    bool watch(int fd, std::function<void()> on_ready, Watch how = Watch::level);
    /// A Watch::once fd that has been heard is heard again (at once, if it is readable now).
    void rearm(int fd);
    void unwatch(int fd) noexcept;

    /// Runs until until() is true after a round (never, when not given).
    void run(const std::function<bool()>& until = {});
    /// Runs until no fiber is left (and no connection waits for one).
    void run_until_idle();

    /// Runs task on the loop's thread at its next round. Thread safe.
    void post(std::function<void()> task);
    /// Makes the loop go round once more. Thread safe, async-signal-safe.
    void wake() const noexcept;

    /// Calls after_round() after every round, in the loop's context (a server re-checking whether
    /// it accepts). Its result, if any, bounds the next wait.
    void set_round_hook(std::function<std::optional<Clock::duration>()> after_round);

    // ---- For fibers of this loop ----

    /// Suspends until fd is ready (errors and hang-ups count as both) or the deadline passes.
    /// False on time-out.
    bool wait_fd(int fd, detail::Readiness readiness, std::optional<Clock::time_point> deadline) override;
    /// Suspends until the deadline.
    void sleep_until(Clock::time_point deadline) override;
    /// Lets every other ready fiber run (and the loop poll once) before going on.
    void yield() override;
    /// A fiber of this loop is running now.
    bool can_suspend() const noexcept override;

private:
    struct Waiter;
    // A job spawn_when_readable holds: told, when it starts, whether its fd was readable.
    struct DeferredJob : detail::FiberJob {
        bool readable = true;
    };

public:
    /// A one-shot signal between fibers of this loop: wait() suspends until notify() or the deadline.
    class Signal {
    public:
        void notify() noexcept;
        /// False on time-out.
        bool wait(std::optional<Clock::time_point> deadline);

    private:
        friend class EventLoop;
        EventLoop* loop_ = nullptr;
        Waiter* waiter_ = nullptr;
        bool pending_ = false;
    };

    /// shutdown(SHUT_RD) on every connection a fiber serves: a fiber waiting for an idle client
    /// sees EOF, a response being sent still goes out. cut_off: SHUT_RDWR, which fails a send
    /// waiting on a client that does not read too.
    void unblock_connections(bool cut_off = false) noexcept;
    /// Live fibers.
    std::size_t fibers() const noexcept { return fiber_count_; }
    /// Connections waiting for their first bytes (spawn_when_readable), without a fiber yet.
    std::size_t waiting_connections() const noexcept { return deferred_count_; }
    /// No fiber, and no connection waiting for one.
    bool idle() const noexcept { return fiber_count_ == 0 && deferred_count_ == 0; }
    /// The fd was closed: forget its registration and time-outs (and wake its waiters, who will
    /// see EBADF).
    void forget_fd(int fd) noexcept;
    void fd_closing(int fd) noexcept override { forget_fd(fd); }
    /// A socket's time-out (option: SO_RCVTIMEO or SO_SNDTIMEO) kept here rather than in the
    /// kernel: on a fiber every call is non-blocking, so the kernel's would never apply, and
    /// setting and reading it back cost two system calls a connection.
    void set_socket_timeout(int fd, int option, std::optional<std::chrono::milliseconds> timeout) override;
    /// The time-out set so for fd, if one was (an empty inner optional: none).
    std::optional<std::optional<std::chrono::milliseconds>> socket_timeout(int fd, int option) const noexcept override;
    void note_drained(int fd) noexcept override;
    bool known_drained(int fd) const noexcept override;
    std::size_t fiber_stack_size() const noexcept { return stacks_.stack_size(); }
    /// Fibers finished since the loop was made: whether a round ended a request.
    std::uint64_t finished_fibers() const noexcept { return finished_count_; }
    /// When the last wait for events returned: what ran since is this round's work (a handler
    /// that blocks the loop makes it long).
    Clock::time_point woke() const noexcept { return woke_; }
    /// When the round running now began; nullopt while the loop waits for events (or is not
    /// running). Thread safe: another loop tells from it that this one is stalled, by a handler
    /// that blocks its thread or a long computation.
    std::optional<Clock::time_point> round_began() const noexcept {
        const Clock::rep began = round_began_.load(std::memory_order_relaxed);
        if (began == 0) return std::nullopt;
        return Clock::time_point(Clock::duration(began));
    }

private:
    friend class Signal;
    // A socket time-out as the loop keeps it (socket_timeout), in one word: not known here, none, or
    // a length (one below zero is kept as zero: either is no wait at all to socket_deadline).
    class KeptTimeout {
    public:
        bool known() const noexcept { return ms_ != unknown; }
        std::optional<std::optional<std::chrono::milliseconds>> get() const noexcept;
        void put(std::optional<std::chrono::milliseconds> timeout) noexcept;
        void forget() noexcept { ms_ = unknown; }

    private:
        static constexpr std::int64_t unknown = -2, none = -1;
        std::int64_t ms_ = unknown;
    };
    // What a request touches on every read and wake-up sits in the first cache line (the loop
    // prefetches it for each event); what a listener, a deferred start or an alias needs, after it.
    struct alignas(64) FdEntry {
        bool registered = false;
        bool watched = false;
        bool drained = false;  // note_drained: a short read since the last readable edge
        bool hung_up = false;  // an edge said EPOLLRDHUP, HUP or ERR: reads never park again
        bool has_timer = false;
        // The round of the short read: an fd not registered yet is known drained only in it
        // (no edge could have been seen since), registered, until its next edge.
        std::uint64_t drained_round = 0;
        Waiter* readers = nullptr;
        Waiter* writers = nullptr;
        KeptTimeout receive_timeout, send_timeout;
        // spawn_when_readable: the fiber to start at the first readable edge or at its deadline.
        std::unique_ptr<DeferredJob> deferred;
        // The fd's one timer, for the deferred job's deadline and its waiters' time-outs, kept
        // between waits (arm_fd_timer): when it fires it looks at the deadlines there are now.
        std::multimap<Clock::time_point, int>::iterator timer;
        std::function<void()> on_ready;  // a watched fd
        UniqueFd alias;  // a second fd for the same file, registered for fibers while fd is watched
        std::optional<Clock::time_point> deferred_deadline;
    };
    // FdEntry by fd, in chunks that never move (waiters keep pointers into entries while it grows):
    // a shift and a mask to find one, where a deque of entries this size divided.
    class FdTable {
    public:
        static constexpr std::size_t chunk = 64;
        /// Entries 0 .. size()-1 exist.
        std::size_t size() const noexcept { return chunks_.size() * chunk; }
        FdEntry& operator[](std::size_t fd) noexcept { return chunks_[fd / chunk][fd % chunk]; }
        const FdEntry& operator[](std::size_t fd) const noexcept { return chunks_[fd / chunk][fd % chunk]; }
        /// The entry for fd, made (with its chunk) if it is new.
        FdEntry& at_least(std::size_t fd) { return fd < size() ? (*this)[fd] : grow_to(fd); }
        template <class F>
        void for_each(F f) {
            for (std::size_t fd = 0; fd < size(); ++fd) f(fd, (*this)[fd]);
        }

    private:
        FdEntry& grow_to(std::size_t fd);
        std::vector<std::unique_ptr<FdEntry[]>> chunks_;
    };

    void start_fiber(std::unique_ptr<detail::FiberJob> job, int connection_fd);
    void defer_fiber(int fd, std::optional<Clock::time_point> deadline, std::unique_ptr<DeferredJob> job);
    void start_deferred(int fd, bool readable);
    void arm_fd_timer(int fd, FdEntry& e, Clock::time_point deadline);
    void fd_timer_due(int fd, Clock::time_point now);
    bool register_for_fibers(int fd, FdEntry& e);
    void trim_idle_stacks() noexcept;
    void make_ready(detail::Fiber* fiber);
    void run_ready();
    void run_posted();
    void poll(std::optional<Clock::duration> limit);
    void fire_timers();
    void finish(detail::Fiber* fiber) noexcept;
    FdEntry& entry(int fd);
    void wake_waiters(Waiter*& list) noexcept;
    void wake(Waiter* waiter, bool ready) noexcept;
    detail::Fiber& this_fiber();

    detail::StackPool stacks_;
    UniqueFd epoll_;
    UniqueFd wake_fd_;
    FdTable fds_;
    std::deque<detail::Fiber*> ready_;
    detail::Fiber* live_ = nullptr;  // intrusive list of live fibers
    std::size_t fiber_count_ = 0;
    std::size_t deferred_count_ = 0;
    std::multimap<Clock::time_point, int> fd_timers_;  // FdEntry::timer: each fd's, by when it fires
    std::uint64_t finished_count_ = 0;
    std::uint64_t rounds_ = 0;  // waits for events so far
    Clock::time_point woke_ = Clock::now();
    std::atomic<Clock::rep> round_began_{0};  // round_began(); 0 while waiting
    std::atomic<bool> posted_waiting_{false};  // post() since the last run_posted()
    std::multimap<Clock::time_point, Waiter*> timers_;
    std::mutex posted_mutex_;
    std::vector<std::function<void()>> posted_;
    std::vector<std::function<void()>> running_posted_;
    std::function<std::optional<Clock::duration>()> after_round_;
    // Idle fibers' stacks are trimmed once they sat out a whole period (trim_idle_stacks).
    std::uint64_t period_ = 1;
    bool trim_pending_ = false;  // some fiber that ran may yet be trimmed: the wait is bounded
    Clock::time_point next_trim_ = Clock::now() + std::chrono::seconds(1);
    // The access lines this loop's fibers logged, while run() runs (LogBatch): written once the
    // loop has been idle for lines_linger, or when the first has waited lines_at_most.
    LogBatch* lines_ = nullptr;
    Clock::time_point lines_since_{};
    // What this thread had before this loop ran (nested loops: handle_request in event mode).
    EventLoop* previous_ = nullptr;
    detail::Suspender* previous_suspender_ = nullptr;
    detail::FdCloseListener* previous_listener_ = nullptr;
};

}  // namespace sockserv
