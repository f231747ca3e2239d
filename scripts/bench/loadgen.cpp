// loadgen: the echo benchmark's client. Plain sockets, no sockserv, so it measures the servers only.
//
//   loadgen pingpong HOST PORT CONNECTIONS SECONDS   64-byte request/response on each connection
//   loadgen connrate HOST PORT THREADS SECONDS       connect, one 64-byte echo, close; repeat
//   loadgen hold HOST PORT CONNECTIONS REQUEST       each connection sends REQUEST (\r \n
//                                                   escapes), reads its answer, then stays open;
//                                                   prints "holding N" and waits to be killed
//
// Prints one line: "<mode> <rate>/s served=<connections that got at least one answer>/<asked>
// errors=<n>".

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t message_size = 64;

struct Target {
    sockaddr_in address{};
};

int new_socket(int flags = 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    if (fd < 0) return -1;
    timeval tv{5, 0};  // a server that never answers must not hang the benchmark
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int connect_to(const Target& target) {
    const int fd = new_socket();
    if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&target.address), sizeof target.address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Sends the SYN and returns without waiting for the handshake.
int start_connect(const Target& target) {
    const int fd = new_socket(SOCK_NONBLOCK);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&target.address), sizeof target.address) != 0 &&
        errno != EINPROGRESS) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Waits, until deadline, for the handshake start_connect began (a server with a full backlog drops
// SYNs and the kernel retries them: that wait is the server's), then makes the socket blocking.
bool finish_connect(int fd, Clock::time_point deadline) {
    pollfd p{fd, POLLOUT, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) return false;
    int error = 0;
    socklen_t size = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0) return false;
    return ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0;
}

bool echo_once(int fd, const char* message) {
    if (::send(fd, message, message_size, MSG_NOSIGNAL) != static_cast<ssize_t>(message_size)) return false;
    char reply[message_size];
    std::size_t got = 0;
    while (got < message_size) {
        const ssize_t n = ::recv(fd, reply + got, message_size - got, 0);
        if (n <= 0) return false;
        got += static_cast<std::size_t>(n);
    }
    return std::memcmp(reply, message, message_size) == 0;
}

}  // namespace

namespace {

// Opens n connections, sends `request` on each and reads its first answer, then holds them open.
int hold(const Target& target, int n, const std::string& written) {
    std::string request;
    for (std::size_t i = 0; i < written.size(); ++i) {
        if (written[i] == '\\' && i + 1 < written.size() && (written[i + 1] == 'r' || written[i + 1] == 'n')) {
            request.push_back(written[++i] == 'r' ? '\r' : '\n');
        } else {
            request.push_back(written[i]);
        }
    }
    std::vector<int> held;
    int answered = 0;
    char buffer[4096];
    for (int i = 0; i < n; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&target.address), sizeof target.address) != 0) {
            std::perror("loadgen hold: connect");
            if (fd >= 0) ::close(fd);
            break;
        }
        timeval timeout{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()) &&
            ::recv(fd, buffer, sizeof buffer, 0) > 0)
            ++answered;
        held.push_back(fd);
    }
    std::printf("holding %zu connections (%d answered)\n", held.size(), answered);
    std::fflush(stdout);
    for (;;) ::pause();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 6 && std::string(argv[1]) == "hold") {
        Target target;
        target.address.sin_family = AF_INET;
        target.address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[3])));
        if (::inet_pton(AF_INET, argv[2], &target.address.sin_addr) != 1) return 2;
        return hold(target, std::atoi(argv[4]), argv[5]);
    }
    if (argc != 6) {
        std::fprintf(stderr, "usage: loadgen pingpong|connrate HOST PORT N SECONDS\n");
        return 2;
    }
    const std::string mode = argv[1];
    Target target;
    target.address.sin_family = AF_INET;
    target.address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[3])));
    if (::inet_pton(AF_INET, argv[2], &target.address.sin_addr) != 1) {
        std::fprintf(stderr, "loadgen: bad IPv4 address %s\n", argv[2]);
        return 2;
    }
    const int n = std::atoi(argv[4]);
    const double seconds = std::atof(argv[5]);
    if (n <= 0 || seconds <= 0 || (mode != "pingpong" && mode != "connrate")) {
        std::fprintf(stderr, "loadgen: bad arguments\n");
        return 2;
    }

    char message[message_size];
    std::memset(message, 'x', sizeof message);
    message[message_size - 1] = '\n';  // line-based servers answer per line

    std::atomic<long> operations{0};
    std::atomic<long> errors{0};
    std::atomic<int> served{0};
    std::atomic<bool> go{false};
    std::atomic<long> slowest_first_answer_us{0};  // how long the last client served waited
    Clock::time_point start;
    Clock::time_point deadline;
    std::vector<std::thread> threads;

    // Ping-pong clients all send their SYN at once, from one thread, as the clock starts: connecting
    // from their own threads instead, the clients already being answered would starve the ones not
    // yet connected of CPU, and the benchmark would measure its own scheduling, not the server's.
    std::vector<int> connections;
    connections.reserve(static_cast<std::size_t>(n));

    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            while (!go) std::this_thread::yield();
            long done = 0;
            if (mode == "pingpong") {
                const int fd = connections[static_cast<std::size_t>(i)];
                if (fd < 0 || !finish_connect(fd, deadline)) {
                    if (fd >= 0) ::close(fd);
                    if (Clock::now() < deadline) ++errors;  // else: still waiting, not refused
                    return;
                }
                while (Clock::now() < deadline) {
                    if (!echo_once(fd, message)) {
                        if (Clock::now() < deadline) ++errors;
                        break;
                    }
                    // An answer that only came after the window (a server that serves one client
                    // at a time getting round to this one) does not make the client "served".
                    const auto now = Clock::now();
                    if (now > deadline) continue;
                    if (done++ == 0) {
                        const long waited = std::chrono::duration_cast<std::chrono::microseconds>(now - start).count();
                        long seen = slowest_first_answer_us.load();
                        while (waited > seen && !slowest_first_answer_us.compare_exchange_weak(seen, waited)) {
                        }
                    }
                }
                ::close(fd);
            } else {
                while (Clock::now() < deadline) {
                    const int fd = connect_to(target);
                    if (fd < 0) {
                        ++errors;
                        continue;
                    }
                    const bool ok = echo_once(fd, message);
                    ::close(fd);
                    if (!ok) ++errors;
                    else if (Clock::now() <= deadline) ++done;
                }
            }
            if (done > 0) ++served;
            operations += done;
        });
    }
    start = Clock::now();
    if (mode == "pingpong")
        for (int i = 0; i < n; ++i) connections.push_back(start_connect(target));
    deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    go = true;
    for (auto& thread : threads) thread.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%s %.0f/s served=%d/%d errors=%ld", mode.c_str(), static_cast<double>(operations) / elapsed,
                served.load(), n, errors.load());
    if (mode == "pingpong") std::printf(" last_first_answer=%.0fms", static_cast<double>(slowest_first_answer_us.load()) / 1000);
    std::printf("\n");
    return 0;
}
