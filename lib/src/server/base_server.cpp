#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/server/base_server.hpp>
#include <sockserv/server/server_metrics.hpp>
#include <sockserv/server/signals.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace sockserv {

namespace {

// What shutdown() from another thread drains: the request the serving thread runs itself.
class ServingThread final : public RunningRequests {
public:
    explicit ServingThread(StopState& stop) : stop_(stop) {}
    bool wait_idle_until(std::chrono::steady_clock::time_point deadline) override { return stop_.wait_served(deadline); }
    void unblock_connections(bool cut_off) noexcept override { stop_.unblock_connection(cut_off); }
    void join() override { stop_.wait_served(std::nullopt); }

private:
    StopState& stop_;
};

}  // namespace

BaseServer::BaseServer(Address server_address, ServerConfig config, int socket_type)
    : server_address_(std::move(server_address)),
      config_(std::move(config)),
      socket_type_(socket_type),
      socket_(config_.inherited_socket >= 0 ? Socket::duplicate_of(config_.inherited_socket, server_address_.is_unix(), socket_type)
                                            : Socket(server_address_.family(), socket_type)),
      owner_pid_(::getpid()) {
    signals::ignore_sigpipe();
}

BaseServer::~BaseServer() { BaseServer::server_close(); }

bool BaseServer::in_owner_process() const noexcept { return ::getpid() == owner_pid_; }

void BaseServer::server_bind() {
    if (config_.inherited_socket >= 0) {
        // Bound already (by a pool's master, or systemd): only read back where.
        server_address_ = socket_.local_address();
        socket_.set_nonblocking(true);
        set_inherited_options();
        return;
    }
    const bool inet = server_address_.is_inet();
    const int on = 1;
    if (inet && socket_type_ == SOCK_STREAM && config_.allow_reuse_address)
        socket_.set_option(SOL_SOCKET, SO_REUSEADDR, on);
    if (inet && config_.allow_reuse_port) socket_.set_option(SOL_SOCKET, SO_REUSEPORT, on);
    if (server_address_.family() == AF_INET6) {
        const int v6only = config_.dual_stack ? 0 : 1;
        socket_.set_option(IPPROTO_IPV6, IPV6_V6ONLY, v6only);
    }
    set_inherited_options();
    socket_.bind(server_address_);
    if (server_address_.is_unix()) {
        const std::string path = server_address_.path();
        if (!path.empty() && path[0] != '\0') bound_path_ = path;
    } else {
        server_address_ = socket_.local_address();  // port 0 -> the port the kernel chose
    }
    // The loop only reads after a wait says so; non-blocking makes a request that vanished in
    // between (a reset connection, a datagram taken by a sibling) cost nothing instead of a hang.
    socket_.set_nonblocking(true);
}

void BaseServer::set_inherited_options() {
    if (socket_type_ != SOCK_STREAM) return;
    if (config_.tcp_nodelay && !server_address_.is_unix()) socket_.set_option(IPPROTO_TCP, TCP_NODELAY, 1);
    if (config_.send_buffer_size > 0) socket_.set_option(SOL_SOCKET, SO_SNDBUF, config_.send_buffer_size);
    if (config_.defer_accept && server_address_.is_inet()) socket_.set_option(IPPROTO_TCP, TCP_DEFER_ACCEPT, 1);
}

void BaseServer::server_close() {
    if (closed_) return;
    closed_ = true;
    stop_.closing();
    socket_.close();
    // Only the process that bound the path removes it: a forked child closing its copy must not.
    if (!bound_path_.empty() && in_owner_process()) ::unlink(bound_path_.c_str());
}

namespace detail {
void require_family(const Address& address, bool want_unix, const char* kind) {
    if (want_unix ? !address.is_unix() : !address.is_inet())
        throw std::invalid_argument(std::string(kind) + " needs " +
                                    (want_unix ? "a Unix socket path" : "an IPv4 or IPv6 address") + ", not " +
                                    address.to_string());
}
}  // namespace detail

// ---- The lifecycle ----

void BaseServer::serve_forever() {
    const StopState::Serving serving(stop_);
    if (!shutdown_requested()) serving_loop().serve(*this);
}

bool BaseServer::handle_request() {
    using Clock = std::chrono::steady_clock;
    const auto deadline = config_.timeout ? std::optional(Clock::now() + *config_.timeout) : std::nullopt;
    for (;;) {
        std::optional<std::chrono::milliseconds> remaining;
        if (deadline) {
            remaining = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
            if (remaining->count() <= 0) {
                handle_timeout();
                return false;
            }
        }
        if (poll_loop_.wait(*this, remaining) && handle_request_noblock()) {
            service_actions();
            return true;
        }
        service_actions();  // woken by the waker (a child exited, say): keep waiting
    }
}

void BaseServer::handle_ready_requests(int batch) {
    for (int i = 0; i < batch && !shutdown_requested() && accepting(); ++i)
        if (!handle_request_noblock() || i + 1 == batch || !request_waiting()) break;
}

std::optional<std::chrono::milliseconds> BaseServer::next_service() const {
    std::optional<std::chrono::milliseconds> soonest = config_.service_interval;
    for (const auto due : {accept_pause(), service_due()})
        if (due && (!soonest || *due < *soonest)) soonest = due;
    return soonest;
}

bool BaseServer::handle_request_noblock() {
    std::optional<Request> request = get_request();
    if (!request) return false;
    try {
        if (verify_request(*request)) {
            const std::uint64_t served = ++*handled_;
            if (config_.metrics) (is_datagram_server() ? config_.metrics->datagrams_received : config_.metrics->connections_accepted).add();
            request->sequence = config_.request_numbers ? config_.request_numbers->fetch_add(1) : served - 1;
            if (config_.request_tally) config_.request_tally->fetch_add(1, std::memory_order_relaxed);
            if (config_.max_requests != 0 && served == config_.max_requests) request_shutdown();
            process_request(*request);
            return true;
        }
    } catch (...) {
        handle_error(*request, std::current_exception());
    }
    shutdown_request(*request);
    return true;
}

bool BaseServer::verify_request(Request&) { return true; }

void BaseServer::note_accepting(bool accepting) noexcept {
    if (paused_ == !accepting || !config_.metrics) return;
    paused_ = !accepting;
    config_.metrics->accept_paused.add(paused_ ? 1 : -1);
    if (paused_) config_.metrics->paused(accept_limit());
}

bool BaseServer::request_waiting() {
    pollfd entry{socket_.fd(), POLLIN, 0};
    return ::poll(&entry, 1, 0) > 0;
}

void BaseServer::process_request(Request& request) {
    // With a stop_timeout, shutdown() from another thread may cut this handler's client off; the
    // record is cleared before the connection is closed, so a cut never hits a reused fd number.
    {
        struct Serving {
            StopState* stop;
            ~Serving() {
                if (stop) stop->serving_connection(-1);
            }
        } serving{config_.stop_timeout && request.connection ? &stop_ : nullptr};
        if (serving.stop) stop_.serving_connection(request.connection.fd());
        // Counted as in the other modes (an error goes to handle_error there, as it would from
        // handle_request_noblock's catch); without metrics, nothing between the call and the handler.
        if (config_.metrics) finish_request_guarded(request);
        else finish_request(request);
    }
    shutdown_request(request);
}

[[gnu::hot]] bool BaseServer::finish_request_guarded(Request& request) noexcept {
    if (config_.metrics) return finish_request_counted(request, *config_.metrics);
    std::exception_ptr error;
    const ServerMetrics::Ending ending = finish_request_caught(request, error);
    return !error || report(request, error, ending);
}

bool BaseServer::finish_request_counted(Request& request, const ServerMetrics& metrics) noexcept {
    const bool stream = !is_datagram_server();
    if (stream) metrics.connections_open.add(1);
    const auto start = std::chrono::steady_clock::now();
    std::exception_ptr error;
    const ServerMetrics::Ending ending = finish_request_caught(request, error);
    const bool ok = !error || report(request, error, ending);
    metrics.request_ended(ending, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    metrics.bytes_received.add(stream ? request.bytes_received : request.packet_size);
    metrics.bytes_sent.add(request.bytes_sent);
    if (stream) metrics.connections_open.sub(1);
    return ok;
}

[[gnu::hot]] ServerMetrics::Ending BaseServer::finish_request_caught(Request& request, std::exception_ptr& error) noexcept {
    using Ending = ServerMetrics::Ending;
    try {
        finish_request(request);
        return Ending::served;
    } catch (const TimeoutError&) {
        error = std::current_exception();
        return Ending::timeout;
    } catch (const std::system_error& e) {
        error = std::current_exception();
        return is_peer_gone(e.code()) ? Ending::peer_gone : Ending::failed;
    } catch (...) {
        error = std::current_exception();
        return Ending::failed;
    }
}

bool BaseServer::report(const Request& request, const std::exception_ptr& error, ServerMetrics::Ending ending) noexcept {
    // A time-out is a peer gone quiet too (is_peer_gone says so of ETIMEDOUT); metrics count it apart.
    const bool peer_gone = ending == ServerMetrics::Ending::timeout || ending == ServerMetrics::Ending::peer_gone;
    const ClassifiedError classified(error, peer_gone);
    handle_error(request, error);
    return peer_gone;
}

void BaseServer::handle_error(const Request& request, std::exception_ptr error) noexcept {
    if (!config_.verbose && is_peer_gone(error)) return;
    try {
        log("Exception occurred during processing of request from ", request.client_address.to_string(), ": ",
            describe(error));
    } catch (...) {
    }
}

void BaseServer::shutdown_request(Request& request) { close_request(request); }

void BaseServer::close_request(Request& request) { request.connection.close(); }

// ---- Stopping ----

void BaseServer::shutdown() {
    request_shutdown();
    // From the serving thread (a handler it runs, or a forked child) waiting would deadlock.
    if (!stop_.serving_elsewhere()) return;
    ServingThread serving(stop_);
    sockserv::drain(serving, config_.close_grace, config_.stop_timeout);
}

void BaseServer::drain_requests(RunningRequests& running) {
    sockserv::drain(running, config_.close_grace, config_.stop_timeout);
}

}  // namespace sockserv
