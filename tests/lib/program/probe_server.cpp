// A test program: a TCP server whose handler misbehaves on request, so the tests can watch what
// event mode and the worker pool do about it from outside the process.
//   echo LINE      the line back
//   block MS       blocks its loop's thread for MS milliseconds (usleep: what a handler must not do)
//   nap MS         waits MS milliseconds the right way (sockserv::sleep_for: the loop goes on)
//   deep           recurses until the fiber's stack overflows
//   tid            the kernel thread id serving it
//   pid            the process serving it (a worker, or a fork-mode child)
//   signal N       raises signal N in the process serving it (a crashing fork-mode child)
//   exit N         _exit(N) in the process serving it
//   throw TEXT     the handler throws std::runtime_error(TEXT)
// --crash-at-start: every server the program makes dies (SIGABRT) once it starts serving, as a
// worker that fails at start would; --workers makes the master restart them.

#include <sockserv/sockserv.hpp>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

// Deeper by 1 KiB a call until `limit` (which no stack reaches).
[[gnu::noinline]] int recurse(int depth, int limit) {
    volatile char frame[1024];
    frame[0] = static_cast<char>(depth);
    if (depth >= limit) return frame[0];
    return recurse(depth + 1, limit) + frame[0];
}

struct Probe : sockserv::StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        std::string line;
        while (rfile().readline(line)) {
            if (line.starts_with("block ")) {
                ::usleep(static_cast<useconds_t>(std::stoi(line.substr(6)) * 1000));
                wfile().write("blocked\n");
            } else if (line.starts_with("nap ")) {
                sockserv::sleep_for(std::chrono::milliseconds(std::stoi(line.substr(4))));
                wfile().write("napped\n");
            } else if (line.starts_with("deep")) {
                wfile().write(std::to_string(recurse(0, 1 << 30)) + "\n");
            } else if (line.starts_with("pid")) {
                wfile().write(std::to_string(::getpid()) + "\n");
            } else if (line.starts_with("signal ")) {
                ::raise(std::stoi(line.substr(7)));
            } else if (line.starts_with("exit ")) {
                ::_exit(std::stoi(line.substr(5)));
            } else if (line.starts_with("throw ")) {
                throw std::runtime_error(line.substr(6, line.size() - 7));
            } else if (line.starts_with("tid")) {
                wfile().write(std::to_string(::syscall(SYS_gettid)) + "\n");
            } else {
                wfile().write(line);
            }
            wfile().flush();
        }
    }
};

// Aborts at its first service_actions(), which every mode runs as soon as it serves.
template <class Handler>
struct CrashAtStart : sockserv::TCPServer<Handler> {
    CrashAtStart(sockserv::Address address, sockserv::ServerConfig config)
        : sockserv::TCPServer<Handler>(std::move(address), soon(config)) {}
    void service_actions() override { std::abort(); }
    static sockserv::ServerConfig soon(sockserv::ServerConfig config) {
        config.service_interval = std::chrono::milliseconds(1);
        return config;
    }
};

}  // namespace

int main(int argc, char** argv) {
    sockserv::cli::Spec spec;
    spec.flag("crash-at-start", "die (SIGABRT) as soon as serving starts");
    auto options = sockserv::cli::parse(argc, argv, "probe_server", std::move(spec));
    if (options.values.has("crash-at-start")) {
        const rlimit no_core{0, 0};
        ::setrlimit(RLIMIT_CORE, &no_core);  // crashes on purpose: no core files
        return sockserv::serve<CrashAtStart, Probe>(options);
    }
    return sockserv::serve<sockserv::TCPServer, Probe>(options);
}
