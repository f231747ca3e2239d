#include <sockserv/child_processes.hpp>
#include <sockserv/error.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace sockserv {

pid_t ChildProcesses::fork() {
    const pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid > 0) pids_.push_back(pid);
    return pid;
}

bool ChildProcesses::reap(pid_t pid, int options) noexcept {
    int status = 0;
    pid_t rc;
    do rc = ::waitpid(pid, &status, options);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) return false;  // still running
    // Exited, or ECHILD: gone already (SIGCHLD set to SIG_IGN lets the kernel reap it).
    if (const auto it = std::find(pids_.begin(), pids_.end(), pid); it != pids_.end()) {
        *it = pids_.back();
        pids_.pop_back();
    }
    return true;
}

void ChildProcesses::collect() noexcept {
    if (pids_.empty()) return;
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
    const std::vector<pid_t> ours(pids_.begin(), pids_.end());
    for (const pid_t pid : ours) reap(pid, WNOHANG);
}

bool ChildProcesses::ours(pid_t pid) const noexcept {
    return std::find(pids_.begin(), pids_.end(), pid) != pids_.end();
}

void ChildProcesses::wait_all() noexcept {
    const std::vector<pid_t> ours(pids_.begin(), pids_.end());
    for (const pid_t pid : ours) reap(pid, 0);
}

}  // namespace sockserv
