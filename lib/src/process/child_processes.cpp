#include <sockserv/process/child_processes.hpp>
#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include "exit_status.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <utility>

namespace sockserv {

// glibc 2.36 (Debian 12) declares pidfd_open in <sys/pidfd.h> without extern "C", so C++ cannot
// link to it; the system call is one line.
int detail::pidfd_open(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
using detail::pidfd_open;

namespace {
// The death signal follows the thread that forked, not the process: on a thread that may end
// before its server's children do (serve_forever on a thread, joined before server_close(),
// Python's usual pattern) it would kill children mid-response. So: the main thread, and threads
// that say they stay until their children are reaped.
thread_local std::optional<bool> children_die_with_thread;
}  // namespace

void detail::children_die_with_this_thread(bool on) noexcept { children_die_with_thread = on; }

struct ChildProcesses::Record {
    static_assert(alignof(Child) <= alignof(std::size_t), "the children follow the counts");
    std::size_t capacity;
    std::size_t size;
    std::size_t unwatched;
    // Then `capacity` children.
    Child* children() noexcept { return reinterpret_cast<Child*>(this + 1); }

    static std::size_t bytes(std::size_t capacity) noexcept { return sizeof(Record) + capacity * sizeof(Child); }
    static Record* make(std::size_t capacity) {
        void* memory = ::mmap(nullptr, bytes(capacity), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (memory == MAP_FAILED) throw_errno("mmap");
        auto* record = static_cast<Record*>(memory);  // zeroed by mmap
        record->capacity = capacity;
        return record;
    }
    static void unmap(Record* record) noexcept { ::munmap(record, bytes(record->capacity)); }
};

ChildProcesses::ChildProcesses(std::size_t expected)
    : exits_(::epoll_create1(EPOLL_CLOEXEC)), owner_(::getpid()) {
    if (!exits_) throw_errno("epoll_create1");
    // Asked now, not at the first fork: on a kernel without pidfds the server fails at start.
    const UniqueFd self(pidfd_open(owner_));
    if (!self) throw_errno("pidfd_open");
    record_ = Record::make(std::max<std::size_t>(expected, 1));
}

ChildProcesses::~ChildProcesses() {
    if (in_owner()) {
        for (std::size_t i = 0; i < record_->size; ++i) {
            if (record_->children()[i].pidfd >= 0) ::close(record_->children()[i].pidfd);
            if (record_->children()[i].connection_fd >= 0) ::close(record_->children()[i].connection_fd);
        }
    }
    Record::unmap(record_);
}

bool ChildProcesses::in_owner() const noexcept { return ::getpid() == owner_; }

std::size_t ChildProcesses::count() const noexcept { return record_->size; }

std::size_t ChildProcesses::unwatched() const noexcept { return record_->unwatched; }

[[gnu::hot]] pid_t ChildProcesses::fork(int connection_fd, const Address* client) {
    const pid_t parent = ::getpid();
    const bool die_with_thread = children_die_with_thread.value_or(::gettid() == parent);
    // The fds that watch the child are had before it exists: a child the parent could not watch
    // (no pidfd: its exit wakes nobody, and a stop cannot find it) is never forked. Out of fds,
    // this throws EMFILE and the caller waits for some to free up. The child inherits both and
    // closes them as it returns.
    UniqueFd kept(connection_fd >= 0 ? ::fcntl(connection_fd, F_DUPFD_CLOEXEC, 0) : -1);
    if (connection_fd >= 0 && !kept) throw_errno("fork: no fd to keep the connection");
    UniqueFd pidfd_slot(::fcntl(exits_.get(), F_DUPFD_CLOEXEC, 0));
    if (!pidfd_slot) throw_errno("fork: no fd to watch the child");
    const pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) {
        // A child must not outlive its server (a killed server's orphans went on sending): the
        // kernel kills it when the forking thread dies. Asked after the fork, so if the parent
        // died in between, getppid() has changed already and the child goes at once.
        if (die_with_thread) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(1);
        }
        return 0;
    }
    // Nobody but us waits for the child, so until we do its pid names it and no other process: the
    // pidfd opened after the fork is the child's. (A program that set SIGCHLD to SIG_IGN has its
    // children reaped by the kernel; a quick one is gone already, ESRCH, and needs no watching.)
    // It takes the slot just freed; only another thread opening an fd in between could take it.
    pidfd_slot.reset();
    UniqueFd pidfd(pidfd_open(pid));
    if (!pidfd && errno == ESRCH) return pid;
    if (pidfd) {
        epoll_event event{};
        event.events = EPOLLIN;  // a pidfd turns readable when its process exits
        event.data.fd = pidfd.get();
        if (::epoll_ctl(exits_.get(), EPOLL_CTL_ADD, pidfd.get(), &event) != 0) pidfd.reset();
    }
    // Had another thread taken the slot, the child is kept unwatched; collect() asks about it by pid.
    add({pid, pidfd.release(), kept.release(), client ? *client : Address{}});
    return pid;
}

void ChildProcesses::add(const Child& child) {
    if (record_->size == record_->capacity) {
        Record* bigger = nullptr;
        try {
            bigger = Record::make(record_->capacity * 2);
        } catch (...) {
            // Out of memory: the child must still be reaped; wait for it rather than lose it.
            siginfo_t info{};
            ::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED);
            if (child.pidfd >= 0) ::close(child.pidfd);
            if (child.connection_fd >= 0) ::close(child.connection_fd);
            throw;
        }
        bigger->size = record_->size;
        bigger->unwatched = record_->unwatched;
        std::memcpy(bigger->children(), record_->children(), record_->size * sizeof(Child));
        Record::unmap(std::exchange(record_, bigger));
    }
    record_->children()[record_->size++] = child;
    if (child.pidfd < 0) ++record_->unwatched;
}

bool ChildProcesses::reaped(const Child& child) const noexcept {
    siginfo_t info{};
    const int rc = child.pidfd >= 0 ? ::waitid(P_PIDFD, static_cast<id_t>(child.pidfd), &info, WEXITED | WNOHANG)
                                    : ::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOHANG);
    // ECHILD: reaped by the kernel already (SIGCHLD set to SIG_IGN); gone all the same.
    if (rc != 0) return errno != EINTR;
    if (info.si_pid == 0) return false;
    report(child, info);
    return true;
}

void ChildProcesses::report(const Child& child, const siginfo_t& info) const noexcept {
    if (detail::exited_cleanly(info)) return;
    try {
        const bool known = child.client.family() != AF_UNSPEC;
        log("child ", std::to_string(child.pid), known ? " serving " : "", known ? child.client.to_string() : "", " ",
            detail::describe_exit(info));
    } catch (...) {
    }
}

void ChildProcesses::forget(std::size_t index) noexcept {
    Child& child = record_->children()[index];
    if (child.pidfd >= 0) {
        // Removed from the set explicitly: children forked since inherited this pidfd, and epoll
        // drops an fd only when every copy of it is closed, so close() alone would leave it ready.
        ::epoll_ctl(exits_.get(), EPOLL_CTL_DEL, child.pidfd, nullptr);
        ::close(child.pidfd);
    } else {
        --record_->unwatched;
    }
    if (child.connection_fd >= 0) ::close(child.connection_fd);
    child = record_->children()[--record_->size];
}

void ChildProcesses::collect() noexcept {
    if (!in_owner()) return;  // a child sharing the epoll set must not consume its siblings' exits
    // Few at a time (the loop goes on while they fill the array): a larger array on the stack
    // reached down into a stack page of its own, which after every fork cost the parent one more
    // copy-on-write fault.
    std::array<epoll_event, 8> ready;
    int n;
    do {
        n = ::epoll_wait(exits_.get(), ready.data(), static_cast<int>(ready.size()), 0);
        for (int i = 0; i < n; ++i) {
            const int pidfd = ready[static_cast<std::size_t>(i)].data.fd;
            for (std::size_t c = 0; c < record_->size; ++c)
                if (record_->children()[c].pidfd == pidfd) {
                    if (reaped(record_->children()[c])) forget(c);
                    break;
                }
        }
    } while (n == static_cast<int>(ready.size()));
    for (std::size_t c = record_->size; record_->unwatched > 0 && c-- > 0;)
        if (record_->children()[c].pidfd < 0 && reaped(record_->children()[c])) forget(c);
}

void ChildProcesses::wait_all() noexcept {
    if (!in_owner()) return;
    while (record_->size > 0) {
        const Child& child = record_->children()[record_->size - 1];
        siginfo_t info{};
        int rc;
        do rc = child.pidfd >= 0 ? ::waitid(P_PIDFD, static_cast<id_t>(child.pidfd), &info, WEXITED)
                                 : ::waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED);
        while (rc != 0 && errno == EINTR);
        if (rc == 0) report(child, info);
        forget(record_->size - 1);
    }
}

bool ChildProcesses::wait_all_until(std::chrono::steady_clock::time_point deadline) noexcept {
    if (!in_owner()) return true;
    for (;;) {
        collect();
        if (record_->size == 0) return true;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        // Unwatched children (no pidfd) wake nobody: ask about them every 10 ms.
        const long long wait = record_->unwatched > 0 ? std::min<long long>(left.count(), 10) : left.count();
        pollfd exits{exits_.get(), POLLIN, 0};
        ::poll(&exits, 1, static_cast<int>(wait));
    }
}

void ChildProcesses::unblock_connections(bool cut_off) const noexcept {
    if (!in_owner()) return;
    for (std::size_t i = 0; i < record_->size; ++i)
        if (record_->children()[i].connection_fd >= 0)
            ::shutdown(record_->children()[i].connection_fd, cut_off ? SHUT_RDWR : SHUT_RD);
}

}  // namespace sockserv
