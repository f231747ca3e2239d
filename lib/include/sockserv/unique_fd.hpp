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

}  // namespace sockserv
