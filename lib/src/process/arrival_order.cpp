#include <sockserv/process/arrival_order.hpp>
#include <sockserv/base/error.hpp>
#include <sockserv/io/waiting.hpp>

#include <cerrno>
#include <ctime>

namespace sockserv {

namespace {

timespec deadline_after(std::chrono::milliseconds wait) {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto nanos = static_cast<long long>(now.tv_nsec) + std::chrono::nanoseconds(wait).count();
    now.tv_sec += static_cast<time_t>(nanos / 1'000'000'000);
    now.tv_nsec = static_cast<long>(nanos % 1'000'000'000);
    return now;
}

}  // namespace

ArrivalOrder::ArrivalOrder(std::chrono::milliseconds patience) : patience_(patience) {
    pthread_condattr_t attributes;
    ::pthread_condattr_init(&attributes);
    ::pthread_condattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    // Monotonic: a clock step must not turn `patience` into hours or nothing.
    ::pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    for (auto& condition : turn_changed_) {
        const int rc = ::pthread_cond_init(&condition, &attributes);
        if (rc != 0) {
            ::pthread_condattr_destroy(&attributes);
            throw_errno(rc, "pthread_cond_init");
        }
    }
    ::pthread_condattr_destroy(&attributes);
}

ArrivalOrder::~ArrivalOrder() {
    for (auto& condition : turn_changed_) ::pthread_cond_destroy(&condition);
}

// On an event-mode fiber a blocking wait would stall every fiber of the loop — the one holding the
// turn among them, perhaps: the fiber polls for its turn instead, giving way in between.
void ArrivalOrder::lock_in_turn_on_fiber(std::uint64_t sequence) {
    auto last_progress = std::chrono::steady_clock::now();
    std::uint64_t seen = ~std::uint64_t{0};
    for (unsigned attempt = 0;; ++attempt) {
        if (mutex_.try_lock()) {
            if (next_ >= sequence) {
                holder_ = static_cast<std::int64_t>(sequence);
                return;
            }
            const auto now = std::chrono::steady_clock::now();
            if (next_ != seen) {
                seen = next_;
                last_progress = now;
            } else if (now - last_progress > patience_) {
                next_ = sequence;  // as below: the request before us is never coming
                for (auto& condition : turn_changed_) ::pthread_cond_broadcast(&condition);
                holder_ = static_cast<std::int64_t>(sequence);
                return;
            }
            mutex_.unlock();
        }
        detail::give_way(attempt);
    }
}

void ArrivalOrder::lock_in_turn(std::uint64_t sequence) {
    if (in_fiber()) return lock_in_turn_on_fiber(sequence);
    mutex_.lock();
    while (next_ < sequence) {
        const std::uint64_t seen = next_;
        const timespec deadline = deadline_after(patience_);
        int rc = 0;
        while (next_ == seen && rc != ETIMEDOUT) {
            rc = ::pthread_cond_timedwait(&turn_changed_[sequence % slots], mutex_.native_handle(), &deadline);
            // A waiter that died left the mutex to us; a holder that died left its turn unfinished.
            if (rc == EOWNERDEAD) {
                ::pthread_mutex_consistent(mutex_.native_handle());
                rc = 0;
            }
        }
        // No progress for `patience`: the request before us is never coming (its child died, or
        // it never took its turn). Skip it rather than stall everyone behind it.
        if (rc == ETIMEDOUT && next_ == seen) {
            next_ = sequence;
            // Rare: those skipped over along with the missing one are late now, whatever their slot.
            for (auto& condition : turn_changed_) ::pthread_cond_broadcast(&condition);
        }
    }
    holder_ = static_cast<std::int64_t>(sequence);
}

void ArrivalOrder::lock() {
    if (in_fiber()) {
        for (unsigned attempt = 0; !mutex_.try_lock(); ++attempt) detail::give_way(attempt);
    } else {
        mutex_.lock();
    }
    holder_ = -1;
}

void ArrivalOrder::unlock() noexcept {
    if (holder_ >= 0) {
        const auto after = static_cast<std::uint64_t>(holder_) + 1;
        if (after > next_) {
            next_ = after;
            ::pthread_cond_broadcast(&turn_changed_[next_ % slots]);
        }
        holder_ = -1;
    }
    mutex_.unlock();
}

}  // namespace sockserv
