#pragma once
// Waker: an eventfd a blocked loop polls on, so that another thread, a forked child or a signal
// handler can wake it at once. This is why nothing in sockserv polls on an interval.

#include <sockserv/base/unique_fd.hpp>

namespace sockserv {

class Waker {
public:
    Waker();
    /// Makes fd() readable. Async-signal-safe; thread safe; works from a forked child (the eventfd is
    /// shared with the parent).
    void notify() const noexcept;
    /// Resets readability. Call from the loop that polls fd().
    void drain() const noexcept;
    int fd() const noexcept { return fd_.get(); }

private:
    UniqueFd fd_;
};

}  // namespace sockserv
