#include <sockserv/base/error.hpp>
#include <sockserv/modes/request_threads.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace sockserv {

RequestThreads::~RequestThreads() {
    unblock_connections();
    join_all();
}

void RequestThreads::Ticket::release_connection() noexcept {
    std::lock_guard lock(owner_.mutex_);
    self_->connection_fd = -1;
}

void RequestThreads::launch(int connection_fd, std::unique_ptr<Job> job) {
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
    // Created outside the lock: clone() is slow, and finishing threads need the lock meanwhile.
    // Only this thread (the loop) reads self->thread, in reap() and join_all().
    pthread_attr_t attributes;
    ::pthread_attr_init(&attributes);
    if (stack_size_ > 0) ::pthread_attr_setstacksize(&attributes, stack_size_);
    const int error = ::pthread_create(&self->thread, &attributes, &RequestThreads::thread_main, &*self);
    ::pthread_attr_destroy(&attributes);
    if (error) {
        std::lock_guard lock(mutex_);
        running_.erase(self);  // destroys the job, and with it the request it owned
        throw_errno(error, "pthread_create");
    }
}

void* RequestThreads::thread_main(void* arg) noexcept {
    auto* entry = static_cast<Entry*>(arg);
    RequestThreads& owner = *entry->owner;
    const Iterator self = entry->self;
    Ticket ticket(owner, self);
    entry->job->run(ticket);  // the job never throws: it ends in finish_request_guarded
    entry->job.reset();       // the request is released before we are counted as finished
    owner.finished(self);
    return nullptr;
}

void RequestThreads::finished(Iterator self) noexcept {
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

void RequestThreads::reap() noexcept {
    std::lock_guard lock(mutex_);
    for (auto it = finished_.begin(); it != finished_.end();) {
        // A finished thread may still be on its way out; joining it now would stall the loop.
        if (::pthread_tryjoin_np(it->thread, nullptr) == 0) it = finished_.erase(it);
        else ++it;
    }
}

void RequestThreads::unblock_connections(bool cut_off) noexcept {
    std::lock_guard lock(mutex_);
    for (const Entry& entry : running_)
        if (entry.connection_fd >= 0) ::shutdown(entry.connection_fd, cut_off ? SHUT_RDWR : SHUT_RD);
}

void RequestThreads::join_all() noexcept {
    std::unique_lock lock(mutex_);
    for (;;) {
        done_.wait(lock, [this] { return !finished_.empty() || running_.empty(); });
        if (finished_.empty()) return;
        std::list<Entry> done;
        done.swap(finished_);
        lock.unlock();
        for (Entry& entry : done) ::pthread_join(entry.thread, nullptr);
        lock.lock();
    }
}

bool RequestThreads::wait_idle_until(std::chrono::steady_clock::time_point deadline) noexcept {
    std::unique_lock lock(mutex_);
    return done_.wait_until(lock, deadline, [this] { return running_.empty(); });
}

std::size_t RequestThreads::count() const noexcept {
    std::lock_guard lock(mutex_);
    return running_.size() + finished_.size();
}

}  // namespace sockserv

namespace sockserv {

bool RequestThreads::exiting() const noexcept {
    std::lock_guard lock(mutex_);
    return !finished_.empty();
}

}  // namespace sockserv
