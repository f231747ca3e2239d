#include <sockserv/base/error.hpp>
#include <sockserv/modes/worker_threads.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace sockserv {

WorkerThreads::~WorkerThreads() {
    unblock_connections();
    join_all();
}

void WorkerThreads::Ticket::release_connection() noexcept {
    std::lock_guard lock(owner_.mutex_);
    self_->connection_fd = -1;
}

void WorkerThreads::launch(int connection_fd, std::unique_ptr<Job> job) {
    reap();
    Iterator self;
    {
        std::lock_guard lock(mutex_);
        self = running_.emplace(running_.end());
        self->connection_fd = connection_fd;
        self->job = std::move(job);
        self->owner = this;
        self->self = self;
    }
    // Created outside the lock: clone() is slow, and finishing workers need the lock meanwhile.
    // Only this thread (the loop) reads self->thread, in reap() and join_all().
    pthread_attr_t attributes;
    ::pthread_attr_init(&attributes);
    if (stack_size_ > 0) ::pthread_attr_setstacksize(&attributes, stack_size_);
    const int error = ::pthread_create(&self->thread, &attributes, &WorkerThreads::thread_main, &*self);
    ::pthread_attr_destroy(&attributes);
    if (error) {
        std::lock_guard lock(mutex_);
        running_.erase(self);  // destroys the job, and with it the request it owned
        throw_errno(error, "pthread_create");
    }
}

void* WorkerThreads::thread_main(void* arg) noexcept {
    auto* worker = static_cast<Worker*>(arg);
    WorkerThreads& owner = *worker->owner;
    const Iterator self = worker->self;
    Ticket ticket(owner, self);
    worker->job->run(ticket);  // the job never throws: it ends in finish_request_guarded
    worker->job.reset();       // the request is released before we are counted as finished
    owner.finished(self);
    return nullptr;
}

void WorkerThreads::finished(Iterator self) noexcept {
    bool first;
    {
        std::lock_guard lock(mutex_);
        self->connection_fd = -1;
        first = finished_.empty();
        finished_.splice(finished_.end(), running_, self);
    }
    done_.notify_all();
    // One wake-up is enough for all the threads that finish before the loop gets to reap them.
    if (first) waker_.notify();
}

void WorkerThreads::reap() noexcept {
    std::lock_guard lock(mutex_);
    for (auto it = finished_.begin(); it != finished_.end();) {
        // A finished thread may still be on its way out; joining it now would stall the loop.
        if (::pthread_tryjoin_np(it->thread, nullptr) == 0) it = finished_.erase(it);
        else ++it;
    }
}

void WorkerThreads::unblock_connections(bool cut_off) noexcept {
    std::lock_guard lock(mutex_);
    for (const Worker& worker : running_)
        if (worker.connection_fd >= 0) ::shutdown(worker.connection_fd, cut_off ? SHUT_RDWR : SHUT_RD);
}

void WorkerThreads::join_all() noexcept {
    std::unique_lock lock(mutex_);
    for (;;) {
        done_.wait(lock, [this] { return !finished_.empty() || running_.empty(); });
        if (finished_.empty()) return;
        std::list<Worker> done;
        done.swap(finished_);
        lock.unlock();
        for (Worker& worker : done) ::pthread_join(worker.thread, nullptr);
        lock.lock();
    }
}

bool WorkerThreads::wait_idle_until(std::chrono::steady_clock::time_point deadline) noexcept {
    std::unique_lock lock(mutex_);
    return done_.wait_until(lock, deadline, [this] { return running_.empty(); });
}

std::size_t WorkerThreads::count() const noexcept {
    std::lock_guard lock(mutex_);
    return running_.size() + finished_.size();
}

}  // namespace sockserv

namespace sockserv {

bool WorkerThreads::exiting() const noexcept {
    std::lock_guard lock(mutex_);
    return !finished_.empty();
}

}  // namespace sockserv
