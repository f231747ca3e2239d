#include <sockserv/base/unique_fd.hpp>

#include <unistd.h>

namespace sockserv {

namespace detail {
namespace {
thread_local FdCloseListener* close_listener = nullptr;
}  // namespace

FdCloseListener* exchange_fd_close_listener(FdCloseListener* listener) noexcept {
    return std::exchange(close_listener, listener);
}
}  // namespace detail

[[gnu::hot]] void UniqueFd::reset(int fd) noexcept {
    // close() is not retried on EINTR: on Linux the fd is released whatever close returns, and a
    // retry could close an fd another thread just got.
    if (fd_ >= 0) {
        // An event loop keeps fds registered until they close; it must hear of it before the
        // number can be reused.
        if (detail::close_listener) detail::close_listener->fd_closing(fd_);
        ::close(fd_);
    }
    fd_ = fd;
}

}  // namespace sockserv
