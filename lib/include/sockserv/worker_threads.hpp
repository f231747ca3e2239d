#pragma once
// WorkerThreads: the threads of one threading server. A finished thread is joined and forgotten as
// soon as the loop wakes (it wakes the loop itself), so memory stays flat however many requests
// come (Python kept every thread until close: bpo-37193). Connections in use are tracked so that
// closing the server can unblock workers stuck reading from an idle client.

#include <sockserv/waker.hpp>

#include <condition_variable>
#include <cstddef>
#include <list>
#include <mutex>
#include <thread>
#include <utility>

namespace sockserv {

class WorkerThreads {
    struct Worker {
        std::thread thread;
        int connection_fd = -1;
    };
    using Iterator = std::list<Worker>::iterator;

public:
    explicit WorkerThreads(const Waker& waker) noexcept : waker_(waker) {}
    /// Unblocks and joins whatever still runs.
    ~WorkerThreads();
    WorkerThreads(const WorkerThreads&) = delete;
    WorkerThreads& operator=(const WorkerThreads&) = delete;

    /// What a worker holds: release_connection() before closing the connection fd, so that
    /// unblock_connections() can never hit a reused fd number.
    class Ticket {
    public:
        void release_connection() noexcept;

    private:
        friend class WorkerThreads;
        Ticket(WorkerThreads& owner, Iterator self) noexcept : owner_(owner), self_(self) {}
        WorkerThreads& owner_;
        Iterator self_;
    };

    /// Runs work(Ticket&) on a new thread; connection_fd (-1 for none) is the fd to unblock on
    /// close. Throws std::system_error when no thread can be made (work is then destroyed).
    /// Thread safe.
    template <class Work>
    void start(int connection_fd, Work work) {
        reap();
        std::lock_guard lock(mutex_);
        const Iterator self = running_.emplace(running_.end());
        self->connection_fd = connection_fd;
        try {
            // The new thread cannot reach finished() before this assignment: it needs mutex_.
            self->thread = std::thread([this, self, work = std::move(work)]() mutable {
                Ticket ticket(*this, self);
                work(ticket);
                finished(self);
            });
        } catch (...) {
            running_.erase(self);
            throw;
        }
    }

    /// Joins the threads that have finished. Thread safe.
    void reap() noexcept;
    /// shutdown(SHUT_RD) on every connection in use: a worker blocked reading an idle client sees
    /// EOF, while a response being written still completes. Thread safe.
    void unblock_connections() noexcept;
    /// Waits for every worker. Thread safe, but not from a worker.
    void join_all() noexcept;
    /// Threads started and not yet joined.
    std::size_t count() const noexcept;

private:
    void finished(Iterator self) noexcept;

    const Waker& waker_;
    mutable std::mutex mutex_;
    std::condition_variable done_;
    std::list<Worker> running_;
    std::list<Worker> finished_;
};

}  // namespace sockserv
