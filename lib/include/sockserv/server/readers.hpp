#pragma once
// Readers: other fds a server's serving loop watches besides its socket (an admin console on
// stdin, a signalfd), each with the callback to run when it is readable. The loop asks which fds
// there are (and, through version(), whether that changed) and runs a callback with run().

#include <cstdint>
#include <functional>
#include <vector>

namespace sockserv {

class Readers {
public:
    /// Watches fd (replacing an earlier callback for it).
    void add(int fd, std::function<void()> on_readable);
    /// Stops watching fd; safe from its own callback.
    void remove(int fd) noexcept;
    /// Runs fd's callback (nothing if it is no longer watched); reports its exceptions on stderr.
    void run(int fd) noexcept;

    std::vector<int> fds() const;
    std::size_t size() const noexcept { return readers_.size(); }
    bool empty() const noexcept { return readers_.empty(); }
    /// The i-th fd (0 <= i < size()).
    int fd(std::size_t i) const noexcept { return readers_[i].fd; }
    /// Changes whenever the set of fds does.
    std::uint64_t version() const noexcept { return version_; }

private:
    struct Reader {
        int fd;
        std::function<void()> on_readable;
    };
    std::vector<Reader> readers_;
    std::uint64_t version_ = 0;
};

}  // namespace sockserv
