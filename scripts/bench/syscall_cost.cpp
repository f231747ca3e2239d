// syscall_cost: what the system calls on fork mode's per-request path cost on this machine, each
// timed over many calls. The figures quoted in lib/ (an accept that finds nothing against a poll,
// a pidfd and its epoll registration) come from here.
//   syscall_cost [CALLS, default 200000]

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace {

void measure(const char* what, int calls, const std::function<void()>& call) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) call();
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-46s %6.0f ns\n", what, ns / calls);
}

}  // namespace

int main(int argc, char** argv) {
    const int calls = argc > 1 ? std::atoi(argv[1]) : 200000;
    if (calls <= 0) {
        std::fprintf(stderr, "usage: syscall_cost [CALLS]\n");
        return 2;
    }
    const pid_t self = ::getpid();
    // First, while no pidfd of this process is open: then each open makes the process's pidfs
    // inode and the close frees it, as with each new child of a forking server.
    measure("pidfd_open + close (a process's first pidfd)", calls,
            [&] { ::close(static_cast<int>(::syscall(SYS_pidfd_open, self, 0))); });
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, self, 0));
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, SOMAXCONN) != 0 || epoll < 0 || pidfd < 0) {
        std::perror("syscall_cost: set-up");
        return 1;
    }

    measure("getpid (a bare system call)", calls, [] { ::syscall(SYS_getpid); });
    measure("accept4 with nothing queued (EAGAIN)", calls, [&] { ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC); });
    measure("poll of one fd, nothing ready", calls, [&] {
        pollfd entry{listener, POLLIN, 0};
        ::poll(&entry, 1, 0);
    });
    measure("epoll_ctl ADD + DEL of a pidfd", calls, [&] {
        epoll_event event{};
        event.events = EPOLLIN;
        ::epoll_ctl(epoll, EPOLL_CTL_ADD, pidfd, &event);
        ::epoll_ctl(epoll, EPOLL_CTL_DEL, pidfd, nullptr);
    });
    const pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    const int child_pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
    measure("waitid(P_PIDFD, WNOHANG) of a live child", calls, [&] {
        siginfo_t info{};
        ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(child_pidfd), &info, WEXITED | WNOHANG);
    });
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    measure("fcntl(F_DUPFD_CLOEXEC) + close", calls, [&] { ::close(::fcntl(listener, F_DUPFD_CLOEXEC, 0)); });
    return 0;
}
