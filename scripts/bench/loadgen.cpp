// loadgen: the echo benchmark's client. Plain sockets, no sockserv, so it measures the servers only.
//
//   loadgen pingpong HOST PORT CONNECTIONS SECONDS   64-byte request/response on each connection
//   loadgen connrate HOST PORT THREADS SECONDS       connect, one 64-byte echo, close; repeat
//
// Prints one line: "<mode> <rate>/s served=<connections that got at least one answer>/<asked>
// errors=<n>".

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
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

int connect_to(const Target& target) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    timeval tv{5, 0};  // a server that never answers must not hang the benchmark
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&target.address), sizeof target.address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
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

int main(int argc, char** argv) {
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
    Clock::time_point deadline;
    std::vector<std::thread> threads;

    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&] {
            while (!go) std::this_thread::yield();
            long done = 0;
            if (mode == "pingpong") {
                const int fd = connect_to(target);
                if (fd < 0) {
                    ++errors;
                    return;
                }
                while (Clock::now() < deadline) {
                    if (!echo_once(fd, message)) {
                        if (Clock::now() < deadline) ++errors;
                        break;
                    }
                    // An answer that only came after the window (a server that serves one client
                    // at a time getting round to this one) does not make the client "served".
                    if (Clock::now() <= deadline) ++done;
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
    const auto start = Clock::now();
    deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    go = true;
    for (auto& thread : threads) thread.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%s %.0f/s served=%d/%d errors=%ld\n", mode.c_str(), static_cast<double>(operations) / elapsed,
                served.load(), n, errors.load());
    return 0;
}
