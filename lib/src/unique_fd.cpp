#include <sockserv/event_loop.hpp>
#include <sockserv/unique_fd.hpp>

#include <unistd.h>

namespace sockserv {

[[gnu::hot]] void UniqueFd::reset(int fd) noexcept {
    // close() is not retried on EINTR: on Linux the fd is released whatever close returns, and a
    // retry could close an fd another thread just got.
    if (fd_ >= 0) {
        // An event loop keeps fds registered until they close; it must hear of it before the
        // number can be reused.
        if (EventLoop* loop = EventLoop::current()) loop->forget_fd(fd_);
        ::close(fd_);
    }
    fd_ = fd;
}

}  // namespace sockserv
