// reference_epoll_http: the ceiling of the http benchmark, not a server. N processes (default 2)
// forked after listen(), each an epoll loop with the shared listener (EPOLLEXCLUSIVE), as
// reference_epoll_echo; every request that one recv brings whole is answered with FILE, read once
// at start, head and body in one buffer: no parsing beyond finding the head's end and wrk's
// "Connection: close", no path, no file system, no log, no time-outs. What it measures is the
// kernel's and the client's share of a request: how far ahead of nginx any server can be under
// wrk on these two cores. With "deferred", TCP_DEFER_ACCEPT on the listener (as --defer-accept);
// with "reuseport", a listener per process (SO_REUSEPORT, nginx's `listen ... reuseport`).
// Prints "serving on 127.0.0.1:PORT".
//   reference_epoll_http FILE [PROCESSES] [deferred] [reuseport]

#include "reference_loop.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Answers {
    std::string keep;   // head with no Connection field, then the body
    std::string close;  // head with Connection: close, then the body
};

Answers answers_for(const std::string& body) {
    const std::string head = "HTTP/1.1 200 OK\r\nServer: reference\r\nContent-Type: application/octet-stream\r\n"
                             "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return {head + "\r\n" + body, head + "Connection: close\r\n\r\n" + body};
}

struct Connection {
    const std::string* answer = nullptr;  // being sent, from `sent` on
    std::size_t sent = 0;
    bool close_after = false;
};

[[noreturn]] void serve(int listener, const Answers& answers) {
    const int epoll = reference::epoll_with_listener(listener);
    std::vector<Connection> connections;
    epoll_event ready[256];
    char buffer[16384];
    const auto watch = [epoll](int fd, std::uint32_t events) {
        epoll_event change{};
        change.events = events;
        change.data.fd = fd;
        ::epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &change);
    };
    const auto drop = [&](int fd) {
        connections[static_cast<std::size_t>(fd)] = {};
        ::close(fd);
    };
    // Sends what is left of fd's answer; false when the connection is done with (closed).
    const auto send_rest = [&](int fd) {
        Connection& c = connections[static_cast<std::size_t>(fd)];
        while (c.sent < c.answer->size()) {
            const ssize_t n = ::send(fd, c.answer->data() + c.sent, c.answer->size() - c.sent, MSG_NOSIGNAL);
            if (n < 0 && errno == EAGAIN) {
                watch(fd, EPOLLOUT);
                return true;
            }
            if (n <= 0) {
                drop(fd);
                return false;
            }
            c.sent += static_cast<std::size_t>(n);
        }
        c.answer = nullptr;
        if (c.close_after) {
            drop(fd);
            return false;
        }
        return true;
    };
    for (;;) {
        const int n = ::epoll_wait(epoll, ready, 256, -1);
        for (int i = 0; i < n; ++i) {
            const int fd = ready[i].data.fd;
            if (fd == listener) {
                const int client = reference::accept_and_watch(epoll, listener);
                if (client >= 0 && connections.size() <= static_cast<std::size_t>(client))
                    connections.resize(static_cast<std::size_t>(client) + 1024);
                continue;
            }
            Connection& c = connections[static_cast<std::size_t>(fd)];
            if (c.answer) {  // writable again
                if (send_rest(fd) && !c.answer) watch(fd, EPOLLIN);
                continue;
            }
            const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
            if (got < 0 && errno == EAGAIN) continue;
            const std::string_view request(buffer, got > 0 ? static_cast<std::size_t>(got) : 0);
            if (got <= 0 || !request.ends_with("\r\n\r\n")) {  // EOF, an error, or not wrk's whole request
                drop(fd);
                continue;
            }
            c.close_after = request.find("Connection: close") != std::string_view::npos;
            c.answer = c.close_after ? &answers.close : &answers.keep;
            c.sent = 0;
            send_rest(fd);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: reference_epoll_http FILE [PROCESSES] [deferred|reuseport]...\n");
        return 2;
    }
    std::ifstream file(argv[1], std::ios::binary);
    const std::string body{std::istreambuf_iterator<char>(file), {}};
    if (!file) {
        std::perror(argv[1]);
        return 1;
    }
    const Answers answers = answers_for(body);
    const int processes = argc > 2 ? std::atoi(argv[2]) : 2;
    bool deferred = false, reuseport = false;
    for (int i = 3; i < argc; ++i) {
        deferred = deferred || std::strcmp(argv[i], "deferred") == 0;
        reuseport = reuseport || std::strcmp(argv[i], "reuseport") == 0;
    }
    std::signal(SIGPIPE, SIG_IGN);
    const reference::ListenOptions options{.nodelay = true, .deferred = deferred, .reuseport = reuseport};
    const int first = reference::listen_loopback(0, options);
    const int port = first < 0 ? -1 : reference::port_of(first);
    if (port < 0) return 1;
    for (int i = 0; i < processes; ++i) {
        // With reuseport each process has a listener of its own on the port, and the kernel
        // spreads new connections over them by their addresses' hash (nginx's listen ... reuseport).
        const int listener = reuseport && i > 0 ? reference::listen_loopback(port, options) : first;
        if (listener < 0) return 1;
        reference::fork_serving([&] { serve(listener, answers); });
        if (listener != first) ::close(listener);
    }
    return reference::announce_and_wait("reference_epoll_http", port);
}
