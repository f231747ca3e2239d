// loadgen: the echo and http benchmarks' client. Plain sockets, no sockserv, so it measures the
// servers only. ONE thread, one epoll: it takes one of the two cores at most, so the server under
// test always has the other, whatever it is (an earlier loadgen ran a thread per connection: at
// c=128 it took both cores, starved the server it measured, and flattered a server that did more
// work per message — the 1.19x it reported for event mode was 0.7x against this one).
//
//   loadgen pingpong HOST PORT CONNECTIONS SECONDS   64-byte request/response on each connection
//   loadgen connrate HOST PORT CONNECTIONS SECONDS   CONNECTIONS at once, each: connect, one
//                                                   64-byte echo, close; repeat
//   loadgen hold HOST PORT CONNECTIONS REQUEST       each connection sends REQUEST (\r \n
//                                                   escapes), reads its answer, then stays open;
//                                                   prints "holding N" and waits to be killed
//   loadgen idle HOST PORT CONNECTIONS               connects and never sends a byte; "holding N"
//   loadgen count HOST PORT N keep|close echo|PATH   N echoes, or N HTTP GETs of PATH, one after
//                                                   the other, on one connection (keep) or a
//                                                   connection each (close); for counting a
//                                                   server's system calls per request
//
// pingpong and connrate print one line: "<mode> <rate>/s served=<connections that got at least
// one answer>/<asked> errors=<n> operations=<echoes in the window>".

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t message_size = 64;

sockaddr_in target{};

int new_socket(bool nonblocking) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) return -1;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!nonblocking) {
        timeval tv{5, 0};  // a server that never answers must not hang the benchmark
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    return fd;
}

int connect_blocking() {
    const int fd = new_socket(false);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Sends the SYN and returns without waiting for the handshake.
int start_connect() {
    const int fd = new_socket(true);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0 &&
        errno != EINPROGRESS) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::string unescape(const std::string& written) {
    std::string out;
    for (std::size_t i = 0; i < written.size(); ++i) {
        if (written[i] == '\\' && i + 1 < written.size() && (written[i + 1] == 'r' || written[i + 1] == 'n'))
            out.push_back(written[++i] == 'r' ? '\r' : '\n');
        else
            out.push_back(written[i]);
    }
    return out;
}

// ---- pingpong and connrate: one epoll, level-triggered ----

struct Client {
    int fd = -1;
    std::size_t got = 0;  // bytes of the current answer
    bool sent = false;    // the message went out (connrate: after the connect finished)
    long done = 0;
};

int run_load(const std::string& mode, int n, double seconds) {
    const bool pingpong = mode == "pingpong";
    char message[message_size];
    std::memset(message, 'x', sizeof message);
    message[message_size - 1] = '\n';  // line-based servers answer per line
    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    std::vector<Client> clients(static_cast<std::size_t>(n));
    long operations = 0, errors = 0;
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));

    auto open = [&](std::size_t i) {
        Client& c = clients[i];
        c.fd = start_connect();
        c.got = 0;
        c.sent = false;
        if (c.fd < 0) {
            ++errors;
            return;
        }
        epoll_event event{};
        event.events = EPOLLOUT;  // the connect finishing
        event.data.u64 = i;
        ::epoll_ctl(epoll, EPOLL_CTL_ADD, c.fd, &event);
    };
    auto drop = [&](std::size_t i) {
        ::close(clients[i].fd);
        clients[i].fd = -1;
    };
    // Ping-pong clients all send their SYN at once, as the clock starts.
    for (std::size_t i = 0; i < clients.size(); ++i) open(i);

    epoll_event ready[256];
    char reply[4096];
    while (Clock::now() < deadline) {
        const int count = ::epoll_wait(epoll, ready, 256, 100);
        for (int k = 0; k < count; ++k) {
            const std::size_t i = ready[k].data.u64;
            Client& c = clients[i];
            if (c.fd < 0) continue;
            if (!c.sent) {
                int error = 0;
                socklen_t size = sizeof error;
                if ((ready[k].events & EPOLLERR) || ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 ||
                    error != 0 || ::send(c.fd, message, message_size, MSG_NOSIGNAL) != static_cast<ssize_t>(message_size)) {
                    ++errors;
                    drop(i);
                    if (!pingpong) open(i);
                    continue;
                }
                c.sent = true;
                epoll_event event{};
                event.events = EPOLLIN;
                event.data.u64 = i;
                ::epoll_ctl(epoll, EPOLL_CTL_MOD, c.fd, &event);
                continue;
            }
            const ssize_t got = ::recv(c.fd, reply, sizeof reply, 0);
            if (got < 0 && errno == EAGAIN) continue;
            if (got <= 0) {
                ++errors;
                drop(i);
                if (!pingpong) open(i);
                continue;
            }
            c.got += static_cast<std::size_t>(got);
            if (c.got < message_size) continue;
            if (Clock::now() <= deadline) {
                ++operations;
                ++c.done;
            }
            c.got = 0;
            if (pingpong) {
                if (::send(c.fd, message, message_size, MSG_NOSIGNAL) != static_cast<ssize_t>(message_size)) {
                    ++errors;
                    drop(i);
                }
            } else {
                drop(i);
                open(i);
            }
        }
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    int served = 0;
    for (const Client& c : clients) {
        if (c.done > 0) ++served;
        if (c.fd >= 0) ::close(c.fd);
    }
    std::printf("%s %.0f/s served=%d/%d errors=%ld operations=%ld\n", mode.c_str(),
                static_cast<double>(operations) / elapsed, pingpong ? served : n, n, errors, operations);
    return 0;
}

// ---- hold and idle ----

[[noreturn]] void hold(int n, const std::string* request) {
    std::vector<int> held;
    int answered = 0;
    char buffer[4096];
    for (int i = 0; i < n; ++i) {
        const int fd = connect_blocking();
        if (fd < 0) {
            std::perror("loadgen hold: connect");
            break;
        }
        if (request && ::send(fd, request->data(), request->size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request->size()) &&
            ::recv(fd, buffer, sizeof buffer, 0) > 0)
            ++answered;
        held.push_back(fd);
    }
    std::printf("holding %zu connections (%d answered)\n", held.size(), answered);
    std::fflush(stdout);
    for (;;) ::pause();
}

// ---- count ----

bool read_exactly(int fd, char* into, std::size_t size) {
    for (std::size_t got = 0; got < size;) {
        const ssize_t n = ::recv(fd, into + got, size - got, 0);
        if (n <= 0) return false;
        got += static_cast<std::size_t>(n);
    }
    return true;
}

// One HTTP response: the head, then Content-Length bytes.
bool read_response(int fd) {
    std::string in;
    char buffer[65536];
    std::size_t head_end;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return false;
        in.append(buffer, static_cast<std::size_t>(n));
    }
    const std::size_t at = in.find("Content-Length: ");
    if (at == std::string::npos || at > head_end) return false;
    const std::size_t length = std::strtoull(in.c_str() + at + 16, nullptr, 10);
    std::size_t have = in.size() - head_end - 4;
    while (have < length) {
        const ssize_t n = ::recv(fd, buffer, std::min(sizeof buffer, length - have), 0);
        if (n <= 0) return false;
        have += static_cast<std::size_t>(n);
    }
    return have == length;
}

int count(int n, bool keep, const std::string& what) {
    const bool echo = what == "echo";
    const std::string request =
        echo ? std::string(message_size - 1, 'x') + "\n"
             : "GET " + what + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (keep ? "" : "Connection: close\r\n") + "\r\n";
    int fd = -1, done = 0;
    char reply[message_size];
    for (int i = 0; i < n; ++i) {
        if (fd < 0 && (fd = connect_blocking()) < 0) break;
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) break;
        if (!(echo ? read_exactly(fd, reply, message_size) : read_response(fd))) break;
        ++done;
        if (!keep) {
            if (!echo) {
                char rest;
                while (::recv(fd, &rest, 1, 0) > 0) {  // the server closes first, as a browser sees it
                }
            }
            ::close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) ::close(fd);
    std::printf("done %d of %d\n", done, n);
    return done == n ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    if (argc < 5) {
        std::fprintf(stderr, "usage: loadgen pingpong|connrate|hold|idle|count HOST PORT N ...\n");
        return 2;
    }
    const std::string mode = argv[1];
    target.sin_family = AF_INET;
    target.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[3])));
    if (::inet_pton(AF_INET, argv[2], &target.sin_addr) != 1) {
        std::fprintf(stderr, "loadgen: bad IPv4 address %s\n", argv[2]);
        return 2;
    }
    const int n = std::atoi(argv[4]);
    if (n <= 0) {
        std::fprintf(stderr, "loadgen: bad count %s\n", argv[4]);
        return 2;
    }
    if (mode == "idle" && argc == 5) hold(n, nullptr);
    if (mode == "hold" && argc == 6) {
        const std::string request = unescape(argv[5]);
        hold(n, &request);
    }
    if (mode == "count" && argc == 7) return count(n, std::string(argv[5]) == "keep", argv[6]);
    if ((mode == "pingpong" || mode == "connrate") && argc == 6 && std::atof(argv[5]) > 0)
        return run_load(mode, n, std::atof(argv[5]));
    std::fprintf(stderr, "loadgen: bad arguments\n");
    return 2;
}
