#pragma once
// WorkerPool: a process pool — a master that binds and supervises N pre-forked workers — as nginx,
// Apache prefork and gunicorn run it.
// A master forks N workers up front and supervises them; each worker serves in any --mode. The
// master serves nothing itself: whoever calls run() has bound the sockets already, so the port is
// open before the first worker exists, and each worker serves a duplicate of them
// (ServerConfig::inherited_socket; serve.hpp's run_workers does all this for every app).
//
//   master ──fork──> worker 0 (slot 0: also reads stdin)
//          ──fork──> worker 1 ...        every worker: its own server, its own mode, threads, loops
//
// Signals, to the master:
//   SIGTERM, SIGINT   stop: every worker is asked to finish (SIGTERM), and killed after
//                     graceful_timeout; run() returns 0. A second one kills the workers at once.
//   SIGHUP            reload: a new worker starts in every slot; once it is serving, the old one of
//                     its slot is asked to finish (no connection is dropped: see close_grace).
//   SIGUSR1           one line per worker on stderr: its pid, slot and requests served.
// A worker that dies (a crash, kill -9) is logged with its pid and status and replaced at once;
// one that keeps dying within a second of starting is restarted with a growing delay instead.
// Workers never outlive the master: each has PR_SET_PDEATHSIG(SIGKILL), set with no race at fork.
// Workers ignore SIGINT (a Ctrl-C reaches the whole process group; the master decides), SIGHUP
// and SIGUSR1.
//
// Not thread safe; run() from the main thread of a single-threaded process (a fork copies only
// the thread that calls it, and the death signal follows the thread that forked).

#include <sockserv/base/unique_fd.hpp>
#include <sockserv/process/metrics.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace sockserv {

/// What the master counts (declared by the program with --metrics; empty handles count nothing).
/// Per-worker series are counted in the worker's metrics slot, 1 + its slot number.
struct PoolMetrics {
    metrics::Gauge workers_alive;
    metrics::Counter restarts;        // per worker: a dead worker replaced (crash, kill, recycle)
    metrics::Counter killed;          // did not finish within graceful_timeout
    metrics::Counter reloads;         // SIGHUPs that started new workers
    metrics::Gauge worker_pid;        // per worker
};

struct PoolConfig {
    /// Most workers a pool can have.
    static constexpr std::size_t max_workers = 512;
    /// The prefix of the master's log lines (the program's name).
    std::string program = "sockserv";
    std::size_t workers = 2;
    /// The mode the workers serve in, for the start line.
    std::string mode;
    /// How long a stopping worker may go on finishing its requests before it is killed.
    std::chrono::milliseconds graceful_timeout{30'000};
    /// A worker is replaced after about this many requests (0: never), against slow leaks; each
    /// worker draws up to 1/8 more at random, so that the workers do not all restart at once.
    std::uint64_t max_requests = 0;
    /// Also log which old worker a reload's new one replaces.
    bool verbose = false;
    /// Called by the master on SIGHUP before any new worker starts: re-read what the workers will
    /// serve with (a TLS certificate and key). False: no reload — it has said why, and the old
    /// workers serve on as they were.
    std::function<bool()> before_reload;
    PoolMetrics metrics;
};

class WorkerPool {
public:
    /// What one worker is given.
    struct Worker {
        /// 0 .. workers-1: a replacement takes the slot of the worker it replaces.
        std::size_t slot = 0;
        /// This worker's --max-requests, jitter added (0: never).
        std::uint64_t max_requests = 0;
        /// Shared by every worker: number requests from it (ServerConfig::request_numbers).
        std::atomic<std::uint64_t>* request_numbers = nullptr;
        /// This worker's own count, read by the master (ServerConfig::request_tally).
        std::atomic<std::uint64_t>* request_tally = nullptr;
        /// Tell the master the worker serves now (call once its server is made): a reload stops
        /// the old worker of this slot only then.
        void ready() const noexcept;
        int ready_fd = -1;
    };
    /// Runs in a forked worker; its result is the worker's exit status.
    using Body = std::function<int(const Worker&)>;

    explicit WorkerPool(PoolConfig config);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    /// Forks the workers and supervises them until SIGTERM or SIGINT (see above); returns 0 once
    /// the last worker has exited. Throws std::system_error when the master cannot start.
    int run(const Body& body);

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace sockserv
