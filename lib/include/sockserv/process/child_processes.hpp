#pragma once
// ChildProcesses: the forked children of one server, and nobody else's.
//
// Each child is watched through a pidfd (Linux 5.4+), not through SIGCHLD: its exit makes exit_fd()
// readable, and only that child is then waited for. No process-wide signal handler is installed, so
// a child the program forked for other reasons stays waitable by its owner, a SIGCHLD handler of the
// program's own keeps working, and the parent never writes a signal frame onto its stack.
//
// Why the record of children is in shared memory: after fork() every private page the parent writes
// is copied first (a page fault, and a TLB flush on each CPU the parent has run on), and the record
// is written on every fork and every exit. A MAP_SHARED page is never copied. Children never write
// it: every method but count() does nothing outside the process that made the object.
#include <sockserv/base/address.hpp>
#include <sockserv/base/unique_fd.hpp>

#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <cstddef>

namespace sockserv {

class ChildProcesses {
public:
    /// Room for `expected` children before the record grows. Throws std::system_error when the
    /// kernel lacks pidfds ("pidfd_open: Function not implemented" before Linux 5.3).
    explicit ChildProcesses(std::size_t expected = 64);
    ~ChildProcesses();
    ChildProcesses(const ChildProcesses&) = delete;
    ChildProcesses& operator=(const ChildProcesses&) = delete;

    /// fork(); in the parent the child is recorded with its pidfd and with a duplicate of the
    /// connection it serves (when there is one: connection_fd >= 0), kept until the child is reaped
    /// so that unblock_connections() can reach it. Throws std::system_error ("fork: ...").
    /// A child killed by a signal or exiting non-zero is logged when it is reaped, with its pid and
    /// `client` (the address it was serving, when given). Not thread safe (call from the server loop).
    pid_t fork(int connection_fd = -1, const Address* client = nullptr);

    /// Readable while a recorded child has exited and not been collected: poll it in the loop.
    int exit_fd() const noexcept { return exits_.get(); }

    /// Reaps every recorded child that has exited; never blocks.
    void collect() noexcept;

    /// Waits for every recorded child.
    void wait_all() noexcept;
    /// Reaps children as they exit until none is left or the deadline passes; true when none is.
    bool wait_all_until(std::chrono::steady_clock::time_point deadline) noexcept;

    std::size_t count() const noexcept;

    /// Children that could not be given a pidfd (the process was out of fds when they were forked):
    /// their exit wakes nobody, so while there are any the loop must call collect() now and then.
    std::size_t unwatched() const noexcept;

    /// shutdown(SHUT_RD) on every child's connection: a child blocked reading from an idle client
    /// (an HTTP keep-alive) sees EOF and finishes, while one in the middle of a response completes
    /// it. shutdown acts on the socket, which parent and child share, so no signal is needed.
    /// cut_off: SHUT_RDWR, which fails a child's send blocked on a client that does not read too.
    void unblock_connections(bool cut_off = false) const noexcept;

private:
    struct Child {
        pid_t pid;
        int pidfd;          // -1 when unwatched
        int connection_fd;  // the parent's duplicate, or -1
        Address client;     // for the log line if it dies; empty when not given
    };
    struct Record;  // the shared mapping: counts, then the children

    bool in_owner() const noexcept;
    /// Reaps the child if it has exited (true), logging it when it did not end well.
    bool reaped(const Child& child) const noexcept;
    void report(const Child& child, const siginfo_t& info) const noexcept;
    void add(const Child& child);
    void forget(std::size_t index) noexcept;

    UniqueFd exits_;  // an epoll set of the children's pidfds
    Record* record_ = nullptr;
    pid_t owner_;
};

namespace detail {
/// pidfd_open(2): an fd that turns readable when process pid exits. -1 with errno on failure.
int pidfd_open(pid_t pid) noexcept;
/// Whether children forked by the calling thread are killed (PR_SET_PDEATHSIG) when it dies. By
/// default only the main thread's are; a thread that stays until its server's children have been
/// reaped turns it on.
void children_die_with_this_thread(bool on) noexcept;
}  // namespace detail

}  // namespace sockserv
