// A test program: an event-mode TCP server whose handler misbehaves on request, so the tests can
// watch what event mode does about it from outside the process.
//   echo LINE      the line back
//   block MS       blocks its loop's thread for MS milliseconds (usleep: what a handler must not do)
//   nap MS         waits MS milliseconds the right way (sockserv::sleep_for: the loop goes on)
//   deep           recurses until the fiber's stack overflows
//   tid            the kernel thread id serving it

#include <sockserv/sockserv.hpp>

#include <sys/syscall.h>
#include <unistd.h>

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
            } else if (line.starts_with("tid")) {
                wfile().write(std::to_string(::syscall(SYS_gettid)) + "\n");
            } else {
                wfile().write(line);
            }
            wfile().flush();
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    auto options = sockserv::cli::parse(argc, argv, "event_probe_server");
    return sockserv::serve<sockserv::TCPServer, Probe>(options);
}
