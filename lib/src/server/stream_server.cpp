#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/base/proxy_header.hpp>
#include <sockserv/io/tls_stream.hpp>
#include <sockserv/io/waiting.hpp>
#include <sockserv/server/tcp_server.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>

namespace sockserv {


namespace {
constexpr std::chrono::milliseconds first_backoff{10};
constexpr std::chrono::milliseconds max_backoff{1000};
}  // namespace

StreamServer::StreamServer(Address server_address, ServerConfig config, const char* kind, bool want_unix)
    : BaseServer((detail::require_family(server_address, want_unix, kind), std::move(server_address)),
                 std::move(config), SOCK_STREAM) {
    if (this->config().bind_and_activate) {
        server_bind();
        server_activate();
    }
}

void StreamServer::server_activate() { mutable_socket().listen(config().request_queue_size); }

std::optional<Request> StreamServer::get_request() {
    Request request;
    std::error_code error;
    request.connection = mutable_socket().accept(&request.client_address, error);
    if (error) {
        if (!is_out_of_resources(error)) throw std::system_error(error, "accept on " + server_address().to_string());
        // Out of fds: the pending connection stays in the backlog and poll() would report it again
        // at once, forever (Python's busy loop). Stop polling the listener for a while instead;
        // the connection is served when fds come back, not dropped.
        backoff_ = backoff_.count() == 0 ? first_backoff : std::min(backoff_ * 2, max_backoff);
        paused_until_ = std::chrono::steady_clock::now() + backoff_;
        log("accept on ", server_address().to_string(), ": ", error.message(), "; pausing accept for ",
            std::to_string(backoff_.count()), " ms");
        return std::nullopt;
    }
    if (!request.connection) return std::nullopt;
    request.received = std::chrono::steady_clock::now();
    // Written only when it changes: the server object's page is copy-on-write after each fork.
    if (backoff_.count() != 0) {
        backoff_ = std::chrono::milliseconds{0};
        paused_until_ = {};
    }
    return request;
}

bool StreamServer::accepting() const {
    // Asked every round of an event loop: no clock read unless an accept back-off is on.
    return paused_until_ == std::chrono::steady_clock::time_point{} || std::chrono::steady_clock::now() >= paused_until_;
}

std::optional<std::chrono::milliseconds> StreamServer::accept_pause() const {
    if (paused_until_ == std::chrono::steady_clock::time_point{}) return std::nullopt;
    const auto now = std::chrono::steady_clock::now();
    if (now >= paused_until_) return std::nullopt;
    return std::chrono::ceil<std::chrono::milliseconds>(paused_until_ - now);
}

[[gnu::hot]] void StreamServer::after_fork_in_child() {
    // The child serves one connection; holding the listener would keep the port open after the
    // parent closed it. A plain close: the parent still listens on it. The fd only, not the Socket
    // object: writing to the server object would copy its page (a fault per request), and a child
    // _exits without running destructors, so nothing closes it twice.
    ::close(socket().fd());
}

namespace {

// Closing a socket with unread input makes the kernel answer with RST, and an RST that reaches the
// client first destroys the response it has not read yet. Drops what already arrived (no waiting:
// a handler that expects more must read it, or linger, itself). Apart from shutdown_request, so
// that its sink is not in that frame: a frame over a page is probed at entry, and on a fiber's
// stack that had left the cache (thousands of connections) the probe was a miss on every close.
[[gnu::noinline]] void drop_unread(int fd) noexcept {
    char sink[4096];
    for (int i = 0; i < 64; ++i) {
        const ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n <= 0) break;
    }
}

}  // namespace

[[gnu::hot]] void StreamServer::shutdown_request(Request& request) {
    if (request.stream) request.stream->finish();
    // On a fiber whose last read found the socket empty, with no edge since: nothing is unread, so
    // a close cannot answer with RST, and no other process holds the fd (event mode forks no
    // child per request): the close alone sends the FIN after everything written. Two system
    // calls fewer per connection; nginx closes so too.
    if (const detail::Suspender* fiber = detail::fiber_suspender();
        fiber && request.connection && fiber->known_drained(request.connection.fd())) {
        close_request(request);
        return;
    }
    // Half-close first, so the client sees EOF after everything we wrote, even if another process
    // (a child forked later for another request) still shares the fd.
    request.connection.shutdown(SHUT_WR);
    drop_unread(request.connection.fd());
    close_request(request);
}

[[gnu::hot]] void StreamServer::close_request(Request& request) { request.connection.close(); }

bool StreamServer::start_connection(Request& request) {
    if (config().proxy_protocol.enabled && !read_proxy_header(request)) return false;
    if (config().tls) return start_tls(request);
    return true;
}

bool StreamServer::start_tls(Request& request) {
    const tls::ServerContext& context = *config().tls;
    const auto deadline = std::chrono::steady_clock::now() + context.settings().handshake_timeout;
    try {
        request.stream = tls::TlsStream::accept(context, request.connection, deadline);
        return true;
    } catch (const tls::HandshakeError& error) {
        // A probe that connects and closes (a port check, a health check) is normal life.
        if (!error.quiet() || config().verbose)
            log("TLS handshake with ", request.client_address.to_string(), ": ", error.what(), "; closed");
        return false;
    }
}

bool StreamServer::read_proxy_header(Request& request) {
    const ProxyProtocolConfig& proxy = config().proxy_protocol;
    const std::string peer = request.client_address.to_string();
    // A Unix socket's peer is on this machine, and trusted as the path's permissions allow.
    bool trusted = request.client_address.is_unix();
    for (const Network& network : proxy.trusted) trusted = trusted || network.contains(request.client_address);
    if (!trusted) {
        log("PROXY header expected from ", peer, ", which no --proxy-from network holds: refused");
        return false;
    }
    // Bytes are peeked and taken only while they are a header's: a prefix (need_more) is all
    // header, so it is taken and the wait is for more; at the end exactly the rest is taken, and
    // the stream's own bytes stay in the socket for the handler.
    const auto deadline = std::chrono::steady_clock::now() + proxy.deadline;
    std::string header;
    char buffer[proxy::max_size];
    const int fd = request.connection.fd();
    try {
        for (;;) {
            if (!wait_readable(fd, deadline)) {
                log("PROXY header from ", peer, ": none within ", std::to_string(proxy.deadline.count()),
                    " ms: closed");
                return false;
            }
            const std::size_t n = request.connection.recv(buffer, proxy::max_size - header.size(), MSG_PEEK);
            if (n == 0) {
                log("PROXY header from ", peer, ": the connection closed before its end");
                return false;
            }
            std::string seen = header;
            seen.append(buffer, n);
            const proxy::Parsed parsed = proxy::parse(seen);
            if (parsed.status == proxy::Status::invalid) {
                log("PROXY header from ", peer, ": ", parsed.error, "; closed");
                return false;
            }
            const std::size_t take = parsed.status == proxy::Status::complete ? parsed.header.size - header.size() : n;
            std::size_t taken = 0;
            while (taken < take) taken += request.connection.recv(buffer + taken, take - taken);
            header.append(buffer, take);
            if (parsed.status == proxy::Status::need_more) continue;
            if (parsed.header.proxied) request.client_address = parsed.header.source;
            return true;
        }
    } catch (const std::system_error& error) {
        log("PROXY header from ", peer, ": ", error.what(), "; closed");
        return false;
    }
}

}  // namespace sockserv
