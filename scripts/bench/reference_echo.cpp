// reference_echo: the "zero-overhead" baselines of the echo benchmark. A hand-written
// thread-per-connection echo server with no framework: blocking accept, a detached thread per
// connection echoing bytes as they come; with --fork, a process per connection instead (the
// least a fork server can do: SIGCHLD ignored so the kernel reaps, no bookkeeping at all); with
// --prefork N, N processes forked up front, each a blocking accept loop on the one listener,
// serving a connection at a time (Apache prefork with nothing around it: no supervision, no
// signals; the workers die with the parent).
// Prints "serving on 127.0.0.1:PORT" like echo_server.
//   reference_echo [--fork | --prefork N] [PORT]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {
void echo(int fd) {
    char buffer[16384];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;)
        if (::send(fd, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
    ::close(fd);
}
}  // namespace

int main(int argc, char** argv) {
    const bool fork_mode = argc > 1 && std::strcmp(argv[1], "--fork") == 0;
    int prefork = 0;
    if (argc > 2 && std::strcmp(argv[1], "--prefork") == 0) {
        prefork = std::atoi(argv[2]);
        argc -= 2;
        argv += 2;
    }
    if (fork_mode) {
        --argc;
        ++argv;
        std::signal(SIGCHLD, SIG_IGN);
    }
    std::signal(SIGPIPE, SIG_IGN);
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, SOMAXCONN) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
        std::perror("reference_echo");
        return 1;
    }
    std::fprintf(stderr, "reference_echo: serving on 127.0.0.1:%d\n", ntohs(address.sin_port));
    if (prefork > 0) {
        for (int i = 0; i < prefork; ++i)
            if (::fork() == 0) {
                ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the parent's SIGTERM ends the workers too
                for (;;) {
                    const int fd = ::accept(listener, nullptr, nullptr);
                    if (fd >= 0) echo(fd);
                }
            }
        ::pause();  // until SIGTERM: the workers die with this process
        return 0;
    }
    for (;;) {
        const int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) continue;
        if (!fork_mode) {
            std::thread(echo, fd).detach();
            continue;
        }
        if (::fork() == 0) {
            ::close(listener);
            echo(fd);
            ::_exit(0);
        }
        ::close(fd);
    }
}
