#pragma once
// ForkingMixIn<Server>: each request in a child process (Python's ForkingMixIn, without its flaws:
// children reaped as they exit, only our own pids waited for, max_children pausing accept instead
// of blocking the loop, no SIGCHLD handler taken from the program). Short of fds, memory or
// processes to fork a watched child, the request waits (accepting paused, said once in the log)
// until a child exits, instead of being dropped or served by a child nobody watches.

#include <sockserv/modes/mode.hpp>
#include <sockserv/process/child_processes.hpp>
#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/io/open_file_cache.hpp>
#include <sockserv/server/tcp_server.hpp>
#include <sockserv/server/udp_server.hpp>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <concepts>
#include <cstdint>
#include <string>
#include <optional>
#include <utility>
#include <unistd.h>

namespace sockserv {

template <class Server>
class ForkingMixIn : public Server {
    static_assert(std::derived_from<Server, BaseServer>,
                  "sockserv: ForkingMixIn<Server> needs a server, e.g. ForkingMixIn<TCPServer<Handler>>");

public:
    template <class... Args>
    explicit ForkingMixIn(Args&&... args) : Server(std::forward<Args>(args)...) {
        // A child's exit makes its pidfd, and so exit_fd(), readable: the loop wakes and reaps it.
        this->add_reader(children_.exit_fd(), [this] {
            children_.collect();
            if (waiting_) fork_waiting();  // a child's exit freed its fds
        });
    }

    ~ForkingMixIn() override { children_.collect(); }

    // [[gnu::hot]] here and on the other functions a child runs (finish_request, the handler's
    // setup/run/finish, the socket and stream calls) puts them side by side in .text.hot. Why: a
    // forked child maps the parent's code lazily, one page fault per 64 KiB window it touches;
    // grouped, the child's path spans one or two windows instead of five (16 -> 14 faults a request).
    [[gnu::hot]] void process_request(Request& request) override {
        pid_t pid;
        try {
            pid = children_.fork(request.connection ? request.connection.fd() : -1, &request.client_address);
        } catch (const std::system_error& error) {
            // EAGAIN: fork hit RLIMIT_NPROC or the kernel's limit; the rest are fds and memory.
            if (!is_out_of_resources(error.code()) && error.code().value() != EAGAIN) throw;
            if (!short_of_resources_) report_pause(request, error);
            short_of_resources_ = true;
            waiting_ = std::move(request);
            return;
        }
        // Written only when it changes: after a fork every page the parent writes is a copy-on-write
        // fault, and this object's page is not otherwise written per request.
        if (short_of_resources_) short_of_resources_ = false;
        if (pid == 0) {
            // Fork point: this child handles one request and _exits. Only the forking thread exists
            // here. _exit, not exit: the parent's atexit handlers and stdio buffers are not ours to
            // run or flush twice. Nothing to undo for signals: sockserv's handlers know their pid
            // and take the default action in a child (and every page written here is a
            // copy-on-write fault, per request).
            this->after_fork_in_child();
            OpenFileCache::bypass_in_this_process();
            const bool ok = this->finish_request_guarded(request);
            this->shutdown_request(request);
            ::_exit(ok ? 0 : 1);
        }
        // The child owns the connection now; the parent's copy of the fd must go, or the peer never
        // sees EOF. close, not shutdown: shutdown would cut the child's connection too.
        this->close_request(request);
        if (const ServerMetrics* metrics = this->metrics()) metrics->children.set(static_cast<std::int64_t>(children_.count()));
    }

    void service_actions() override {
        if (children_.unwatched() > 0) children_.collect();
        if (waiting_) fork_waiting();  // fds freed elsewhere, or memory: try again now and then
        if (const ServerMetrics* metrics = this->metrics()) metrics->children.set(static_cast<std::int64_t>(children_.count()));
        Server::service_actions();
    }

    /// Drains the children (drain.hpp: grace, unblock idle clients, cut off at stop_timeout, wait
    /// for them when block_on_close), then closes the socket.
    void server_close() override {
        if (waiting_) {  // never given a child: closed like a connection still in the backlog
            this->shutdown_request(*waiting_);
            waiting_.reset();
        }
        struct Children final : RunningRequests {
            ChildProcesses& children;
            bool wait_for_them;
            Children(ChildProcesses& c, bool w) : children(c), wait_for_them(w) {}
            bool wait_idle_until(std::chrono::steady_clock::time_point deadline) override {
                return children.wait_all_until(deadline);
            }
            void unblock_connections(bool cut_off) noexcept override { children.unblock_connections(cut_off); }
            void join() override {
                if (wait_for_them) children.wait_all();
                else children.collect();
            }
        } running{children_, this->config().block_on_close};
        this->drain_requests(running);
        Server::server_close();
    }

    /// Children alive (not yet reaped).
    std::size_t active_children() const noexcept { return children_.count(); }

    bool accepting() const override {
        return !waiting_ && children_.count() < this->config().fork.max_children && Server::accepting();
    }
    ServerMetrics::Pause accept_limit() const override {
        // A fork that failed for want of fds or memory waits like a full house of children.
        if (waiting_ || children_.count() >= this->config().fork.max_children) return ServerMetrics::Pause::children;
        return Server::accept_limit();
    }
protected:
    std::optional<std::chrono::milliseconds> service_due() const override {
        // A child forked while the process was out of fds has no pidfd to wake us: ask about it.
        if (children_.unwatched() > 0 || waiting_) return std::chrono::milliseconds(100);
        return Server::service_due();
    }

private:
    // Said when a pause begins, not at every retry; and at most once a minute, since at the limit a
    // pause begins whenever a child's exit lets one more start.
    void report_pause(const Request& request, const std::system_error& error) {
        const auto now = std::chrono::steady_clock::now();
        if (reported_pause_ && now - *reported_pause_ < std::chrono::minutes(1)) {
            ++unreported_pauses_;
            return;
        }
        const std::string more =
            unreported_pauses_ > 0 ? " (" + std::to_string(unreported_pauses_) + " more pauses since the last line)" : "";
        log("fork mode: cannot start a child for ", request.client_address.to_string(), ": ", error.what(),
            "; accepting paused until one exits", more);
        reported_pause_ = now;
        unreported_pauses_ = 0;
    }

    void fork_waiting() {
        std::optional<Request> request = std::exchange(waiting_, std::nullopt);
        try {
            process_request(*request);  // waits again if it still cannot fork
        } catch (...) {
            this->handle_error(*request, std::current_exception());
            this->shutdown_request(*request);
        }
    }

    // The request that could not be given a child yet: accepting is paused while there is one.
    std::optional<Request> waiting_;
    bool short_of_resources_ = false;
    std::optional<std::chrono::steady_clock::time_point> reported_pause_;
    std::uint64_t unreported_pauses_ = 0;
    ChildProcesses children_{std::min<std::size_t>(this->config().fork.max_children, 1024)};
};

/// Fork mode's command-line options.
inline constexpr ModeOption fork_mode_options[] = {
    {"max-children", "most children at once; beyond it new clients wait in the backlog", 1, 1'000'000, false,
     [](const ServerConfig& c) -> std::uint64_t { return c.fork.max_children; },
     [](ServerConfig& c, std::uint64_t v) { c.fork.max_children = v; }},
};

template <class H> using ForkingTCPServer = ForkingMixIn<TCPServer<H>>;
template <class H> using ForkingUDPServer = ForkingMixIn<UDPServer<H>>;
template <class H> using ForkingUnixStreamServer = ForkingMixIn<UnixStreamServer<H>>;
template <class H> using ForkingUnixDatagramServer = ForkingMixIn<UnixDatagramServer<H>>;

}  // namespace sockserv
