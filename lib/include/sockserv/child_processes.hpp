#pragma once
// ChildProcesses: the forked children of one server, and nobody else's.
//
// Unlike Python's waitpid(-1), only our own pids are ever waited for, so a child the program forked
// for other reasons stays waitable by its owner. SIGCHLD wakes the server loop through its waker.

#include <sockserv/signals.hpp>
#include <sockserv/waker.hpp>

#include <sys/types.h>

#include <cstddef>
#include <vector>

namespace sockserv {

class ChildProcesses {
public:
    explicit ChildProcesses(const Waker& waker) : wakeup_(waker) {}

    /// fork(); in the parent the pid is recorded. Throws std::system_error ("fork: ...").
    /// Not thread safe (call from the server loop).
    pid_t fork();
    /// Reaps every recorded child that has exited; never blocks.
    void collect() noexcept;
    /// Waits for every recorded child.
    void wait_all() noexcept;
    std::size_t count() const noexcept { return pids_.size(); }

private:
    bool reap(pid_t pid, int options) noexcept;

    bool ours(pid_t pid) const noexcept;

    signals::ChildWakeup wakeup_;
    // A flat vector, not a hash set: after every fork each page the parent writes is copied
    // (copy-on-write), and a vector touches one page where a node-based set touches several.
    std::vector<pid_t> pids_;
};

}  // namespace sockserv
