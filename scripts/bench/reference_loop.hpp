#pragma once
// What the hand-written epoll references (reference_epoll_echo, reference_epoll_http) share: the
// loopback listener, its registration in each process's epoll, the accept, and the processes
// forked after listen() that die with the parent. Plain system calls, no framework: these are what
// the framework is measured against.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>

namespace reference {

struct ListenOptions {
    bool nodelay = false;    // TCP_NODELAY, inherited by the connections
    bool deferred = false;   // TCP_DEFER_ACCEPT
    bool reuseport = false;  // SO_REUSEPORT: another listener may join the port
};

// A non-blocking listener on 127.0.0.1:port (0: any free port); -1, said on stderr, on failure.
inline int listen_loopback(int port, ListenOptions options = {}) {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    const int one = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (options.nodelay) ::setsockopt(listener, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (options.deferred) ::setsockopt(listener, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof one);
    if (options.reuseport) ::setsockopt(listener, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, SOMAXCONN) != 0) {
        std::perror("listen on 127.0.0.1");
        ::close(listener);
        return -1;
    }
    return listener;
}

// The port a listener is bound to; -1 on failure.
inline int port_of(int listener) {
    sockaddr_in address{};
    socklen_t size = sizeof address;
    if (::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size) != 0) return -1;
    return ntohs(address.sin_port);
}

// A new epoll instance watching the listener, shared with the other processes: EPOLLEXCLUSIVE
// wakes one waiting process per connection, as nginx's workers.
inline int epoll_with_listener(int listener) {
    const int epoll = ::epoll_create1(0);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLEXCLUSIVE;
    event.data.fd = listener;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    return epoll;
}

// Accepts one waiting connection, non-blocking, and watches it for input (level-triggered);
// its fd, or -1 when none waited.
inline int accept_and_watch(int epoll, int listener) {
    const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
    if (client < 0) return -1;
    epoll_event add{};
    add.events = EPOLLIN;
    add.data.fd = client;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, client, &add);
    return client;
}

// Forks a child that runs serve() (which never returns) and dies with the parent: the
// benchmark's TERM to the parent ends every process.
template <class Serve>
void fork_serving(Serve serve) {
    if (::fork() == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        serve();
    }
}

// Says where it serves, as the benchmark scripts look for, and waits for the children.
inline int announce_and_wait(const char* program, int port) {
    std::fprintf(stderr, "%s: serving on 127.0.0.1:%d\n", program, port);
    while (::wait(nullptr) > 0) {
    }
    return 0;
}

}  // namespace reference
