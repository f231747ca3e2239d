#include <sockserv/child_processes.hpp>
#include <sockserv/error.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace sockserv {

pid_t ChildProcesses::fork(int connection_fd) {
    // Duplicated before the fork: the child must not inherit a second copy of its own connection.
    const int kept = connection_fd >= 0 ? ::fcntl(connection_fd, F_DUPFD_CLOEXEC, 0) : -1;
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int error = errno;
        if (kept >= 0) ::close(kept);
        throw_errno(error, "fork");
    }
    if (pid == 0) {
        if (kept >= 0) ::close(kept);
        return 0;
    }
    children_.push_back({pid, kept});
    return pid;
}

void ChildProcesses::unblock_connections() const noexcept {
    for (const Child& child : children_)
        if (child.connection_fd >= 0) ::shutdown(child.connection_fd, SHUT_RD);
}

bool ChildProcesses::reap(pid_t pid, int options) noexcept {
    int status = 0;
    pid_t rc;
    do rc = ::waitpid(pid, &status, options);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) return false;  // still running
    // Exited, or ECHILD: gone already (SIGCHLD set to SIG_IGN lets the kernel reap it).
    const auto it = std::find_if(children_.begin(), children_.end(), [pid](const Child& c) { return c.pid == pid; });
    if (it != children_.end()) {
        if (it->connection_fd >= 0) ::close(it->connection_fd);
        *it = children_.back();
        children_.pop_back();
    }
    return true;
}

void ChildProcesses::collect() noexcept {
    if (children_.empty()) return;
    // Ask the kernel which child has exited without reaping it (WNOWAIT); reap it if it is ours.
    // That costs one call per exited child instead of one per live child. A foreign child must
    // stay waitable for its owner, so when one shows up, ask about each of ours instead.
    for (;;) {
        siginfo_t info{};
        if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) break;
        if (info.si_pid == 0) return;  // nobody has exited
        if (!ours(info.si_pid)) break;
        reap(info.si_pid, 0);
    }
    for (const pid_t pid : pids()) reap(pid, WNOHANG);
}

std::vector<pid_t> ChildProcesses::pids() const {
    std::vector<pid_t> out;
    out.reserve(children_.size());
    for (const Child& child : children_) out.push_back(child.pid);
    return out;
}

bool ChildProcesses::ours(pid_t pid) const noexcept {
    return std::any_of(children_.begin(), children_.end(), [pid](const Child& c) { return c.pid == pid; });
}

void ChildProcesses::wait_all() noexcept {
    for (const pid_t pid : pids()) reap(pid, 0);
}

}  // namespace sockserv
