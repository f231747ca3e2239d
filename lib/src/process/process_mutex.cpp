#include <sockserv/base/error.hpp>
#include <sockserv/process/process_mutex.hpp>

#include <cerrno>

namespace sockserv {

ProcessMutex::ProcessMutex() {
    pthread_mutexattr_t attributes;
    ::pthread_mutexattr_init(&attributes);
    ::pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    ::pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    const int rc = ::pthread_mutex_init(&mutex_, &attributes);
    ::pthread_mutexattr_destroy(&attributes);
    if (rc != 0) throw_errno(rc, "pthread_mutex_init");
}

ProcessMutex::~ProcessMutex() { ::pthread_mutex_destroy(&mutex_); }

bool ProcessMutex::acquired(int rc) {
    if (rc == 0) {
        owner_died_ = false;
        return true;
    }
    if (rc == EOWNERDEAD) {
        // The holder died inside its critical section. Marking the mutex consistent keeps it usable;
        // without that, unlock() would make it unusable for everyone for good.
        ::pthread_mutex_consistent(&mutex_);
        owner_died_ = true;
        return true;
    }
    if (rc == EBUSY) return false;
    throw_errno(rc, "pthread_mutex_lock");
}

void ProcessMutex::lock() { acquired(::pthread_mutex_lock(&mutex_)); }

bool ProcessMutex::try_lock() { return acquired(::pthread_mutex_trylock(&mutex_)); }

void ProcessMutex::unlock() noexcept { ::pthread_mutex_unlock(&mutex_); }

}  // namespace sockserv
