// reference_epoll_echo: the hand-written event-driven baseline of the echo benchmark, what event
// mode is held against. N processes (default 2) forked after listen(), each an epoll loop with
// the shared listener (EPOLLEXCLUSIVE), level-triggered, non-blocking sockets, echoing what a
// recv brings with one send (the 64-byte ping-pong never fills a send buffer; a short send drops
// the client). No framework, no time-outs, no bookkeeping. Prints "serving on 127.0.0.1:PORT".
//   reference_epoll_echo [PROCESSES]

#include "reference_loop.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace {

[[noreturn]] void serve(int listener) {
    const int epoll = reference::epoll_with_listener(listener);
    epoll_event ready[256];
    char buffer[16384];
    for (;;) {
        const int n = ::epoll_wait(epoll, ready, 256, -1);
        for (int i = 0; i < n; ++i) {
            const int fd = ready[i].data.fd;
            if (fd == listener) {
                for (int k = 0; k < 64 && reference::accept_and_watch(epoll, listener) >= 0; ++k) {
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
    const int listener = reference::listen_loopback(0);
    const int port = listener < 0 ? -1 : reference::port_of(listener);
    if (port < 0) return 1;
    for (int i = 0; i < processes; ++i) reference::fork_serving([&] { serve(listener); });
    return reference::announce_and_wait("reference_epoll_echo", port);
}
