#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/modes/event_loops.hpp>
#include <sockserv/server/server_metrics.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace sockserv {

namespace {

// fds a process keeps for itself beyond its requests' (listeners, wakers, epolls, logs, stdin).
constexpr std::size_t reserved_fds = 64;

std::size_t fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    return static_cast<std::size_t>(limit.rlim_cur == RLIM_INFINITY ? 1 << 20 : limit.rlim_cur);
}

}  // namespace

EventLoops::EventLoops(std::size_t loops, std::size_t fiber_stack_size, std::size_t max_connections,
                       std::chrono::milliseconds stall_after)
    : count_(loops != 0 ? loops : std::max(1u, std::thread::hardware_concurrency())),
      fiber_stack_size_(fiber_stack_size),
      max_connections_(max_connections),
      stall_after_(stall_after) {
    if (max_connections_ == 0) {
        // A request holds its connection and, while it sends one, a file.
        const std::size_t fds = fd_limit();
        max_connections_ = fds > 2 * reserved_fds ? (fds - reserved_fds) / 2 : fds / 2 + 1;
    }
    loops_.resize(count_);
    for (Loop& loop : loops_) loop.loop = std::make_unique<EventLoop>(fiber_stack_size_);
    loads_ = std::make_unique<std::atomic<std::size_t>[]>(count_);
}

std::size_t EventLoops::index_of(const EventLoop& loop) const noexcept {
    for (std::size_t i = 0; i < count_; ++i)
        if (loops_[i].loop.get() == &loop) return i;
    return count_;
}

EventLoop& EventLoops::balance(EventLoop& here) noexcept {
    const std::size_t mine = index_of(here);
    if (mine == count_) return here;
    std::size_t least = mine;
    // This round's start stands for now: stall_after is coarse enough not to need the clock read.
    for (std::size_t i = 0; i < count_; ++i)
        if (loads_[i].load(std::memory_order_relaxed) < loads_[least].load(std::memory_order_relaxed) &&
            !stalled(i, here.woke()))
            least = i;
    if (loads_[least].load(std::memory_order_relaxed) + 2 <= loads_[mine].load(std::memory_order_relaxed))
        return *loops_[least].loop;
    return here;
}

bool EventLoops::stalled(std::size_t index, EventLoop::Clock::time_point now) const noexcept {
    const auto began = loops_[index].loop->round_began();
    return began && now - *began >= stall_after_;
}

void EventLoops::request_started(EventLoop& loop) noexcept {
    live_.fetch_add(1, std::memory_order_relaxed);
    if (const std::size_t i = index_of(loop); i < count_) loads_[i].fetch_add(1, std::memory_order_relaxed);
}

EventLoops::~EventLoops() { close(); }

std::string EventLoops::describe() const {
    return std::to_string(count_) + (count_ == 1 ? " loop" : " loops") + ", at most " + std::to_string(max_connections_) +
           " connections at once";
}

void EventLoops::add(BaseServer& server) {
    for (const auto& served : servers_)
        if (served->server == &server) return;
    servers_.push_back(std::make_unique<Served>());
    servers_.back()->server = &server;
}

void EventLoops::request_finished(EventLoop& loop) noexcept {
    if (const std::size_t i = index_of(loop); i < count_) loads_[i].fetch_sub(1, std::memory_order_relaxed);
    // Coming down from the limit: loops that paused accepting must hear that they may go on.
    const std::size_t before = live_.fetch_sub(1, std::memory_order_relaxed);
    if (before >= max_connections_)
        for (Loop& loop : loops_) loop.loop->wake();
    else if (before == 1 && !accepting_.load()) loops_[0].loop->wake();  // close() may be waiting for this
}

// ---- Serving ----

void EventLoops::serve(BaseServer& primary) {
    add(primary);
    if (closed_) return;
    primary_ = &primary;
    accepting_ = true;
    if (!started_) {
        started_ = true;
        log(program_invocation_short_name, ": event mode: ", describe());
        for (std::size_t i = 0; i < count_; ++i) prepare(i);
        start_service_fiber();
        for (std::size_t i = 1; i < count_; ++i)
            loops_[i].thread = std::thread([this, i] { run_loop(i, false); });
    } else {
        for (std::size_t i = 1; i < count_; ++i) loops_[i].loop->wake();  // accept again
    }
    run_loop(0, true);
}

void EventLoops::prepare(std::size_t index) {
    Loop& loop = loops_[index];
    loop.listening.assign(servers_.size(), Listener{});
    for (const auto& served : servers_)
        loop.loop->watch(served->server->waker().fd(), [this] { serving_events_.fetch_add(1, std::memory_order_relaxed); },
                         EventLoop::Watch::edge);  // nobody drains it
    loop.loop->set_round_hook([this, index] { return after_round(index); });
}

void EventLoops::run_loop(std::size_t index, bool primary) {
    detail::install_stack_overflow_report();
    EventLoop& loop = *loops_[index].loop;
    if (primary) return loop.run([this] { return !accepting_.load(); });
    try {
        loop.run([this, &loop] { return closing_.load() && loop.idle(); });
    } catch (const std::exception& error) {
        // A loop that cannot go on (epoll failing): say so and stop the server, as a failing
        // serve_forever would.
        log("sockserv: event loop ", std::to_string(index), ": ", error.what());
        accepting_ = false;
        loops_[0].loop->wake();
    }
}

std::optional<EventLoop::Clock::duration> EventLoops::after_round(std::size_t index) {
    Loop& state = loops_[index];
    EventLoop& loop = *state.loop;
    std::optional<EventLoop::Clock::duration> limit;
    if (const ServerMetrics* metrics = primary_ ? primary_->metrics() : nullptr) {
        metrics->loop_rounds.add();
        const auto now = EventLoop::Clock::now();
        metrics->longest_round.raise_to(std::chrono::duration_cast<std::chrono::nanoseconds>(now - loop.woke()).count());
        if (index == 0) metrics->fibers.set(static_cast<std::int64_t>(live_.load(std::memory_order_relaxed)));
    }

    if (index == 0 && primary_ && accepting_.load() && primary_->shutdown_requested()) {
        accepting_ = false;
        for (std::size_t i = 1; i < count_; ++i) loops_[i].loop->wake();
    }
    const bool open = accepting_.load() && !closing_.load();
    for (std::size_t k = 0; k < servers_.size(); ++k) {
        Served& served = *servers_[k];
        BaseServer& server = *served.server;
        const bool at_limit = live_.load(std::memory_order_relaxed) >= max_connections_;
        bool want = open && !at_limit && (index == 0 || !server.is_datagram_server());
        const auto now = loop.woke();
        const auto bound = [&limit](EventLoop::Clock::duration wait) {
            if (!limit || wait < *limit) limit = std::max(wait, EventLoop::Clock::duration::zero());
        };
        const bool take_over = index != 0 && stalled(0, now);
        if (want && index != 0 && !take_over) {
            // Standing by while loop 0 goes round. No need for the hooks' mutex to hear: loop 0
            // holds it across each accept, and taking it every round cost a futex wait and wake
            // a request in a profile of `Connection: close`.
            listen(index, k, Listening::standing_by);
            Listener& listener = state.listening[k];
            if (!listener.heard) continue;
            // A connection waited. Loop 0 takes it unless it stalls first: look again when its
            // round would count as stalled, and hear again (rearm) no sooner than stall_after on.
            if (const auto began = loops_[0].loop->round_began()) bound(*began + stall_after_ - now);
            if (now >= listener.rearm_at) {
                listener.heard = false;
                loop.rearm(server.fileno());
            } else {
                bound(listener.rearm_at - now);
            }
            continue;
        }
        if (want) {
            std::lock_guard lock(served.hooks);
            want = server.accepting();
            if (!want)
                if (const auto pause = server.accept_pause(); pause && (!limit || *pause < *limit)) limit = *pause;
        }
        if (open && index == 0 && server.metrics()) {
            std::lock_guard lock(served.hooks);
            server.note_accepting(!at_limit && server.accepting());
        }
        if (!want) {
            listen(index, k, Listening::no);
        } else if (index == 0) {
            listen(index, k, Listening::accepting);
        } else {
            listen(index, k, Listening::taking_over);
            bound(stall_after_);  // to see loop 0 go round again
        }
    }

    const bool finished = loop.finished_fibers() != state.finished_seen;
    state.finished_seen = loop.finished_fibers();
    if (index == 0) {
        sync_readers();
        // A wake-up of the serving loop, as sync mode's: a request taken or ended, a reader or the
        // waker. Not a connection's bytes arriving for its fiber: those are no wake-up of the
        // server's, and a service-fiber switch every round was a measurable share of a keep-alive
        // request.
        const std::uint64_t arrivals = serving_events_.load(std::memory_order_relaxed);
        if (finished || arrivals != serving_events_seen_) service_signal_.notify();
        serving_events_seen_ = arrivals;
    } else if (finished && !service_wanted_.exchange(true)) {
        // A request finished here: the serving loop's service_actions runs, as after a thread-mode
        // worker ends (the chat flushes what the handler queued).
        loops_[0].loop->post([this] { service_signal_.notify(); });
    }
    return limit;
}

void EventLoops::listen(std::size_t index, std::size_t k, Listening how) {
    Loop& state = loops_[index];
    Listener& listener = state.listening[k];
    if (listener.how == how) return;
    EventLoop& loop = *state.loop;
    Served& served = *servers_[k];
    const int fd = served.server->fileno();
    // EPOLLEXCLUSIVE cannot be modified, only added and deleted: every change is a delete and an add.
    if (listener.how != Listening::no) loop.unwatch(fd);
    listener = Listener{how};
    switch (how) {
    case Listening::no: break;
    case Listening::accepting:
    case Listening::taking_over: loop.watch(fd, [this, &served] { dispatch(served); }, EventLoop::Watch::exclusive); break;
    case Listening::standing_by:
        loop.watch(fd, [this, &listener, &loop] {
            listener.heard = true;
            listener.rearm_at = loop.woke() + stall_after_;
        }, EventLoop::Watch::once);
        break;
    }
}

void EventLoops::dispatch(Served& served) {
    // The server's own batch (BaseServer::handle_ready_requests): it stops at the connection limit
    // too, since EventMode's accepting() counts live_connections().
    if (!accepting_.load()) return;
    serving_events_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(served.hooks);
    // One connection per wake-up, as nginx takes them: the listener is level-triggered, so the
    // next round takes the next, and no system call asks whether another is waiting.
    served.server->handle_ready_requests(served.server->is_datagram_server() ? BaseServer::max_requests_per_wakeup : 1);
}

// ---- Loop 0: readers and service_actions ----

void EventLoops::sync_readers() {
    std::uint64_t version = 0;
    for (const auto& served : servers_) version += served->server->readers().version();
    if (version == readers_version_seen_) return;
    readers_version_seen_ = version;
    EventLoop& loop = *loops_[0].loop;
    for (const auto& [server, fd] : watched_readers_) loop.unwatch(fd);
    watched_readers_.clear();
    for (const auto& served : servers_) {
        BaseServer* server = served->server;
        for (const int fd : server->readers().fds()) {
            if (std::find(busy_readers_.begin(), busy_readers_.end(), std::pair{server, fd}) != busy_readers_.end())
                continue;
            const auto read_on_fiber = [this, server, fd, &loop] {
                busy_readers_.emplace_back(server, fd);
                loop.spawn([this, server, fd] {
                    server->readers().run(fd);
                    std::erase(busy_readers_, std::pair{server, fd});
                    readers_version_seen_ = ~std::uint64_t{0};  // watch it again, if still a reader
                });
            };
            // The callback runs on a fiber of its own: it may wait (the chat's console takes the
            // room's lock, which a suspended handler may hold). Unwatched meanwhile, so a level-
            // triggered fd does not start a second one.
            const bool watched = loop.watch(fd, [this, server, fd, &loop, read_on_fiber] {
                loop.unwatch(fd);
                std::erase(watched_readers_, std::pair{server, fd});
                read_on_fiber();
            });
            // An fd epoll cannot watch (a file, /dev/null) is always readable: read it now.
            if (watched) watched_readers_.emplace_back(server, fd);
            else read_on_fiber();
        }
    }
}

void EventLoops::start_service_fiber() {
    loops_[0].loop->spawn([this] {
        while (!closing_.load()) {
            std::optional<EventLoop::Clock::time_point> deadline;
            // The interval, and what a server wants sooner (service_due: a chat room's Redis link
            // finishing a connect or retrying); accepting's own pauses are the rounds' business.
            for (const auto& served : servers_)
                for (const auto every : {served->server->config().service_interval, served->server->service_due()})
                    if (every) {
                        const auto due = EventLoop::Clock::now() + *every;
                        if (!deadline || due < *deadline) deadline = due;
                    }
            service_signal_.wait(deadline);
            if (closing_.load()) break;
            service_wanted_ = false;
            // Not under the hooks' mutex: service_actions may wait (for the chat room's lock, held
            // by a suspended handler), and a fiber must never hold a thread's mutex across a wait.
            for (const auto& served : servers_) {
                try {
                    served->server->service_actions();
                } catch (const std::exception& error) {
                    log("sockserv: service_actions: ", error.what());
                }
            }
        }
    });
}

bool EventLoops::wait_idle_until(EventLoop::Clock::time_point deadline) {
    if (!started_ || live_.load() == 0) return true;
    // Loop 0 is this thread: it must go on running its fibers meanwhile. A fiber waiting out the
    // deadline wakes it at the end; the last request to finish on another loop wakes it
    // (request_finished).
    EventLoop& first = *loops_[0].loop;
    EventLoop::Signal cancel;
    bool over = false;
    first.spawn([&] {
        cancel.wait(deadline);
        over = true;
    });
    first.run([&] { return over || live_.load() == 0; });
    cancel.notify();
    first.run([&] { return over; });
    return live_.load() == 0;
}

void EventLoops::unblock_connections(bool cut_off) noexcept {
    if (!started_) return;
    for (std::size_t i = 1; i < count_; ++i) {
        EventLoop* loop = loops_[i].loop.get();
        try {
            loop->post([loop, cut_off] { loop->unblock_connections(cut_off); });
        } catch (...) {
            // Out of memory for the task: that loop's idle clients wait for their own time-outs.
        }
    }
    loops_[0].loop->unblock_connections(cut_off);
}

void EventLoops::join() {
    closing_ = true;
    if (!started_) return;
    // The other loops end once closing_ is set and their fibers are done: they must go round to see it.
    for (std::size_t i = 1; i < count_; ++i) loops_[i].loop->wake();
    service_signal_.notify();
    EventLoop& first = *loops_[0].loop;
    first.run_until_idle();
    for (std::size_t i = 1; i < count_; ++i)
        if (loops_[i].thread.joinable()) loops_[i].thread.join();
}

void EventLoops::close(std::chrono::milliseconds grace, std::optional<std::chrono::milliseconds> stop_timeout) {
    if (closed_) return;
    closed_ = true;
    accepting_ = false;
    if (started_)
        for (std::size_t i = 1; i < count_; ++i) loops_[i].loop->wake();  // they stop accepting
    drain(*this, grace, stop_timeout);
}

}  // namespace sockserv
