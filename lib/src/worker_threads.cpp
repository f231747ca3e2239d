#include <sockserv/worker_threads.hpp>

#include <sys/socket.h>

namespace sockserv {

WorkerThreads::~WorkerThreads() {
    unblock_connections();
    join_all();
}

void WorkerThreads::Ticket::release_connection() noexcept {
    std::lock_guard lock(owner_.mutex_);
    self_->connection_fd = -1;
}

void WorkerThreads::finished(Iterator self) noexcept {
    {
        std::lock_guard lock(mutex_);
        self->connection_fd = -1;
        finished_.splice(finished_.end(), running_, self);
    }
    done_.notify_all();
    waker_.notify();  // the loop joins us at once, so finished threads never pile up
}

void WorkerThreads::reap() noexcept {
    std::list<Worker> done;
    {
        std::lock_guard lock(mutex_);
        done.swap(finished_);
    }
    for (Worker& worker : done) worker.thread.join();  // they are past their last use of mutex_
}

void WorkerThreads::unblock_connections() noexcept {
    std::lock_guard lock(mutex_);
    for (const Worker& worker : running_)
        if (worker.connection_fd >= 0) ::shutdown(worker.connection_fd, SHUT_RD);
}

void WorkerThreads::join_all() noexcept {
    std::unique_lock lock(mutex_);
    for (;;) {
        done_.wait(lock, [this] { return !finished_.empty() || running_.empty(); });
        if (finished_.empty()) return;
        std::list<Worker> done;
        done.swap(finished_);
        lock.unlock();
        for (Worker& worker : done) worker.thread.join();
        lock.lock();
    }
}

std::size_t WorkerThreads::count() const noexcept {
    std::lock_guard lock(mutex_);
    return running_.size() + finished_.size();
}

}  // namespace sockserv
