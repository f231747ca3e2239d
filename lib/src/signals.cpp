#include <sockserv/base_server.hpp>
#include <sockserv/error.hpp>
#include <sockserv/signals.hpp>
#include <sockserv/waker.hpp>

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace sockserv::signals {

namespace {

// Process-wide by nature: a signal disposition belongs to the process, not to a server.
constexpr std::size_t max_child_wakeups = 64;
// Each slot holds fd + 1, so that the zero-initialised array means "all empty".
std::array<std::atomic<int>, max_child_wakeups> child_wakeup_fds{};
std::atomic<int> handlers_running{0};
std::mutex install_mutex;
bool sigchld_installed = false;
struct sigaction previous_sigchld {};
// The process the handlers work for. A forked child inherits the handlers; they check the pid and
// stand aside there, so the child need not reset anything after fork() — every write it made would
// cost a copy-on-write page fault, on every request.
std::atomic<pid_t> sigchld_owner{0};

std::atomic<BaseServer*> stop_target{nullptr};
std::atomic<pid_t> stop_owner{0};
std::atomic<int> stop_signals_seen{0};

void on_sigchld(int signal, siginfo_t* info, void* context) {
    const int saved_errno = errno;
    // In a forked child the wakers are the parent's (the eventfds are shared): wake nobody there.
    if (::getpid() == sigchld_owner.load()) {
        handlers_running.fetch_add(1);
        for (const auto& slot : child_wakeup_fds) {
            const int fd = slot.load() - 1;
            if (fd < 0) continue;
            const std::uint64_t one = 1;
            [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
        }
        handlers_running.fetch_sub(1);
    }
    if (previous_sigchld.sa_flags & SA_SIGINFO) {
        if (previous_sigchld.sa_sigaction) previous_sigchld.sa_sigaction(signal, info, context);
    } else if (previous_sigchld.sa_handler != SIG_DFL && previous_sigchld.sa_handler != SIG_IGN) {
        previous_sigchld.sa_handler(signal);
    }
    errno = saved_errno;
}

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

ChildWakeup::ChildWakeup(const Waker& waker) : slot_(-1) {
    {
        std::lock_guard lock(install_mutex);
        if (!sigchld_installed) {
            struct sigaction action {};
            action.sa_sigaction = on_sigchld;
            action.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
            sigemptyset(&action.sa_mask);
            sigchld_owner.store(::getpid());
            if (::sigaction(SIGCHLD, &action, &previous_sigchld) != 0) throw_errno("sigaction SIGCHLD");
            sigchld_installed = true;
        }
    }
    for (std::size_t i = 0; i < max_child_wakeups; ++i) {
        int expected = 0;
        if (child_wakeup_fds[i].compare_exchange_strong(expected, waker.fd() + 1)) {
            slot_ = static_cast<int>(i);
            return;
        }
    }
    throw std::length_error("sockserv: more than 64 forking servers in one process");
}

ChildWakeup::~ChildWakeup() {
    child_wakeup_fds[static_cast<std::size_t>(slot_)].store(0);
    // A handler on another thread may have read the fd just before; it must be done writing
    // before the caller closes the eventfd and the number gets reused.
    while (handlers_running.load() != 0) std::this_thread::yield();
}

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
