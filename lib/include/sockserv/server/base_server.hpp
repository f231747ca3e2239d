#pragma once
// BaseServer: the request lifecycle, in one place, as in Python's socketserver.BaseServer.
//
//   serve_forever()                      wait on the socket and the waker; no poll interval
//     -> handle_request_noblock()
//          get_request()                 transport: accept() or recvfrom()
//          verify_request()              false: shutdown_request() and done
//          process_request()             sync: here; ThreadingMixIn: a thread; ForkingMixIn: a child
//            -> finish_request()         builds the Handler: setup(), handle(), finish()
//            -> shutdown_request()       transport: half-close and close_request()
//          errors -> handle_error()      the server keeps serving
//     -> service_actions()               after every wake-up (ForkingMixIn reaps children here)
//
// Thread safety: request_shutdown() is safe from anywhere, signal handlers and forked children
// included; shutdown() from any thread or handler. Everything else belongs to the thread that
// constructed the server and runs serve_forever().

#include <sockserv/base/address.hpp>
#include <sockserv/server/request.hpp>
#include <sockserv/server/server_config.hpp>
#include <sockserv/io/socket.hpp>
#include <sockserv/io/waker.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>

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
    /// with a stop_timeout, cuts off the connection a sync-mode handler still serves by then.
    /// Idempotent. Thread safe. Not async-signal-safe: use request_shutdown() there.
    void shutdown();
    /// Asks serve_forever to return; never blocks. Async-signal-safe, thread safe, and from a
    /// handler in a forked child it stops the parent's loop (the flag lives in shared memory).
    void request_shutdown() noexcept;
    /// True from a shutdown request until serving starts again, through server_close(): a handler
    /// keeping a connection alive ends it after the current response. Thread safe, and true in a
    /// forked child of a stopping server too.
    bool stopping() const noexcept;
    /// Waits up to config().timeout for one request and handles it; on time-out calls
    /// handle_timeout() and returns false.
    bool handle_request();
    /// Releases the socket (a Unix socket path is unlinked). Mixins also wait for their workers.
    /// Idempotent.
    virtual void server_close();

    /// The bound address, port 0 resolved to the real port.
    const Address& server_address() const noexcept { return server_address_; }
    const ServerConfig& config() const noexcept { return config_; }
    /// The listening (stream) or bound (datagram) socket. Datagram handlers reply through it.
    const Socket& socket() const noexcept { return socket_; }
    int fileno() const noexcept { return socket_.fd(); }
    /// Watches another fd in the serving loop (an admin console on stdin, a signalfd): on_readable
    /// runs in the serving thread — the parent, in fork mode — whenever fd is readable or hung up,
    /// until remove_reader(fd). An exception from it is reported on stderr; serving goes on. The fd
    /// stays the caller's. Call before serving or from the serving thread (a callback included).
    void add_reader(int fd, std::function<void()> on_readable);
    /// Stops watching fd; safe from its own callback.
    void remove_reader(int fd) noexcept;

    /// Bind the socket (Python's server_bind); called by the constructor unless !bind_and_activate.
    virtual void server_bind();
    /// Listen, for stream servers (Python's server_activate).
    virtual void server_activate() {}

    // ---- Hooks. Each may be overridden. ----

    /// Return false to refuse the request; it is still closed.
    virtual bool verify_request(Request& request);
    /// Runs the request: sync here; mixins hand it to a thread or child. May move from request.
    virtual void process_request(Request& request);
    /// Builds the handler for the request and runs it (the transport template does this).
    virtual void finish_request(Request& request) = 0;
    /// An exception escaped while handling request. Default: a line on stderr, except for peers
    /// that went away (EPIPE, ECONNRESET, timeouts), which are normal. Must not throw.
    virtual void handle_error(const Request& request, std::exception_ptr error) noexcept;
    /// handle_request() waited config().timeout for nothing.
    virtual void handle_timeout() {}
    /// Called after every wake-up of serve_forever (and every service_interval when set).
    virtual void service_actions() {}
    /// Ends a request after handling: stream servers half-close, then close_request().
    virtual void shutdown_request(Request& request);
    /// Releases the request's resources (the connection fd).
    virtual void close_request(Request& request);

protected:
    BaseServer(Address server_address, ServerConfig config, int socket_type);

    /// Gets the next request from the socket, or nullopt if there was none after all.
    virtual std::optional<Request> get_request() = 0;
    /// False pauses polling the socket (ForkingMixIn at max_children, accept back-off).
    virtual bool accepting() const { return true; }
    /// Called in a forked child before it handles its request. Stream servers close the listener.
    virtual void after_fork_in_child() {}
    /// finish_request(), an exception going to handle_error(), never throwing; false when one did,
    /// unless it was only the peer going away (a fork child's exit status: non-zero is logged).
    /// The body of every worker thread and child process.
    bool finish_request_guarded(Request& request) noexcept;
    /// Whether another request is waiting, asked between the requests of one wake-up. The
    /// default polls the socket: Linux's accept(2) allocates the new socket before it looks at
    /// the queue, so an accept that finds nothing costs a socket and a file (4.4 us here) where a
    /// poll costs 0.4 us (scripts/bench/syscall_cost). Datagram servers just try (a recvfrom that
    /// finds nothing is cheap).
    virtual bool request_waiting();
    /// How long accepting() will stay false on its own, if it will (the accept back-off).
    virtual std::optional<std::chrono::milliseconds> accept_pause() const { return std::nullopt; }
    /// How soon service_actions() must run again although nothing may wake the loop (a mixin with
    /// cleanup still pending: threads that have finished but not yet exited).
    virtual std::optional<std::chrono::milliseconds> service_due() const { return std::nullopt; }

    /// A mode that runs requests on loops of its own (event mode) replaces serve_forever's loop:
    /// true here makes serve_forever call run_serving_loop() instead.
    virtual bool replaces_serving_loop() const noexcept { return false; }
    /// That loop: handles requests until shutdown_requested().
    virtual void run_serving_loop() {}
    /// One request: get_request, verify_request, process_request. False when there was none.
    bool handle_request_noblock();
    bool shutdown_requested() const noexcept;
    /// The fds add_reader() watches, and a number that changes whenever that set does.
    std::vector<int> reader_fds() const;
    std::uint64_t readers_version() const noexcept { return readers_version_; }
    /// Runs fd's callback (nothing if it is no longer watched); reports its exceptions.
    void run_reader(int fd) noexcept;

    const Waker& waker() const noexcept { return waker_; }
    Socket& mutable_socket() noexcept { return socket_; }
    /// True in the process that created the server (false in forked children).
    bool in_owner_process() const noexcept;

private:
    // Polls the socket (when accepting) and the waker. Returns true when the socket is readable.
    bool wait_for_request(std::optional<std::chrono::milliseconds> timeout);
    // serve_forever's loop, in a frame of its own (see the fork point alignment there).
    [[gnu::noinline]] void serve_until_shutdown();

    Address server_address_;
    ServerConfig config_;
    int socket_type_;
    Socket socket_;
    std::string bound_path_;  // a Unix socket path we created, unlinked by server_close()
    Waker waker_;
    // A MAP_SHARED page: a forked child's request_shutdown() reaches the parent, and the counter
    // the parent bumps per request costs no copy-on-write fault after each fork (a private page
    // written after a fork is copied first).
    struct Shared {
        std::atomic<int> shutdown{0};
        std::atomic<int> stopping{0};
        std::uint64_t next_sequence = 0;  // also: the requests this server has handled
    };
    Shared* shared_ = nullptr;
    int owner_pid_;

    struct Reader {
        int fd;
        std::function<void()> on_readable;
    };
    std::vector<Reader> readers_;
    std::uint64_t readers_version_ = 0;
    // Used only by a program with more readers than fit on wait_for_request's stack; kept across
    // calls, so no allocation per wake-up even then.
    std::vector<pollfd> poll_fds_;
    std::vector<int> ready_readers_;

    std::mutex serving_mutex_;
    std::condition_variable serving_done_;
    bool serving_ = false;
    std::thread::id serving_thread_;
    // The connection a sync-mode handler is serving on the serving thread (-1: none), so that
    // shutdown() from another thread can cut it off at stop_timeout. Under serving_mutex_: set and
    // cleared around the handler, before the fd is closed, so a cut never hits a reused fd number.
    int inline_connection_ = -1;
    void record_inline_connection(int fd);
    bool closed_ = false;
};

namespace detail {
/// Throws std::invalid_argument unless address is of the family the transport `kind` takes.
void require_family(const Address& address, bool want_unix, const char* kind);
}  // namespace detail

}  // namespace sockserv
