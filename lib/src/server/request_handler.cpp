#include <sockserv/server/base_server.hpp>
#include <sockserv/server/request_handler.hpp>

#include <exception>

#include <netinet/in.h>
#include <netinet/tcp.h>

namespace sockserv {

[[gnu::hot]] void BaseRequestHandler::run() {
    setup();
    // finish() runs after handle() however it ends (Python's try/finally), from a destructor rather
    // than a catch and a rethrow: a rethrow is a second unwind, paid by every client that resets.
    // If finish() throws while handle()'s exception is on its way, handle()'s is the one that
    // goes on (it says what went wrong first); finish()'s is dropped.
    struct Finally {
        BaseRequestHandler& handler;
        int exceptions = std::uncaught_exceptions();
        ~Finally() noexcept(false) {
            if (std::uncaught_exceptions() == exceptions) {
                handler.finish();
                return;
            }
            try {
                handler.finish();
            } catch (...) {
            }
        }
    } finally{*this};
    handle();
}

StreamRequestHandler::~StreamRequestHandler() {
    request().bytes_received = rfile_.bytes_received();
    request().bytes_sent = wfile_.bytes_sent();
}

[[gnu::hot]] void StreamRequestHandler::setup() {
    Socket& socket = connection();
    if (const auto limit = timeout()) socket.set_timeout(limit);
    // Unless every connection inherited it from the listener (ServerConfig::tcp_nodelay).
    if (disable_nagle_algorithm() && client_address().is_inet() && !server().config().tcp_nodelay)
        socket.set_option(IPPROTO_TCP, TCP_NODELAY, 1);
}

[[gnu::hot]] void StreamRequestHandler::finish() {
    // A plain flush, though a close follows: a subclass may still do slow work after this
    // (flush_before_close would hold the bytes back meanwhile); a handler that knows its last
    // answer sends it so itself.
    try {
        wfile_.flush();
    } catch (const std::system_error&) {
        // The peer went away (or the handler is unwinding from that very error): nothing to do.
    }
}

void StreamRequestHandler::lingering_close(std::chrono::milliseconds wait, std::size_t max_dropped) {
    try {
        wfile_.flush_before_close();  // the half-close follows at once
        stream().finish();
        connection().shutdown(SHUT_WR);
        const auto deadline = std::chrono::steady_clock::now() + wait;
        for (std::size_t dropped = 0; dropped < max_dropped;) {
            rfile_.consume(rfile_.buffered().size());
            const std::size_t n = rfile_.fill_before(deadline);
            if (n == 0) break;  // the client closed: it has read our answer
            dropped += n;
        }
    } catch (const std::system_error&) {
        // Gone, reset or out of time: nothing more to do for this client.
    }
}

void DatagramRequestHandler::finish() {
    if (reply_.empty()) return;
    socket().sendto(reply_, client_address());
    request().bytes_sent += reply_.size();
}

void DatagramRequestHandler::sendto(std::string_view data, const Address& to) {
    socket().sendto(data, to);
    request().bytes_sent += data.size();
}

const Socket& DatagramRequestHandler::socket() noexcept { return server().socket(); }

}  // namespace sockserv
