#include <sockserv/server/base_server.hpp>
#include <sockserv/base/error.hpp>
#include <sockserv/server/signals.hpp>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

namespace sockserv::signals {

namespace {

std::atomic<BaseServer*> stop_target{nullptr};
std::atomic<pid_t> stop_owner{0};
std::atomic<int> stop_signals_seen{0};

void on_stop_signal(int signal) {
    const int saved_errno = errno;
    if (::getpid() != stop_owner.load()) {
        // A forked child: the signal ends it, as if no handler were installed. It must not stop
        // the parent's server (request_shutdown reaches the parent through shared memory).
        ::signal(signal, SIG_DFL);
        ::raise(signal);
    } else if (stop_signals_seen.fetch_add(1) > 0) {
        // Second Ctrl-C: the graceful stop is taking too long for the user; die as they asked.
        ::signal(signal, SIG_DFL);
        ::raise(signal);
    } else if (BaseServer* server = stop_target.load()) {
        server->request_shutdown();
    }
    errno = saved_errno;
}

}  // namespace

StopOnSignals::StopOnSignals(BaseServer& server, std::initializer_list<int> signals) {
    stop_signals_seen.store(0);
    stop_owner.store(::getpid());
    stop_target.store(&server);
    for (const int signal : signals) {
        struct sigaction action {};
        action.sa_handler = on_stop_signal;
        action.sa_flags = SA_RESTART;
        sigemptyset(&action.sa_mask);
        struct sigaction previous {};
        if (::sigaction(signal, &action, &previous) != 0) throw_errno("sigaction");
        previous_.emplace_back(signal, previous);
    }
}

StopOnSignals::~StopOnSignals() {
    for (const auto& [signal, previous] : previous_) {
        ::sigaction(signal, &previous, nullptr);
    }
    stop_target.store(nullptr);
}

void ignore_sigpipe() noexcept {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
            current.sa_handler == SIG_DFL)
            ::signal(SIGPIPE, SIG_IGN);
    });
}

}  // namespace sockserv::signals
