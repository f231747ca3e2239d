// The chat benchmark's load: MEMBERS members join a chat server, then MESSAGES messages are sent
// round-robin from them at RATE messages/s (0: as fast as possible) while every member's socket is
// drained. Prints deliveries (one message — one line — reaching one member), loss, and delivered
// messages/s. With several ports (chat nodes sharing one room through Redis), member i joins the
// node at PORT number i mod N.
//   chat_load HOST PORT[,PORT...] MEMBERS MESSAGES RATE
// Plain sockets, no sockserv: the load must not share code with what it measures.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const char* what) {
    std::perror(what);
    std::exit(1);
}

// Waits for one datagram on fd, up to ms; returns its text or "".
std::string receive(int fd, int ms) {
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, ms) <= 0) return {};
    char buffer[2048];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string{};
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: chat_load HOST PORT MEMBERS MESSAGES RATE\n");
        return 2;
    }
    std::vector<sockaddr_in> nodes;
    for (const char* port = argv[2]; *port; port += std::strcspn(port, ",") + (std::strchr(port, ',') ? 1 : 0)) {
        sockaddr_in server{};
        server.sin_family = AF_INET;
        server.sin_port = htons(static_cast<uint16_t>(std::atoi(port)));
        if (::inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) die("inet_pton");
        nodes.push_back(server);
        if (!std::strchr(port, ',')) break;
    }
    const int members = std::atoi(argv[3]);
    const long messages = std::atol(argv[4]);
    const double rate = std::atof(argv[5]);

    // Members join one by one; each waits for its OK (retrying: UDP) before the next joins.
    std::vector<int> sockets;
    for (int i = 0; i < members; ++i) {
        const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0) die("socket");
        const int buffer = 4 << 20;  // as much as the kernel allows: the load must not be the loss
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
        sockaddr_in& server = nodes[static_cast<std::size_t>(i) % nodes.size()];
        if (::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) die("connect");
        const std::string login = "L m" + std::to_string(i);
        bool joined = false;
        for (int attempt = 0; attempt < 20 && !joined; ++attempt) {
            if (::send(fd, login.data(), login.size(), 0) < 0) die("send");
            for (std::string answer; !(answer = receive(fd, 250)).empty();)
                if (answer.rfind("OK", 0) == 0) {
                    joined = true;
                    break;
                }
        }
        if (!joined) {
            std::fprintf(stderr, "chat_load: m%d could not join\n", i);
            return 1;
        }
        sockets.push_back(fd);
    }
    // Drain the join notices: member i hears of every member that joined after it. They may come
    // several to a datagram, so count lines. (With several nodes a member may also hear of an
    // earlier one, late: deliveries below count only messages.)
    for (int i = 0; i < members; ++i) {
        int notices = 0;
        for (std::string datagram; notices < members - 1 - i && !(datagram = receive(sockets[static_cast<std::size_t>(i)], 2000)).empty();)
            for (const char c : datagram) notices += c == '\n';
        if (notices < members - 1 - i) {
            std::fprintf(stderr, "chat_load: m%d heard %d of %d join notices\n", i, notices, members - 1 - i);
            return 1;
        }
    }

    const int epoll = ::epoll_create1(0);
    for (int i = 0; i < members; ++i) {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u32 = static_cast<uint32_t>(i);
        ::epoll_ctl(epoll, EPOLL_CTL_ADD, sockets[static_cast<std::size_t>(i)], &event);
    }

    const long expected = messages * (members - 1);
    const auto start = Clock::now();
    std::thread sender([&] {
        for (long k = 0; k < messages; ++k) {
            if (rate > 0) std::this_thread::sleep_until(start + std::chrono::duration<double>(static_cast<double>(k) / rate));
            const int from = static_cast<int>(k % members);
            const std::string text = "C m" + std::to_string(from) + " message " + std::to_string(k);
            ::send(sockets[static_cast<std::size_t>(from)], text.data(), text.size(), 0);
        }
    });

    long delivered = 0;
    auto last = start;
    epoll_event events[256];
    char buffer[2048];
    // Until everything arrived, or 2 s after the last delivery (the rest is lost).
    while (delivered < expected) {
        const int n = ::epoll_wait(epoll, events, 256, 2000);
        if (n <= 0) break;
        for (int e = 0; e < n; ++e) {
            const int fd = sockets[events[e].data.u32];
            // A delivery is a message's line: the server may pack several into one datagram.
            for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT)) > 0;)
                for (const char* at = buffer; (at = static_cast<const char*>(::memmem(at, static_cast<std::size_t>(buffer + n - at), ": message ", 10)));
                     at += 10)
                    ++delivered;
        }
        last = Clock::now();
    }
    sender.join();
    const double seconds = std::chrono::duration<double>(last - start).count();
    std::printf("delivered=%ld expected=%ld loss=%.3f%% seconds=%.3f rate=%.0f/s\n", delivered, expected,
                100.0 * static_cast<double>(expected - delivered) / static_cast<double>(expected), seconds,
                seconds > 0 ? static_cast<double>(delivered) / seconds : 0.0);
    return 0;
}
