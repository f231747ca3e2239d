#pragma once
// ForkingMixIn<Server>: each request in a child process (Python's ForkingMixIn, without its flaws:
// children reaped as they exit, only our own pids waited for, max_children pausing accept instead
// of blocking the loop, no SIGCHLD handler taken from the program).

#include <sockserv/child_processes.hpp>
#include <sockserv/tcp_server.hpp>
#include <sockserv/udp_server.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
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
        this->add_reader(children_.exit_fd(), [this] { children_.collect(); });
    }

    ~ForkingMixIn() override { children_.collect(); }

    // [[gnu::hot]] here and on the other functions a child runs (finish_request, the handler's
    // setup/run/finish, the socket and stream calls) puts them side by side in .text.hot. Why: a
    // forked child maps the parent's code lazily, one page fault per 64 KiB window it touches;
    // grouped, the child's path spans one or two windows instead of five (16 -> 14 faults a request).
    [[gnu::hot]] void process_request(Request& request) override {
        if (children_.fork(request.connection ? request.connection.fd() : -1, &request.client_address) == 0) {
            // Fork point: this child handles one request and _exits. Only the forking thread exists
            // here. _exit, not exit: the parent's atexit handlers and stdio buffers are not ours to
            // run or flush twice. Nothing to undo for signals: sockserv's handlers know their pid
            // and take the default action in a child (and every page written here is a
            // copy-on-write fault, per request).
            this->after_fork_in_child();
            const bool ok = this->finish_request_guarded(request);
            this->shutdown_request(request);
            ::_exit(ok ? 0 : 1);
        }
        // The child owns the connection now; the parent's copy of the fd must go, or the peer never
        // sees EOF. close, not shutdown: shutdown would cut the child's connection too.
        this->close_request(request);
    }

    void service_actions() override {
        if (children_.unwatched() > 0) children_.collect();
        Server::service_actions();
    }

    /// Unblocks children reading from idle clients, closes the socket, then waits for the
    /// children when block_on_close.
    void server_close() override {
        if (this->config().close_grace.count() > 0)
            children_.wait_all_until(std::chrono::steady_clock::now() + this->config().close_grace);
        children_.unblock_connections();
        Server::server_close();
        if (this->config().block_on_close) children_.wait_all();
        else children_.collect();
    }

    /// Children alive (not yet reaped).
    std::size_t active_children() const noexcept { return children_.count(); }

protected:
    bool accepting() const override {
        return children_.count() < this->config().max_children && Server::accepting();
    }
    std::optional<std::chrono::milliseconds> service_due() const override {
        // A child forked while the process was out of fds has no pidfd to wake us: ask about it.
        if (children_.unwatched() > 0) return std::chrono::milliseconds(100);
        return Server::service_due();
    }

private:
    ChildProcesses children_{std::min<std::size_t>(this->config().max_children, 1024)};
};

template <class H> using ForkingTCPServer = ForkingMixIn<TCPServer<H>>;
template <class H> using ForkingUDPServer = ForkingMixIn<UDPServer<H>>;
template <class H> using ForkingUnixStreamServer = ForkingMixIn<UnixStreamServer<H>>;
template <class H> using ForkingUnixDatagramServer = ForkingMixIn<UnixDatagramServer<H>>;

}  // namespace sockserv
