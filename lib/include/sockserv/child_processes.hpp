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

    /// fork(); in the parent the pid is recorded, with a duplicate of the connection the child
    /// serves (when there is one: connection_fd >= 0), kept until the child is reaped so that
    /// unblock_connections() can reach it. Throws std::system_error ("fork: ...").
    /// Not thread safe (call from the server loop).
    pid_t fork(int connection_fd = -1);
    /// Reaps every recorded child that has exited; never blocks.
    void collect() noexcept;
    /// Waits for every recorded child.
    void wait_all() noexcept;
    std::size_t count() const noexcept { return children_.size(); }
    /// shutdown(SHUT_RD) on every child's connection: a child blocked reading from an idle client
    /// (an HTTP keep-alive) sees EOF and finishes, while one in the middle of a response completes
    /// it. shutdown acts on the socket, which parent and child share, so no signal is needed.
    void unblock_connections() const noexcept;

private:
    bool reap(pid_t pid, int options) noexcept;

    bool ours(pid_t pid) const noexcept;
    std::vector<pid_t> pids() const;  // a copy: reaping edits children_

    struct Child {
        pid_t pid;
        int connection_fd;  // the parent's duplicate, or -1
    };
    signals::ChildWakeup wakeup_;
    // A flat vector, not a hash set: after every fork each page the parent writes is copied
    // (copy-on-write), and a vector touches one page where a node-based set touches several.
    std::vector<Child> children_;
};

}  // namespace sockserv
