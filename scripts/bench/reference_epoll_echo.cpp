// reference_epoll_echo: the hand-written event-driven baseline of the echo benchmark, what event
// mode is held against. N processes (default 2) forked after listen(), each an epoll loop with
// the shared listener (EPOLLEXCLUSIVE), level-triggered, non-blocking sockets, echoing what a
// recv brings with one send (the 64-byte ping-pong never fills a send buffer; a short send drops
// the client). No framework, no time-outs, no bookkeeping. Prints "serving on 127.0.0.1:PORT".
//   reference_epoll_echo [PROCESSES]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace {

[[noreturn]] void serve(int listener) {
    const int epoll = ::epoll_create1(0);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLEXCLUSIVE;
    event.data.fd = listener;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    epoll_event ready[256];
    char buffer[16384];
    for (;;) {
        const int n = ::epoll_wait(epoll, ready, 256, -1);
        for (int i = 0; i < n; ++i) {
            const int fd = ready[i].data.fd;
            if (fd == listener) {
                for (int k = 0; k < 64; ++k) {
                    const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
                    if (client < 0) break;
                    epoll_event add{};
                    add.events = EPOLLIN;
                    add.data.fd = client;
                    ::epoll_ctl(epoll, EPOLL_CTL_ADD, client, &add);
                }
                continue;
            }
            const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
            if (got > 0 && ::send(fd, buffer, static_cast<std::size_t>(got), MSG_NOSIGNAL) == got) continue;
            if (got < 0 && errno == EAGAIN) continue;
            ::close(fd);  // EOF, an error, or a short send
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const int processes = argc > 1 ? std::atoi(argv[1]) : 2;
    std::signal(SIGPIPE, SIG_IGN);
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const int one = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, SOMAXCONN) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
        std::perror("reference_epoll_echo");
        return 1;
    }
    for (int i = 0; i < processes; ++i)
        if (::fork() == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the benchmark's TERM to the parent ends us too
            serve(listener);
        }
    std::fprintf(stderr, "reference_epoll_echo: serving on 127.0.0.1:%d\n", ntohs(address.sin_port));
    while (::wait(nullptr) > 0) {
    }
}
