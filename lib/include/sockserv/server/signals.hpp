#pragma once
// Signal plumbing. The stop handler does two async-signal-safe things only: an atomic store and a
// write to an eventfd (the pattern of Asio's signal_set_service and nginx's master loop). All real
// work happens back in the server loop once it wakes. (Children are not watched by signal: see
// child_processes.hpp.)

#include <csignal>
#include <initializer_list>
#include <vector>

namespace sockserv {

class BaseServer;

namespace signals {

/// While alive, the given signals call server.request_shutdown(); a second one of them restores the
/// default action and re-raises (press Ctrl-C twice to force a stop). The previous handlers come
/// back on destruction. One at a time per process. In a forked child the handlers take the
/// default action instead (a Ctrl-C ends the child; a SIGTERM to a child never stops the parent).
class StopOnSignals {
public:
    explicit StopOnSignals(BaseServer& server, std::initializer_list<int> signals = {SIGINT, SIGTERM});
    ~StopOnSignals();
    StopOnSignals(const StopOnSignals&) = delete;
    StopOnSignals& operator=(const StopOnSignals&) = delete;

private:
    std::vector<std::pair<int, struct sigaction>> previous_;
};

/// SIGPIPE ignored, once per process, unless the program installed its own handler: sendfile() and
/// write() have no MSG_NOSIGNAL, and a vanished peer must never kill a server.
void ignore_sigpipe() noexcept;

}  // namespace signals
}  // namespace sockserv
