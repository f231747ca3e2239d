#pragma once
// ServingLoop: what serve_forever runs — it waits for requests and hands them to the server's
// lifecycle until the server is asked to stop. PollLoop, here, is the default: poll(2) on the
// serving thread. A mode that runs requests on loops of its own (event mode's EventLoops) is
// another implementation, which the mode returns from BaseServer::serving_loop().
//
// What a loop does with a server, whichever loop it is:
//   wait until the socket is readable (while server.accepting()), the waker is, or a reader is
//   -> server.handle_ready_requests()     the requests this wake-up found: get, verify, process
//   -> server.readers().run(fd)           for each reader that is ready
//   -> server.service_actions()           after every wake-up
//   until server.shutdown_requested()

#include <chrono>
#include <optional>
#include <vector>

#include <poll.h>

namespace sockserv {

class BaseServer;

class ServingLoop {
public:
    virtual ~ServingLoop() = default;
    /// Serves server until server.shutdown_requested(); on the thread that called serve_forever.
    virtual void serve(BaseServer& server) = 0;
};

/// The serving thread polls the waker, the socket (left out while the server is not accepting)
/// and the readers, waking no sooner than needed: no poll interval (service_interval aside).
class PollLoop final : public ServingLoop {
public:
    void serve(BaseServer& server) override;
    /// One wait of at most timeout (nullopt: none): runs the readers that are ready; true when the
    /// socket is readable.
    bool wait(BaseServer& server, std::optional<std::chrono::milliseconds> timeout);

private:
    [[gnu::noinline]] void serve_until_shutdown(BaseServer& server);
    // Used only by a program with more readers than fit on wait's stack; kept across calls, so no
    // allocation per wake-up even then.
    std::vector<pollfd> poll_fds_;
    std::vector<int> ready_readers_;
};

}  // namespace sockserv
