#include <sockserv/base/error.hpp>
#include <sockserv/server/stop_state.hpp>

#include <sys/mman.h>
#include <sys/socket.h>

#include <new>

namespace sockserv {

StopState::StopState() {
    static_assert(std::atomic<int>::is_always_lock_free, "the shared stop flags need lock-free atomics");
    void* page = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) throw_errno("mmap");
    shared_ = new (page) Shared{};
}

StopState::~StopState() { ::munmap(shared_, sizeof(Shared)); }

void StopState::request() noexcept {
    shared_->stopping.store(1);
    shared_->requested.store(1);
    waker_.notify();
}

StopState::Serving::Serving(StopState& state) : state_(state) {
    {
        std::lock_guard lock(state_.mutex_);
        state_.serving_ = true;
        state_.serving_thread_ = std::this_thread::get_id();
    }
    if (!state_.requested()) state_.shared_->stopping.store(0);
}

StopState::Serving::~Serving() {
    state_.shared_->requested.store(0);
    {
        std::lock_guard lock(state_.mutex_);
        state_.serving_ = false;
    }
    state_.served_.notify_all();
}

bool StopState::serving_elsewhere() {
    std::lock_guard lock(mutex_);
    return serving_ && serving_thread_ != std::this_thread::get_id();
}

bool StopState::wait_served(std::optional<std::chrono::steady_clock::time_point> deadline) {
    std::unique_lock lock(mutex_);
    if (!deadline) {
        served_.wait(lock, [this] { return !serving_; });
        return true;
    }
    return served_.wait_until(lock, *deadline, [this] { return !serving_; });
}

void StopState::serving_connection(int fd) {
    std::lock_guard lock(mutex_);
    connection_ = fd;
}

void StopState::unblock_connection(bool cut_off) noexcept {
    std::lock_guard lock(mutex_);
    if (cut_off && connection_ >= 0) ::shutdown(connection_, SHUT_RDWR);
}

}  // namespace sockserv
