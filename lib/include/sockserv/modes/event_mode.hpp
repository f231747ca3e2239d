#pragma once
// EventMode<Server>: each request on a fiber of a few epoll loops (event mode), so that a server
// holds thousands of connections on as many threads as it has loops — with the handlers written
// for the other modes, unchanged.
//
//   sockserv::EventMode<sockserv::TCPServer<Echo>> server{{"127.0.0.1", 0}, {.event = {.loops = 2}}};
//   server.serve_forever();
//
// The framework's I/O (Socket, the stream reader and writer, fill_before, sendfile, recvfrom,
// sendto) suspends the fiber where it would block, and the loop's timers keep every time-out; so do
// ArrivalOrder and the waits in waiting.hpp. A handler that blocks its thread some other way
// (sleep(3), a long computation, a slow disk) stalls the fibers of its own loop — only that loop:
// once a loop has been in one round for stall_after (20 ms), the others accept new clients and
// hand it none until it goes round again.
//
// A connection lives on the loop that starts its fiber (loop 0 accepts and hands some over); a
// datagram server's socket is read by loop 0 (event_loops.hpp says why). Hooks: get_request,
// verify_request and process_request run one at a time, on whichever loop took the request;
// service_actions runs on loop 0 (the thread that called serve_forever) after its rounds and
// whenever another loop finishes a request.
// server_close() drains the fibers as every mode drains its requests (drain.hpp) and lets every
// fiber finish, whatever block_on_close says: a fiber cannot outlive its loop. The loops are this
// mode's ServingLoop (serving_loop()), and at max_connections accepting() is false.

#include <sockserv/base/log.hpp>
#include <sockserv/modes/event_loops.hpp>
#include <sockserv/modes/mode.hpp>
#include <sockserv/server/server_metrics.hpp>
#include <sockserv/server/tcp_server.hpp>
#include <sockserv/server/udp_server.hpp>

#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace sockserv {

template <class Server>
class EventMode : public Server {
    static_assert(std::derived_from<Server, BaseServer>,
                  "sockserv: EventMode<Server> needs a server, e.g. EventMode<TCPServer<Handler>>");
    template <class> friend class EventMode;

public:
    using Server::Server;

    /// Fibers call back into the server: they finish before it is gone.
    ~EventMode() override { loops_->close(); }

    void process_request(Request& request) override {
        EventLoop* loop = EventLoop::current();
        if (!loop) {
            // handle_request(), outside the loops: the request runs here, to its end.
            EventLoop once(this->config().event.fiber_stack_size);
            start(once, request);
            once.run_until_idle();
            return;
        }
        start(*loop, request);
    }

    /// Drains the fibers (drain.hpp: grace, unblock idle clients, cut off at stop_timeout, every
    /// fiber finishes), stops the loops, then closes the socket.
    void server_close() override {
        loops_->close(this->config().close_grace, this->config().stop_timeout);
        Server::server_close();
    }

    /// Serves this server on other's loops too: two servers, one set of threads (serve_pair). Call
    /// before serving; then only other.serve_forever() runs.
    template <class Other>
    void share_loops_with(EventMode<Other>& other) {
        loops_ = other.loops_;
        loops_->add(*this);
    }

    EventLoops& loops() noexcept { return *loops_; }
    /// Requests being served now, on every loop.
    std::size_t active_requests() const noexcept { return loops_->live_connections(); }

    /// At max_connections accepting pauses, until a request ends.
    bool accepting() const override {
        return loops_->live_connections() < loops_->max_connections() && Server::accepting();
    }
    ServerMetrics::Pause accept_limit() const override {
        if (loops_->live_connections() >= loops_->max_connections()) return ServerMetrics::Pause::connections;
        return Server::accept_limit();
    }

protected:
    ServingLoop& serving_loop() override { return *loops_; }

private:
    void start(EventLoop& here, Request& request) {
        // Datagrams stay on the loop that read them, in arrival order; connections spread.
        EventLoop& loop = Server::is_datagram ? here : loops_->balance(here);
        loops_->request_started(loop);
        if (&loop == &here) return spawn_on(loop, std::move(request));
        // std::function wants a copyable task: the request travels in a shared_ptr.
        auto moving = std::make_shared<Request>(std::move(request));
        loop.post([this, &loop, moving] { spawn_on(loop, std::move(*moving)); });
    }

    void spawn_on(EventLoop& loop, Request request) {
        const int fd = request.connection ? request.connection.fd() : -1;
        const EventModeConfig& event = this->config().event;
        // After a deferred accept (ServerConfig::defer_accept) the first bytes are nearly always
        // here — only a client silent past the kernel's hold comes without — so the fiber starts
        // at once, without an epoll registration and a round to learn what is known (a Connection:
        // close request then costs no epoll_ctl at all). A peek takes nothing: TLS and the PROXY
        // header read as before. (Without the deferral a peek at accept found nothing 84% of the
        // time under load, scripts/bench/syscalls.sh: not worth a system call.)
        if (fd >= 0 && event.start_on_first_bytes &&
            !(this->config().defer_accept && request.connection.input_waiting())) {
            std::optional<EventLoop::Clock::time_point> deadline;
            if (event.first_bytes_timeout) deadline = EventLoop::Clock::now() + *event.first_bytes_timeout;
            // A connection waiting for its first bytes is open, though no handler serves it yet.
            const ServerMetrics* metrics = this->metrics();
            if (metrics) metrics->connections_open.add(1);
            return loop.spawn_when_readable(fd, deadline, [this, &loop, metrics, request = std::move(request)](bool readable) mutable {
                if (metrics) metrics->connections_open.sub(1);  // finish_request counts it from here
                if (readable) {
                    this->finish_request_guarded(request);
                } else if (this->config().verbose) {
                    log("no request from ", request.client_address.to_string(), " within ",
                        std::to_string(this->config().event.first_bytes_timeout->count()), " ms: closed");
                }
                this->shutdown_request(request);
                loops_->request_finished(loop);
            });
        }
        loop.spawn(
            [this, &loop, request = std::move(request)]() mutable {
                this->finish_request_guarded(request);
                this->shutdown_request(request);
                loops_->request_finished(loop);
            },
            fd);
    }

    std::shared_ptr<EventLoops> loops_ = std::make_shared<EventLoops>(
        this->config().event.loops, this->config().event.fiber_stack_size, this->config().event.max_connections,
        this->config().event.stall_after);
};

/// Event mode's command-line options.
inline constexpr ModeOption event_mode_options[] = {
    {"loops", "event loops, each a thread (0 = one per CPU)", 0, 1024, false,
     [](const ServerConfig& c) -> std::uint64_t { return c.event.loops; },
     [](ServerConfig& c, std::uint64_t v) { c.event.loops = v; }, "threads"},
    {"fiber-stack", "each request's stack, in bytes (K and M suffixes); a guard page catches overflow", 16 * 1024,
     1ull << 30, true, [](const ServerConfig& c) -> std::uint64_t { return c.event.fiber_stack_size; },
     [](ServerConfig& c, std::uint64_t v) { c.event.fiber_stack_size = v; }},
    {"max-connections", "most requests at once, beyond it new clients wait in the backlog (0 = from the fd limit)", 0,
     100'000'000, false, [](const ServerConfig& c) -> std::uint64_t { return c.event.max_connections; },
     [](ServerConfig& c, std::uint64_t v) { c.event.max_connections = v; }},
};

template <class H> using EventTCPServer = EventMode<TCPServer<H>>;
template <class H> using EventUDPServer = EventMode<UDPServer<H>>;
template <class H> using EventUnixStreamServer = EventMode<UnixStreamServer<H>>;
template <class H> using EventUnixDatagramServer = EventMode<UnixDatagramServer<H>>;

}  // namespace sockserv
