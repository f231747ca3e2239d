#include <sockserv/base/error.hpp>
#include <sockserv/engine/event_loop.hpp>

#include "fiber_context.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>

namespace sockserv {

namespace {

thread_local EventLoop* running_loop = nullptr;

// epoll data: a watched fd is its number; a fiber registration has this bit set as well.
constexpr std::uint64_t fiber_registration = std::uint64_t{1} << 32;

// How long access lines wait: until the loop has had nothing to do for lines_linger (a line of a
// lone request reaches the log a millisecond after its answer), and under load no longer than
// lines_at_most (or until 4 KiB of them fill the batch, whichever is first).
constexpr auto lines_linger = std::chrono::milliseconds(1);
constexpr auto lines_at_most = std::chrono::milliseconds(50);

int to_timeout_ms(std::optional<EventLoop::Clock::duration> wait) {
    if (!wait) return -1;
    if (*wait <= EventLoop::Clock::duration::zero()) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*wait).count();
    return static_cast<int>(std::min<long long>(ms, 1 << 30));
}

}  // namespace

struct EventLoop::Waiter {
    detail::Fiber* fiber = nullptr;
    bool done = false;
    bool ready = false;
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    Waiter** list = nullptr;  // the fd's list it is linked into, if any
    std::multimap<Clock::time_point, Waiter*>::iterator timer;  // sleeps and signals
    bool has_timer = false;
    std::optional<Clock::time_point> fd_deadline;  // a wait for an fd: its fd's timer looks at it
    Signal* signal = nullptr;
};

EventLoop::EventLoop(std::size_t fiber_stack_size)
    : stacks_(fiber_stack_size),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!epoll_) throw_errno("epoll_create1");
    if (!wake_fd_) throw_errno("eventfd");
    watch(wake_fd_.get(), [this] {
        std::uint64_t count;
        [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &count, sizeof count);
    });
}

EventLoop::~EventLoop() {
    // Connections still waiting for their first bytes: their jobs (and requests) go, unstarted.
    fds_.for_each([](std::size_t, FdEntry& e) { e.deferred.reset(); });
    deferred_count_ = 0;
    // Servers run their loops until idle before destroying them, so fibers are left here only after
    // a loop failed (epoll_wait threw). Deleting one unwinds its stack through Boost.Context's
    // forced_unwind, which a handler's catch-all could swallow: a last resort, not a way to stop.
    while (live_) {
        detail::Fiber* fiber = live_;
        live_ = fiber->next;
        delete fiber;
    }
}

EventLoop* EventLoop::current() noexcept { return running_loop; }

EventLoop::FdEntry& EventLoop::FdTable::grow_to(std::size_t fd) {
    // Two lines: the hot one and the rest (a field added to the first spills what a read touches).
    static_assert(sizeof(FdEntry) == 128);
    while (fd >= size()) chunks_.push_back(std::make_unique<FdEntry[]>(chunk));
    return (*this)[fd];
}

EventLoop::FdEntry& EventLoop::entry(int fd) { return fds_.at_least(static_cast<std::size_t>(fd)); }

std::optional<std::optional<std::chrono::milliseconds>> EventLoop::KeptTimeout::get() const noexcept {
    if (ms_ == unknown) return std::nullopt;
    if (ms_ == none) return std::optional<std::chrono::milliseconds>();
    return std::optional<std::chrono::milliseconds>(std::chrono::milliseconds(ms_));
}

void EventLoop::KeptTimeout::put(std::optional<std::chrono::milliseconds> timeout) noexcept {
    ms_ = timeout ? std::max<std::int64_t>(timeout->count(), 0) : none;
}

detail::Fiber& EventLoop::this_fiber() {
    detail::Fiber* fiber = detail::Fiber::current();
    if (!fiber) throw std::logic_error("sockserv: an event loop wait outside a fiber");
    return *fiber;
}

// ---- Fibers ----

void EventLoop::start_fiber(std::unique_ptr<detail::FiberJob> job, int connection_fd) {
    if (connection_fd >= 0) {
        // A fresh connection has no time-out until its handler sets one (accepted sockets inherit
        // the listener's, and no server here sets one there): known now, so its first EAGAIN does
        // not ask the kernel with getsockopt.
        FdEntry& e = entry(connection_fd);
        if (!e.receive_timeout.known()) e.receive_timeout.put(std::nullopt);
        if (!e.send_timeout.known()) e.send_timeout.put(std::nullopt);
    }
    auto* fiber = new detail::Fiber(stacks_, std::move(job), connection_fd);
    fiber->next = live_;
    if (live_) live_->prev = fiber;
    live_ = fiber;
    ++fiber_count_;
    make_ready(fiber);
}

void EventLoop::make_ready(detail::Fiber* fiber) {
    if (fiber->queued) return;
    fiber->queued = true;
    ready_.push_back(fiber);
}

void EventLoop::finish(detail::Fiber* fiber) noexcept {
    if (fiber->prev) fiber->prev->next = fiber->next;
    else live_ = fiber->next;
    if (fiber->next) fiber->next->prev = fiber->prev;
    --fiber_count_;
    ++finished_count_;
    delete fiber;
}

namespace {
#if SOCKSERV_TSAN
// How a signal reaches a loop that runs fibers, under ThreadSanitizer. TSan runs the handler of a
// signal that arrives outside a blocking call later, at the thread's next call into its runtime,
// and keeps it pending in the ThreadState that was current — and a fiber has a ThreadState of its
// own (__tsan_create_fiber). A signal that came while a fiber ran thus waited for that fiber to call
// into the runtime again: after a long park, or never if it ended first. (tftp's event-mode SIGTERM
// tests saw a stop ~10 s late in 4 of 30 TSan runs; this was not reproduced here in 30 runs of
// either tree, so the link is reasoned, not measured.) Under TSan fibers therefore run with
// asynchronous signals blocked: one that comes meanwhile is taken when the loop unblocks them, in
// its own context, which calls into the runtime every round. Elsewhere a handler runs at once, on
// the fiber's stack (sockserv's own are an atomic store and an eventfd write).
class AsyncSignalsHeld {
public:
    AsyncSignalsHeld() noexcept {
        sigset_t held;
        sigfillset(&held);
        for (const int synchronous : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT}) sigdelset(&held, synchronous);
        ::pthread_sigmask(SIG_BLOCK, &held, &before_);
    }
    ~AsyncSignalsHeld() { ::pthread_sigmask(SIG_SETMASK, &before_, nullptr); }
    AsyncSignalsHeld(const AsyncSignalsHeld&) = delete;
    AsyncSignalsHeld& operator=(const AsyncSignalsHeld&) = delete;

private:
    sigset_t before_{};
};
#else
struct AsyncSignalsHeld {};
#endif
}  // namespace

void EventLoop::run_ready() {
    if (ready_.empty()) return;
    [[maybe_unused]] const AsyncSignalsHeld held;
    // Only those ready now: a fiber that yields goes round once before it runs again, so the loop
    // polls in between (yield's promise) and nobody starves.
    for (std::size_t n = ready_.size(); n > 0 && !ready_.empty(); --n) {
        detail::Fiber* fiber = ready_.front();
        ready_.pop_front();
        if (!ready_.empty()) ready_.front()->prefetch_stack();
        fiber->queued = false;
        fiber->ran_in_period = period_;
        fiber->trimmed = false;
        trim_pending_ = true;
        fiber->resume();
        if (fiber->finished()) finish(fiber);
    }
}

// ---- Waiting ----

void EventLoop::wake(Waiter* waiter, bool ready) noexcept {
    if (waiter->done) return;
    waiter->done = true;
    waiter->ready = ready;
    if (waiter->list) {
        if (waiter->prev) waiter->prev->next = waiter->next;
        else *waiter->list = waiter->next;
        if (waiter->next) waiter->next->prev = waiter->prev;
        waiter->list = nullptr;
    }
    if (waiter->has_timer) {
        timers_.erase(waiter->timer);
        waiter->has_timer = false;
    }
    if (waiter->signal) waiter->signal->waiter_ = nullptr;
    make_ready(waiter->fiber);
}

void EventLoop::wake_waiters(Waiter*& list) noexcept {
    while (list) wake(list, true);
}

bool EventLoop::can_suspend() const noexcept { return detail::Fiber::current() != nullptr; }

// False for an fd epoll cannot watch (a regular file: always ready).
bool EventLoop::register_for_fibers(int fd, FdEntry& e) {
    if (e.registered) return true;
    // A watched fd (the server's datagram socket, say) is already in this epoll with the
    // watcher's own events; a second registration needs another fd for the same file.
    int target = fd;
    if (e.watched) {
        if (!e.alias) e.alias.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
        if (!e.alias) throw_errno("dup");
        target = e.alias.get();
    }
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.u64 = static_cast<std::uint64_t>(static_cast<std::uint32_t>(fd)) | fiber_registration;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, target, &event) != 0) {
        if (errno == EPERM) return false;
        if (errno != EEXIST) throw_errno("epoll_ctl");
    }
    e.registered = true;
    return true;
}

bool EventLoop::wait_fd(int fd, detail::Readiness readiness, std::optional<Clock::time_point> deadline) {
    detail::Fiber& fiber = this_fiber();
    FdEntry& e = entry(fd);
    if (!register_for_fibers(fd, e)) return true;
    Waiter waiter;
    waiter.fiber = &fiber;
    Waiter*& list = readiness == detail::Readiness::readable ? e.readers : e.writers;
    waiter.next = list;
    if (list) list->prev = &waiter;
    list = &waiter;
    waiter.list = &list;
    if (deadline) {
        waiter.fd_deadline = deadline;
        arm_fd_timer(fd, e, *deadline);
    }
    fiber.suspend();
    return waiter.ready;
}

// A connection's idle time-out moves forward with every request it serves, and re-inserting its
// timer each time was a tree insert and erase per request, a cache miss each at 10,000 connections.
// As nginx does with its timers, the fd's timer stays where it is while it fires before the new
// deadline and not too long before (a quarter of the wait); firing early costs a look at the
// deadlines and a re-arm, once per stretch of that length. Nothing disarms it: a wait that ends
// leaves it, and when it fires with nothing due it arms for what is still waiting, or for nothing.
void EventLoop::arm_fd_timer(int fd, FdEntry& e, Clock::time_point deadline) {
    if (e.has_timer) {
        const auto armed = e.timer->first;
        if (armed <= deadline && deadline - armed <= (deadline - woke_) / 4) return;
        fd_timers_.erase(e.timer);
        e.has_timer = false;
    }
    e.timer = fd_timers_.emplace(deadline, fd);
    e.has_timer = true;
}

void EventLoop::fd_timer_due(int fd, Clock::time_point now) {
    std::optional<Clock::time_point> next;
    const auto still = [&](Clock::time_point at) {
        if (!next || at < *next) next = at;
    };
    FdEntry& e = fds_[static_cast<std::size_t>(fd)];  // the table's entries stay put
    if (e.deferred && e.deferred_deadline) {
        if (*e.deferred_deadline <= now) start_deferred(fd, false);
        else still(*e.deferred_deadline);
    }
    for (Waiter* list : {e.readers, e.writers}) {
        for (Waiter* waiter = list; waiter;) {
            Waiter* const after = waiter->next;  // waking unlinks it
            if (waiter->fd_deadline) {
                if (*waiter->fd_deadline <= now) wake(waiter, false);
                else still(*waiter->fd_deadline);
            }
            waiter = after;
        }
    }
    if (next) arm_fd_timer(fd, e, *next);
}

// The connection is registered now, as its fiber would register it at its first wait (so this
// costs no epoll_ctl more), and an edge-triggered ADD reports data that already arrived.
void EventLoop::defer_fiber(int fd, std::optional<Clock::time_point> deadline, std::unique_ptr<DeferredJob> job) {
    FdEntry& e = entry(fd);
    if (e.deferred || !register_for_fibers(fd, e)) {
        start_fiber(std::move(job), fd);
        return;
    }
    e.deferred = std::move(job);
    e.deferred_deadline = deadline;
    if (deadline) arm_fd_timer(fd, e, *deadline);
    ++deferred_count_;
}

void EventLoop::start_deferred(int fd, bool readable) {
    FdEntry& e = fds_[static_cast<std::size_t>(fd)];
    if (!e.deferred) return;
    e.deferred_deadline.reset();  // its timer stays (arm_fd_timer): the fiber's first wait may use it
    e.deferred->readable = readable;
    --deferred_count_;
    start_fiber(std::move(e.deferred), fd);
}

void EventLoop::sleep_until(Clock::time_point deadline) {
    Waiter waiter;
    waiter.fiber = &this_fiber();
    waiter.timer = timers_.emplace(deadline, &waiter);
    waiter.has_timer = true;
    waiter.fiber->suspend();
}

void EventLoop::yield() {
    detail::Fiber& fiber = this_fiber();
    make_ready(&fiber);
    fiber.suspend();
}

void EventLoop::Signal::notify() noexcept {
    if (waiter_ && loop_) loop_->wake(waiter_, true);
    else pending_ = true;
}

bool EventLoop::Signal::wait(std::optional<Clock::time_point> deadline) {
    if (pending_) {
        pending_ = false;
        return true;
    }
    EventLoop* loop = EventLoop::current();
    if (!loop) throw std::logic_error("sockserv: EventLoop::Signal::wait outside a loop");
    Waiter waiter;
    waiter.fiber = &loop->this_fiber();
    waiter.signal = this;
    if (deadline) {
        waiter.timer = loop->timers_.emplace(*deadline, &waiter);
        waiter.has_timer = true;
    }
    loop_ = loop;
    waiter_ = &waiter;
    waiter.fiber->suspend();
    waiter_ = nullptr;
    pending_ = false;
    return waiter.ready;
}

// An idle connection's fiber keeps the stack pages its last request touched — most of them dead
// once it waits for the next one (10,000 idle HTTP connections held 12.5 KiB each). A fiber that sat
// out a whole period (a second or two) gives back what lies below where it is suspended; a busy one
// is left alone, so a keep-alive request never pays for a page fault it did not need.
void EventLoop::trim_idle_stacks() noexcept {
    bool pending = false;
    for (detail::Fiber* fiber = live_; fiber; fiber = fiber->next) {
        if (fiber->queued || fiber->trimmed) continue;
        if (fiber->ran_in_period + 1 < period_) {
            fiber->trim_stack();
            fiber->trimmed = true;
        } else {
            pending = true;
        }
    }
    trim_pending_ = pending;
    ++period_;
}

void EventLoop::fire_timers() {
    // The time epoll_wait returned: timers due by then fire this round, the rest the next.
    const auto now = woke_;
    if (now >= next_trim_) {
        next_trim_ = now + std::chrono::seconds(1);
        trim_idle_stacks();
    }
    while (!fd_timers_.empty() && fd_timers_.begin()->first <= now) {
        const int fd = fd_timers_.begin()->second;
        fd_timers_.erase(fd_timers_.begin());
        fds_[static_cast<std::size_t>(fd)].has_timer = false;
        fd_timer_due(fd, now);
    }
    if (timers_.empty()) return;
    while (!timers_.empty() && timers_.begin()->first <= now) wake(timers_.begin()->second, false);
}

void EventLoop::forget_fd(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    FdEntry& e = fds_[static_cast<std::size_t>(fd)];
    e.receive_timeout.forget();
    e.send_timeout.forget();
    e.drained = false;
    e.hung_up = false;
    if (e.has_timer && !e.deferred) {  // a deferred job's deadline still stands: it owns the request
        fd_timers_.erase(e.timer);
        e.has_timer = false;
    }
    if (!e.registered) return;
    e.registered = false;  // the kernel dropped the registration with the file
    wake_waiters(e.readers);
    wake_waiters(e.writers);
}

void EventLoop::set_socket_timeout(int fd, int option, std::optional<std::chrono::milliseconds> timeout) {
    FdEntry& e = entry(fd);
    (option == SO_RCVTIMEO ? e.receive_timeout : e.send_timeout).put(timeout);
}

std::optional<std::optional<std::chrono::milliseconds>> EventLoop::socket_timeout(int fd, int option) const noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return std::nullopt;
    const FdEntry& e = fds_[static_cast<std::size_t>(fd)];
    return (option == SO_RCVTIMEO ? e.receive_timeout : e.send_timeout).get();
}

void EventLoop::note_drained(int fd) noexcept {
    if (fd < 0) return;
    try {
        // Not registered here: its first wait registers it, and an edge-triggered ADD reports
        // what came meanwhile. Until then it is known drained only in this round (a registered
        // fd's edge could not have been seen either); a connection answered and closed in the
        // round it was accepted never costs an epoll_ctl.
        FdEntry& e = entry(fd);
        if (e.hung_up) return;
        e.drained = true;
        e.drained_round = rounds_;
    } catch (...) {
        // Out of memory, or epoll refused: not known drained, which only costs a read.
    }
}

bool EventLoop::known_drained(int fd) const noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return false;
    const FdEntry& e = fds_[static_cast<std::size_t>(fd)];
    return e.drained && (e.registered || e.drained_round == rounds_);
}

void EventLoop::unblock_connections(bool cut_off) noexcept {
    for (detail::Fiber* fiber = live_; fiber; fiber = fiber->next)
        if (fiber->connection_fd() >= 0) ::shutdown(fiber->connection_fd(), cut_off ? SHUT_RDWR : SHUT_RD);
    // Those still waiting for a first byte see EOF too, which starts their fibers.
    if (deferred_count_ > 0)
        for (std::size_t fd = 0; fd < fds_.size(); ++fd)
            if (fds_[fd].deferred) ::shutdown(static_cast<int>(fd), cut_off ? SHUT_RDWR : SHUT_RD);
}

// ---- Watched fds ----

bool EventLoop::watch(int fd, std::function<void()> on_ready, Watch how) {
    FdEntry& e = entry(fd);
    if (e.watched) unwatch(fd);
    epoll_event event{};
    event.events = EPOLLIN | (how == Watch::exclusive ? EPOLLEXCLUSIVE : 0u) | (how == Watch::edge ? EPOLLET : 0u) |
                   (how == Watch::once ? EPOLLONESHOT : 0u);
    event.data.u64 = static_cast<std::uint32_t>(fd);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
        if (errno == EPERM) return false;
        throw_errno("epoll_ctl watch");
    }
    e.watched = true;
    e.on_ready = std::move(on_ready);
    return true;
}

void EventLoop::rearm(int fd) {
    epoll_event event{};
    event.events = EPOLLIN | EPOLLONESHOT;
    event.data.u64 = static_cast<std::uint32_t>(fd);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) != 0) throw_errno("epoll_ctl rearm");
}

void EventLoop::unwatch(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    FdEntry& e = fds_[static_cast<std::size_t>(fd)];
    if (!e.watched) return;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    e.watched = false;
    e.on_ready = nullptr;
    if (e.alias) {
        // The alias would keep the file (a bound port) open; fibers waiting through it try again
        // and register the fd itself.
        e.alias.reset();
        e.registered = false;
        wake_waiters(e.readers);
        wake_waiters(e.writers);
    }
}


// ---- The loop ----

void EventLoop::post(std::function<void()> task) {
    {
        std::lock_guard lock(posted_mutex_);
        posted_.push_back(std::move(task));
    }
    // A loop in a round runs what was posted before it waits again (poll() looks at posted_waiting_
    // after saying it waits): only one that waits, or is about to, needs the eventfd's wake-up —
    // a system call here and a read and a round there, on every hand-over between loops. The two
    // sequentially consistent pairs (waiting, then look; posted, then look) cannot both miss.
    posted_waiting_.store(true, std::memory_order_seq_cst);
    if (round_began_.load(std::memory_order_seq_cst) == 0) wake();
}

void EventLoop::wake() const noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void EventLoop::run_posted() {
    {
        std::lock_guard lock(posted_mutex_);
        posted_waiting_.store(false, std::memory_order_relaxed);  // under the mutex: a post after it sets it again
        if (posted_.empty()) return;
        running_posted_.swap(posted_);
    }
    for (auto& task : running_posted_) task();
    running_posted_.clear();
}

void EventLoop::set_round_hook(std::function<std::optional<Clock::duration>()> after_round) {
    after_round_ = std::move(after_round);
}

void EventLoop::poll(std::optional<Clock::duration> limit) {
    std::optional<Clock::duration> wait = limit;
    if (!ready_.empty()) {
        wait = Clock::duration::zero();
    } else if (!timers_.empty() || !fd_timers_.empty() || trim_pending_) {
        const auto now = Clock::now();  // once: every round reads the clock, and a VM's is not free
        const auto until = [&](Clock::time_point when) {
            if (!wait || when - now < *wait) wait = when - now;
        };
        if (!timers_.empty()) until(timers_.begin()->first);
        if (!fd_timers_.empty()) until(fd_timers_.begin()->first);
        if (trim_pending_) until(next_trim_);
    }
    bool lines_wait = lines_ && lines_->pending();
    if (lines_wait) {
        if (lines_since_ == Clock::time_point{}) lines_since_ = woke_;
        if (woke_ - lines_since_ >= lines_at_most) {
            lines_->flush();
            lines_since_ = {};
        } else if (!wait || *wait > lines_linger) {
            wait = lines_linger;
        }
        // Flushed below only if this wait finds nothing: with fibers ready the loop is not idle.
        lines_wait = lines_->pending() && *wait > Clock::duration::zero();
    }
    constexpr int max_events = 256;
    epoll_event events[max_events];
    round_began_.store(0, std::memory_order_seq_cst);
    // Posted after this round's run_posted(), without a wake-up (post()): go round at once.
    if (posted_waiting_.load(std::memory_order_seq_cst)) {
        wait = Clock::duration::zero();
        lines_wait = false;
    }
    const int n = ::epoll_wait(epoll_.get(), events, max_events, to_timeout_ms(wait));
    woke_ = Clock::now();
    round_began_.store(woke_.time_since_epoch().count(), std::memory_order_relaxed);
    ++rounds_;
    if (n == 0 && lines_wait) {
        lines_->flush();
        lines_since_ = {};
    }
    if (n < 0) {
        if (errno == EINTR) return;
        throw_errno("epoll_wait");
    }
    // At thousands of connections each event's FdEntry, the Waiter on its fiber's stack and the
    // Fiber are cache misses, one after another for each event. Asked for first, pass by pass,
    // they overlap: a round pays for about one miss of each kind instead of one per event.
    const auto entry_of = [&](int i) -> FdEntry* {
        const std::uint64_t data = events[i].data.u64;
        const auto fd = static_cast<std::size_t>(data & 0xFFFFFFFFu);
        return (data & fiber_registration) && fd < fds_.size() ? &fds_[fd] : nullptr;
    };
    if (n > 1) {
        for (int i = 0; i < n; ++i)
            if (const FdEntry* e = entry_of(i)) __builtin_prefetch(e, 0, 3);
        for (int i = 0; i < n; ++i)
            if (const FdEntry* e = entry_of(i); e && e->readers) __builtin_prefetch(e->readers, 1, 3);
        for (int i = 0; i < n; ++i)
            if (const FdEntry* e = entry_of(i); e && e->readers) __builtin_prefetch(e->readers->fiber, 1, 3);
    }
    for (int i = 0; i < n; ++i) {
        const std::uint64_t data = events[i].data.u64;
        const int fd = static_cast<int>(data & 0xFFFFFFFFu);
        if (static_cast<std::size_t>(fd) >= fds_.size()) continue;
        if (data & fiber_registration) {
            FdEntry& e = fds_[static_cast<std::size_t>(fd)];
            const std::uint32_t got = events[i].events;
            if (got & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
                e.drained = false;
                // The peer's FIN (or an error) is edge-reported once: a short read after it is not
                // the end of what a read can say (EOF, or the error, comes next), as nginx's pending_eof.
                if (got & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) e.hung_up = true;
                if (e.deferred) {
                    start_deferred(fd, true);
                    continue;
                }
                wake_waiters(e.readers);
            }
            if (got & (EPOLLOUT | EPOLLERR | EPOLLHUP)) wake_waiters(e.writers);
        } else if (fds_[static_cast<std::size_t>(fd)].watched) {
            // A copy: the callback may unwatch its own fd, destroying the stored function mid-call.
            const std::function<void()> callback = fds_[static_cast<std::size_t>(fd)].on_ready;
            if (callback) callback();
        }
    }
}

void EventLoop::run(const std::function<bool()>& until) {
    previous_ = running_loop;
    running_loop = this;
    previous_suspender_ = detail::exchange_suspender(this);
    previous_listener_ = detail::exchange_fd_close_listener(this);
    LogBatch lines;  // after restore has run: what is left is written on the way out
    LogBatch* const previous_lines = std::exchange(lines_, &lines);
    lines_since_ = {};
    struct Restore {
        EventLoop* loop;
        LogBatch* previous_lines;
        ~Restore() {
            loop->round_began_.store(0, std::memory_order_seq_cst);  // not running: a post() wakes it
            loop->lines_ = previous_lines;
            running_loop = loop->previous_;
            detail::exchange_suspender(loop->previous_suspender_);
            detail::exchange_fd_close_listener(loop->previous_listener_);
        }
    } restore{this, previous_lines};
    round_began_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    for (;;) {
        run_ready();
        run_posted();
        const std::optional<Clock::duration> limit = after_round_ ? after_round_() : std::nullopt;
        if (until && until()) break;
        poll(limit);
        fire_timers();
    }
}

void EventLoop::run_until_idle() {
    run([this] { return idle(); });
}

}  // namespace sockserv
