#pragma once
// ProcessMutex: a mutex that works between processes as well as threads, for objects in shared
// memory (Shared<T>). std::mutex may not be shared between processes; this is a pthread mutex with
// PTHREAD_PROCESS_SHARED. It is robust: a child that dies holding it (a crash, a kill) does not
// leave every other process blocked forever — the next lock() takes it over.

#include <pthread.h>

namespace sockserv {

class ProcessMutex {
public:
    ProcessMutex();
    ~ProcessMutex();
    ProcessMutex(const ProcessMutex&) = delete;
    ProcessMutex& operator=(const ProcessMutex&) = delete;

    /// Blocks until held. If the last holder died holding it, takes it over: the data it guards may
    /// be half-updated, so guarded state must stay valid at every store (owner_died() tells).
    void lock();
    bool try_lock();
    void unlock() noexcept;
    /// True when the last lock() took the mutex over from a holder that had died.
    bool owner_died() const noexcept { return owner_died_; }
    pthread_mutex_t* native_handle() noexcept { return &mutex_; }

private:
    bool acquired(int rc);
    pthread_mutex_t mutex_;
    bool owner_died_ = false;
};

}  // namespace sockserv
