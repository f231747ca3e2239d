#include <sockserv/base/error.hpp>
#include <sockserv/io/waker.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace sockserv {

Waker::Waker() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!fd_) throw_errno("eventfd");
}

void Waker::notify() const noexcept {
    const int saved_errno = errno;  // callable from signal handlers: leave errno as it was
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof one);
    errno = saved_errno;
}

void Waker::drain() const noexcept {
    std::uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(fd_.get(), &count, sizeof count);
}

}  // namespace sockserv
