#pragma once
// RequestThreads: the threads of one threading server. A finished thread is joined and forgotten as
// soon as the loop wakes (it wakes the loop itself), so memory stays flat however many requests
// come (Python kept every thread until close: bpo-37193). Joins never block the accept loop: only
// threads that have already exited are joined there (pthread_tryjoin_np), which is why these are
// pthreads and not std::threads. Connections in use are tracked so that closing the server can
// unblock threads stuck reading from an idle client.

#include <sockserv/io/waker.hpp>

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <utility>

namespace sockserv {

class RequestThreads {
public:
    class Ticket;

private:
    struct Job {
        virtual ~Job() = default;
        virtual void run(Ticket& ticket) = 0;
    };
    struct Entry {
        pthread_t thread{};
        int connection_fd = -1;
        std::unique_ptr<Job> job;
        RequestThreads* owner = nullptr;
        std::list<Entry>::iterator self;  // stays valid when spliced into finished_
    };
    using Iterator = std::list<Entry>::iterator;

public:
    /// stack_size: each thread's stack in bytes (0: the system default).
    explicit RequestThreads(const Waker& waker, std::size_t stack_size = 0) noexcept
        : waker_(waker), stack_size_(stack_size) {}
    /// Unblocks and joins whatever still runs.
    ~RequestThreads();
    RequestThreads(const RequestThreads&) = delete;
    RequestThreads& operator=(const RequestThreads&) = delete;

    /// What a thread holds: release_connection() before closing the connection fd, so that
    /// unblock_connections() can never hit a reused fd number.
    class Ticket {
    public:
        void release_connection() noexcept;

    private:
        friend class RequestThreads;
        Ticket(RequestThreads& owner, Iterator self) noexcept : owner_(owner), self_(self) {}
        RequestThreads& owner_;
        Iterator self_;
    };

    /// Runs work(Ticket&) on a new thread; connection_fd (-1 for none) is the fd to unblock on
    /// close. Throws std::system_error when no thread can be made (work is then destroyed).
    /// Thread safe.
    template <class Work>
    void start(int connection_fd, Work work) {
        struct Typed final : Job {
            explicit Typed(Work w) : work(std::move(w)) {}
            void run(Ticket& ticket) override { work(ticket); }
            Work work;
        };
        launch(connection_fd, std::make_unique<Typed>(std::move(work)));
    }

    /// Joins the threads that have finished and exited; never blocks on one still exiting.
    /// Thread safe.
    void reap() noexcept;
    /// shutdown(SHUT_RD) on every connection in use: a thread blocked reading an idle client sees
    /// EOF, while a response being written still completes. cut_off: SHUT_RDWR, which fails a send
    /// blocked on a client that does not read too (a stop's deadline). Thread safe.
    void unblock_connections(bool cut_off = false) noexcept;
    /// Waits for every thread. Thread safe, but not from one of them.
    void join_all() noexcept;
    /// Waits until no thread is running or the deadline passes; true when none is.
    bool wait_idle_until(std::chrono::steady_clock::time_point deadline) noexcept;
    /// Threads started and not yet joined.
    std::size_t count() const noexcept;
    /// Threads done with their work but not yet joined (reap() will get them).
    bool exiting() const noexcept;

private:
    void launch(int connection_fd, std::unique_ptr<Job> job);
    static void* thread_main(void* entry) noexcept;
    void finished(Iterator self) noexcept;

    const Waker& waker_;
    std::size_t stack_size_;
    mutable std::mutex mutex_;
    std::condition_variable done_;
    std::list<Entry> running_;
    std::list<Entry> finished_;
};

}  // namespace sockserv
