#include <sockserv/process/child_processes.hpp>
#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/process/shared_memory.hpp>
#include <sockserv/process/worker_pool.hpp>
#include "exit_status.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace sockserv {

namespace {

using Clock = std::chrono::steady_clock;
using detail::describe_exit;
using detail::exited_cleanly;

// A worker that dies sooner than this after starting has likely failed at start: restarting it
// at once, again and again, would be a fork loop.
constexpr std::chrono::milliseconds quick_death{1000};
constexpr std::chrono::milliseconds first_delay{500};
constexpr std::chrono::milliseconds longest_delay{30'000};

// What the workers share with the master, in memory that fork does not copy. A worker's tally is
// kept at 2 * slot + (generation % 2): during a reload the old and the new worker of a slot count
// apart.
struct Counters {
    std::atomic<std::uint64_t> request_numbers{0};
    std::array<std::atomic<std::uint64_t>, 2 * PoolConfig::max_workers> tallies{};
};


std::string seconds(std::chrono::milliseconds ms) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g s", static_cast<double>(ms.count()) / 1000.0);
    return text;
}

}  // namespace

void WorkerPool::Worker::ready() const noexcept {
    if (ready_fd < 0) return;
    const char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(ready_fd, &byte, 1);
}

struct WorkerPool::State {
    struct Process {
        pid_t pid = -1;
        UniqueFd pidfd;
        UniqueFd ready;  // read end: a byte when the worker serves, EOF if it dies first
        std::size_t slot = 0;
        std::uint64_t generation = 0;
        Clock::time_point started;
        bool stopping = false;  // asked to finish (SIGTERM sent)
        std::optional<Clock::time_point> kill_at;
        std::size_t tally = 0;
    };
    struct Slot {
        std::uint64_t generation = 0;
        int quick_deaths = 0;
        std::optional<Clock::time_point> start_at;  // a restart waiting out its back-off
    };

    PoolConfig config;
    Shared<Counters> counters;
    std::vector<Process> processes;
    std::vector<Slot> slots;
    UniqueFd signal_fd;
    sigset_t old_mask{};
    pid_t master = ::getpid();
    bool stopping = false;
    std::mt19937_64 random{std::random_device{}()};

    explicit State(PoolConfig c) : config(std::move(c)), slots(config.workers) {}

    std::string prefix() const { return config.program + ": "; }
    std::string name(const Process& p) const {
        return "worker " + std::to_string(p.pid) + " (slot " + std::to_string(p.slot) + ")";
    }

    [[noreturn]] void become_worker(const Body& body, Worker worker, int ready_write) {
        // Dies with the master, even if the master died before this line: then getppid() is no
        // longer the master's pid (it is init's, or a subreaper's) and the worker goes at once.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != master) ::_exit(1);
        // The master's decisions, not the worker's: a Ctrl-C reaches the whole process group.
        ::signal(SIGINT, SIG_IGN);
        ::signal(SIGHUP, SIG_IGN);
        ::signal(SIGUSR1, SIG_IGN);
        ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
        // The master's fds are not the worker's to hold (a sibling's pidfd, the signals).
        signal_fd.reset();
        processes.clear();
        if (worker.slot != 0) {
            // Standard input is read by one worker only (a console's lines reach everyone through
            // the shared state); the others read an empty one, never a stray socket at fd 0.
            const UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
            if (null) ::dup2(null.get(), STDIN_FILENO);
        }
        worker.ready_fd = ready_write;
        // Its metrics count apart from the other workers' (and a replacement's add to its
        // predecessor's): slot 0 is the master's.
        metrics::Registry::use_slot(1 + worker.slot);
        int status = 1;
        try {
            status = body(worker);
        } catch (const std::exception& error) {
            log(prefix() + "worker " + std::to_string(::getpid()) + ": " + error.what());
        } catch (...) {
            log(prefix() + "worker " + std::to_string(::getpid()) + ": unknown exception");
        }
        std::fflush(nullptr);
        // _exit: the master's atexit handlers and static destructors are not the worker's to run.
        ::_exit(status);
    }

    void spawn(std::size_t slot, const Body& body) {
        Slot& s = slots[slot];
        s.start_at.reset();
        int pipe_fds[2];
        if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("pipe2");
        UniqueFd ready_read(pipe_fds[0]);
        UniqueFd ready_write(pipe_fds[1]);
        Worker worker;
        worker.slot = slot;
        if (config.max_requests > 0)
            worker.max_requests =
                config.max_requests + std::uniform_int_distribution<std::uint64_t>(0, config.max_requests / 8)(random);
        const std::size_t tally = 2 * slot + s.generation % 2;
        counters->tallies[tally].store(0);
        worker.request_numbers = &counters->request_numbers;
        worker.request_tally = &counters->tallies[tally];
        const pid_t pid = ::fork();
        if (pid < 0) {
            log(prefix() + "cannot start a worker in slot " + std::to_string(slot) + ": " + std::strerror(errno) +
                "; trying again in " + seconds(first_delay));
            s.start_at = Clock::now() + first_delay;
            return;
        }
        if (pid == 0) {
            ready_read.reset();
            become_worker(body, worker, ready_write.release());
        }
        Process p;
        p.pid = pid;
        // Our own child, not yet waited for: the pid cannot have been reused.
        p.pidfd = UniqueFd(detail::pidfd_open(pid));
        if (!p.pidfd) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            throw_errno("pidfd_open");
        }
        p.ready = std::move(ready_read);
        p.slot = slot;
        p.generation = s.generation;
        p.started = Clock::now();
        p.tally = tally;
        processes.push_back(std::move(p));
        config.metrics.worker_pid.set_in_slot(1 + slot, pid);
        config.metrics.workers_alive.set(static_cast<std::int64_t>(processes.size()));
    }

    void ask_to_finish(Process& p) {
        if (p.stopping) return;
        p.stopping = true;
        p.kill_at = Clock::now() + config.graceful_timeout;
        ::kill(p.pid, SIGTERM);
    }

    void begin_stop() {
        stopping = true;
        for (Slot& s : slots) s.start_at.reset();
        log(prefix() + "stopping " + std::to_string(processes.size()) + " worker(s); they have " +
            seconds(config.graceful_timeout) + " to finish");
        for (Process& p : processes) ask_to_finish(p);
    }

    void reload(const Body& body) {
        if (stopping) return;
        if (config.before_reload && !config.before_reload()) return;
        config.metrics.reloads.add();
        std::string pids;
        for (std::size_t slot = 0; slot < slots.size(); ++slot) {
            ++slots[slot].generation;
            slots[slot].quick_deaths = 0;
            spawn(slot, body);
            if (!processes.empty() && processes.back().slot == slot && processes.back().generation == slots[slot].generation) {
                pids += ' ';
                pids += std::to_string(processes.back().pid);
            }
        }
        log(prefix() + "reload: new workers, pids" + pids + "; each old one finishes once its successor serves");
    }

    void report() const {
        std::uint64_t total = 0;
        for (const Process& p : processes) {
            const std::uint64_t served = counters->tallies[p.tally].load();
            total += served;
            log(prefix() + name(p) + ": " + std::to_string(served) + " requests" + (p.stopping ? ", finishing" : ""));
        }
        log(prefix() + "workers: " + std::to_string(processes.size()) + ", requests: " + std::to_string(total));
    }

    // The worker of this slot's current generation serves: the older ones of the slot may go.
    void now_serving(Process& p) {
        if (p.generation != slots[p.slot].generation) return;
        for (Process& other : processes)
            if (other.slot == p.slot && other.generation < p.generation && !other.stopping) {
                if (config.verbose) log(prefix() + name(other) + ": replaced by worker " + std::to_string(p.pid) + ", finishing");
                ask_to_finish(other);
            }
    }

    void reap(std::size_t index, const Body& body) {
        Process& p = processes[index];
        siginfo_t info{};
        if (::waitid(P_PIDFD, static_cast<id_t>(p.pidfd.get()), &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0)
            return;  // not yet (a spurious wake-up)
        const auto lived = Clock::now() - p.started;
        const std::uint64_t served = counters->tallies[p.tally].load();
        const bool current = !stopping && p.generation == slots[p.slot].generation;
        const bool clean = exited_cleanly(info);
        const std::string what = name(p) + " " + describe_exit(info) + " after " + std::to_string(served) + " requests";
        const std::size_t slot = p.slot;
        processes.erase(processes.begin() + static_cast<std::ptrdiff_t>(index));
        config.metrics.workers_alive.set(static_cast<std::int64_t>(processes.size()));
        if (!current) {
            log(prefix() + what);
            return;
        }
        config.metrics.restarts.add_in_slot(1 + slot);
        // A clean exit of a current worker is a recycle (--max-requests): replaced, no back-off.
        Slot& s = slots[slot];
        if (!clean && lived < quick_death) ++s.quick_deaths;
        else s.quick_deaths = 0;
        if (s.quick_deaths < 2) {
            log(prefix() + what + "; replacing it");
            spawn(slot, body);
            return;
        }
        const auto delay = std::min<std::chrono::milliseconds>(first_delay * (1LL << std::min(s.quick_deaths - 2, 10)),
                                                               longest_delay);
        log(prefix() + what + "; slot " + std::to_string(slot) + " died within " + seconds(quick_death) +
            " of starting " + std::to_string(s.quick_deaths) + " times running: next start in " + seconds(delay));
        s.start_at = Clock::now() + delay;
    }

    // Signals from signalfd. False when the master must stop by force (a second stop signal).
    bool handle_signals(const Body& body) {
        signalfd_siginfo info{};
        while (::read(signal_fd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            switch (static_cast<int>(info.ssi_signo)) {
                case SIGTERM:
                case SIGINT:
                    if (stopping) return false;
                    begin_stop();
                    break;
                case SIGHUP: reload(body); break;
                case SIGUSR1: report(); break;
                default: break;
            }
        }
        return true;
    }

    void kill_all_now() {
        for (Process& p : processes) ::kill(p.pid, SIGKILL);
        for (Process& p : processes) {
            siginfo_t info{};
            ::waitid(P_PIDFD, static_cast<id_t>(p.pidfd.get()), &info, WEXITED);
        }
        processes.clear();
    }
};

WorkerPool::WorkerPool(PoolConfig config) {
    if (config.workers < 1 || config.workers > PoolConfig::max_workers)
        throw std::invalid_argument("a pool needs 1 to " + std::to_string(PoolConfig::max_workers) + " workers");
    state_ = std::make_unique<State>(std::move(config));
}

WorkerPool::~WorkerPool() {
    if (state_ && ::getpid() == state_->master) state_->kill_all_now();
}

int WorkerPool::run(const Body& body) {
    State& s = *state_;
    // The master's signals arrive through a signalfd, read in the loop: nothing runs in a handler.
    // Blocked before the first fork; every worker restores the mask it had.
    sigset_t handled;
    sigemptyset(&handled);
    for (const int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&handled, signal);
    if (::pthread_sigmask(SIG_BLOCK, &handled, &s.old_mask) != 0) throw_errno("pthread_sigmask");
    struct RestoreMask {
        const sigset_t& mask;
        ~RestoreMask() { ::pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
    } restore{s.old_mask};
    s.signal_fd = UniqueFd(::signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!s.signal_fd) throw_errno("signalfd");

    for (std::size_t slot = 0; slot < s.slots.size(); ++slot) s.spawn(slot, body);
    {
        std::string pids;
        for (const auto& p : s.processes) {
            pids += ' ';
            pids += std::to_string(p.pid);
        }
        log(s.prefix() + std::to_string(s.slots.size()) + " worker(s) in " + s.config.mode + " mode, pids" + pids +
            "; master " + std::to_string(s.master));
    }

    std::vector<pollfd> fds;
    std::vector<std::size_t> owner;  // fds[i] belongs to processes[owner[i]] (i > 0)
    while (!(s.stopping && s.processes.empty())) {
        const auto now = Clock::now();
        std::optional<Clock::time_point> next;
        auto consider = [&](const std::optional<Clock::time_point>& at) {
            if (at && (!next || *at < *next)) next = at;
        };
        for (const auto& slot : s.slots) consider(slot.start_at);
        for (const auto& p : s.processes) consider(p.kill_at);
        int timeout = -1;
        if (next) timeout = static_cast<int>(std::clamp<long long>(
                      std::chrono::ceil<std::chrono::milliseconds>(*next - now).count(), 0, 1 << 30));

        fds.assign(1, pollfd{s.signal_fd.get(), POLLIN, 0});
        owner.assign(1, 0);
        for (std::size_t i = 0; i < s.processes.size(); ++i) {
            fds.push_back({s.processes[i].pidfd.get(), POLLIN, 0});
            owner.push_back(i);
            if (s.processes[i].ready) {
                fds.push_back({s.processes[i].ready.get(), POLLIN, 0});
                owner.push_back(i);
            }
        }
        if (::poll(fds.data(), fds.size(), timeout) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll");
        }
        if (fds[0].revents & POLLIN) {
            if (!s.handle_signals(body)) {
                log(s.prefix() + "second stop signal: killing " + std::to_string(s.processes.size()) + " worker(s) now");
                s.kill_all_now();
                return 1;
            }
        }
        // Readiness first, exits second, each by pid: reaping erases from processes.
        std::vector<pid_t> exited;
        for (std::size_t i = 1; i < fds.size(); ++i) {
            if (!fds[i].revents) continue;
            State::Process& p = s.processes[owner[i]];
            if (fds[i].fd == p.ready.get()) {
                char byte = 0;
                const ssize_t n = ::read(p.ready.get(), &byte, 1);
                p.ready.reset();
                if (n == 1) s.now_serving(p);
            } else {
                exited.push_back(p.pid);
            }
        }
        for (const pid_t pid : exited) {
            const auto it = std::find_if(s.processes.begin(), s.processes.end(),
                                         [pid](const State::Process& p) { return p.pid == pid; });
            if (it != s.processes.end()) s.reap(static_cast<std::size_t>(it - s.processes.begin()), body);
        }
        const auto after = Clock::now();
        for (std::size_t slot = 0; slot < s.slots.size(); ++slot)
            if (s.slots[slot].start_at && *s.slots[slot].start_at <= after) s.spawn(slot, body);
        for (State::Process& p : s.processes)
            if (p.kill_at && *p.kill_at <= after) {
                log(s.prefix() + s.name(p) + " did not finish within " + seconds(s.config.graceful_timeout) +
                    ": killing it");
                ::kill(p.pid, SIGKILL);
                p.kill_at.reset();
                s.config.metrics.killed.add();
            }
    }
    return 0;
}

}  // namespace sockserv
