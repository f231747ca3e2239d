#pragma once
// BaseServer: the request lifecycle, in one place, as in Python's socketserver.BaseServer.
//
//   serve_forever()                      runs the serving loop (serving_loop.hpp) until shutdown
//     -> handle_ready_requests()         per wake-up, a batch of:
//          get_request()                 transport: accept() or recvfrom()
//          verify_request()              false: shutdown_request() and done
//          process_request()             here, or a mixin hands it to a thread, child or fiber
//            -> finish_request()         builds the Handler: setup(), handle(), finish()
//            -> shutdown_request()       transport: half-close and close_request()
//          errors -> handle_error()      the server keeps serving
//     -> service_actions()               after every wake-up
//   server_close()                       a mixin drains its requests (drain.hpp), then the socket
//
// Thread safety: request_shutdown() is safe from anywhere, signal handlers and forked children
// included; shutdown() from any thread or handler. Everything else belongs to the thread that
// constructed the server and runs serve_forever().

#include <sockserv/base/address.hpp>
#include <sockserv/io/socket.hpp>
#include <sockserv/io/waker.hpp>
#include <sockserv/process/shared_memory.hpp>
#include <sockserv/server/drain.hpp>
#include <sockserv/server/readers.hpp>
#include <sockserv/server/request.hpp>
#include <sockserv/server/server_config.hpp>
#include <sockserv/server/server_metrics.hpp>
#include <sockserv/server/serving_loop.hpp>
#include <sockserv/server/stop_state.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>

namespace sockserv {

class BaseServer {
public:
    BaseServer(const BaseServer&) = delete;
    BaseServer& operator=(const BaseServer&) = delete;
    virtual ~BaseServer();

    /// Handles requests until shutdown is requested. Returns at once if it already was (a
    /// shutdown before serve_forever is not lost), and clears the request on return.
    void serve_forever();
    /// Stops serve_forever. Non-blocking when called from the serving thread or a handler run by
    /// it; from another thread, waits until serve_forever has returned (Python's contract) — and
    /// with a stop_timeout, cuts off the connection a handler on the serving thread still serves
    /// by then. Idempotent. Thread safe. Not async-signal-safe: use request_shutdown() there.
    void shutdown();
    /// Asks serve_forever to return; never blocks. Async-signal-safe, thread safe, and from a
    /// handler in a forked child it stops the parent's loop (the flag lives in shared memory).
    void request_shutdown() noexcept { stop_.request(); }
    /// True from a shutdown request until serving starts again, through server_close(): a handler
    /// keeping a connection alive ends it after the current response. Thread safe, and true in a
    /// forked child of a stopping server too.
    bool stopping() const noexcept { return stop_.stopping(); }
    /// Waits up to config().timeout for one request and handles it; on time-out calls
    /// handle_timeout() and returns false.
    bool handle_request();
    /// Releases the socket (a Unix socket path is unlinked). Mixins first drain their requests.
    /// Idempotent.
    virtual void server_close();

    /// The bound address, port 0 resolved to the real port.
    const Address& server_address() const noexcept { return server_address_; }
    const ServerConfig& config() const noexcept { return config_; }
    /// The listening (stream) or bound (datagram) socket. Datagram handlers reply through it.
    const Socket& socket() const noexcept { return socket_; }
    int fileno() const noexcept { return socket_.fd(); }
    bool is_datagram_server() const noexcept { return socket_type_ == SOCK_DGRAM; }
    /// Watches another fd in the serving loop (an admin console on stdin, a signalfd): on_readable
    /// runs in the serving thread — the parent, where requests run in children — whenever fd is
    /// readable or hung up, until remove_reader(fd). An exception from it is reported on stderr;
    /// serving goes on. The fd stays the caller's. Call before serving or from the serving thread.
    void add_reader(int fd, std::function<void()> on_readable) { readers_.add(fd, std::move(on_readable)); }
    /// Stops watching fd; safe from its own callback.
    void remove_reader(int fd) noexcept { readers_.remove(fd); }

    /// Bind the socket (Python's server_bind); called by the constructor unless !bind_and_activate.
    virtual void server_bind();
    /// Listen, for stream servers (Python's server_activate).
    virtual void server_activate() {}

    // ---- Hooks. Each may be overridden. ----

    /// Return false to refuse the request; it is still closed.
    virtual bool verify_request(Request& request);
    /// Runs the request: here, by default; mixins hand it to a thread, child or fiber. May move
    /// from request.
    virtual void process_request(Request& request);
    /// Builds the handler for the request and runs it (the transport template does this).
    virtual void finish_request(Request& request) = 0;
    /// An exception escaped while handling request. Default: a line on stderr, except for peers
    /// that went away (EPIPE, ECONNRESET, timeouts), which are normal. Must not throw.
    virtual void handle_error(const Request& request, std::exception_ptr error) noexcept;
    /// handle_request() waited config().timeout for nothing.
    virtual void handle_timeout() {}
    /// Called after every wake-up of the serving loop (and every service_interval when set).
    virtual void service_actions() {}
    /// Ends a request after handling: stream servers half-close, then close_request().
    virtual void shutdown_request(Request& request);
    /// Releases the request's resources (the connection fd).
    virtual void close_request(Request& request);
    /// False pauses taking requests from the socket (a mixin at its limit, an accept back-off).
    virtual bool accepting() const { return true; }
    /// Which limit made accepting() false, asked when it turns false (the metrics' cause). The
    /// transport's own pause is the back-off after running out of fds; each mode names its limit.
    virtual ServerMetrics::Pause accept_limit() const { return ServerMetrics::Pause::fds; }
    /// How long accepting() will stay false on its own, if it will (the accept back-off).
    virtual std::optional<std::chrono::milliseconds> accept_pause() const { return std::nullopt; }
    /// How soon service_actions() must run again although nothing may wake the loop (a mixin with
    /// cleanup still pending: threads that have finished but not yet exited).
    virtual std::optional<std::chrono::milliseconds> service_due() const { return std::nullopt; }

    // ---- For serving loops (serving_loop.hpp) ----

    /// Requests handled per wake-up before waiting again (and running service_actions): amortises
    /// the wait under a burst, and lets a burst's work be batched in service_actions (the chat
    /// flushes its outboxes there: 16 measured 25,000 chat messages/s without loss, 64 measured
    /// 40,000). A shutdown is still seen between any two requests.
    static constexpr int max_requests_per_wakeup = 64;
    /// The requests one wake-up found: up to `batch`, one at a time, while serving goes on,
    /// accepting() holds and another is waiting.
    void handle_ready_requests(int batch = max_requests_per_wakeup);
    bool shutdown_requested() const noexcept { return stop_.requested(); }
    /// When service_actions() must run at the latest without a wake-up: the soonest of
    /// service_interval, accept_pause() and service_due() (nullopt: none).
    std::optional<std::chrono::milliseconds> next_service() const;
    Readers& readers() noexcept { return readers_; }
    /// Whether config().metrics counts here: the modes count their threads, children and fibers.
    const ServerMetrics* metrics() const noexcept { return config_.metrics; }
    /// Serving loops say whether they take requests now; a change is counted (with metrics).
    void note_accepting(bool accepting) noexcept;
    const Waker& waker() const noexcept { return stop_.waker(); }

protected:
    BaseServer(Address server_address, ServerConfig config, int socket_type);

    /// Gets the next request from the socket, or nullopt if there was none after all.
    virtual std::optional<Request> get_request() = 0;
    /// Called in a forked child before it handles its request. Stream servers close the listener.
    virtual void after_fork_in_child() {}
    /// Whether another request is waiting, asked between the requests of one wake-up. The
    /// default polls the socket: Linux's accept(2) allocates the new socket before it looks at
    /// the queue, so an accept that finds nothing costs a socket and a file (4.4 us here) where a
    /// poll costs 0.4 us (scripts/bench/syscall_cost). Datagram servers just try (a recvfrom that
    /// finds nothing is cheap).
    virtual bool request_waiting();
    /// ServerConfig::tcp_nodelay, send_buffer_size and defer_accept, on the listener, for its connections.
    void set_inherited_options();
    /// May be overridden: the loop serve_forever runs. A mixin that runs requests on loops of its
    /// own returns them.
    virtual ServingLoop& serving_loop() { return poll_loop_; }

    /// finish_request(), an exception going to handle_error(), never throwing; false when one did,
    /// unless it was only the peer going away (a child's exit status: non-zero is logged).
    /// The body of every worker thread, child process and fiber.
    bool finish_request_guarded(Request& request) noexcept;
    /// One request: get_request, verify_request, process_request. False when there was none.
    bool handle_request_noblock();
    Socket& mutable_socket() noexcept { return socket_; }
    /// True in the process that created the server (false in forked children).
    bool in_owner_process() const noexcept;
    /// A mixin's server_close() calls this to drain the requests it runs (drain.hpp) with the
    /// server's close_grace and stop_timeout.
    void drain_requests(RunningRequests& running);

private:
    bool finish_request_counted(Request& request, const ServerMetrics& metrics) noexcept;
    /// finish_request(), and how it ended: `error` is what escaped, classified where it is caught
    /// (a system_error says its code), so nothing rethrows it to look.
    ServerMetrics::Ending finish_request_caught(Request& request, std::exception_ptr& error) noexcept;
    /// handle_error() for an error so classified (ClassifiedError); whether the peer had gone.
    bool report(const Request& request, const std::exception_ptr& error, ServerMetrics::Ending ending) noexcept;

    Address server_address_;
    ServerConfig config_;
    int socket_type_;
    Socket socket_;
    std::string bound_path_;  // a Unix socket path we created, unlinked by server_close()
    StopState stop_;
    // The requests handled, in shared memory: the count the parent bumps per request then costs
    // no copy-on-write fault after each fork (a private page written after a fork is copied first).
    Shared<std::uint64_t> handled_;
    int owner_pid_;
    Readers readers_;
    PollLoop poll_loop_;
    bool closed_ = false;
    bool paused_ = false;  // accepting() was false when a serving loop last asked
};

namespace detail {
/// Throws std::invalid_argument unless address is of the family the transport `kind` takes.
void require_family(const Address& address, bool want_unix, const char* kind);
}  // namespace detail

}  // namespace sockserv
