#pragma once
// UniqueFd: the one owner of a file descriptor. Every fd sockserv opens lives in one of these.

#include <utility>

namespace sockserv {

class UniqueFd {
public:
    UniqueFd() noexcept = default;
    /// Takes ownership of fd (-1 for none).
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    /// Gives up ownership without closing.
    int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the current fd (errors ignored: the fd is gone either way on Linux) and takes fd.
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

namespace detail {
/// Whoever keeps state per fd number on this thread (the event engine's registrations) and must
/// forget it before close(2) lets the number be reused: UniqueFd tells it of every close.
class FdCloseListener {
public:
    virtual void fd_closing(int fd) noexcept = 0;

protected:
    ~FdCloseListener() = default;
};
/// Installs listener on this thread (nullptr: none) and returns the one it replaces.
FdCloseListener* exchange_fd_close_listener(FdCloseListener* listener) noexcept;
}  // namespace detail

}  // namespace sockserv
