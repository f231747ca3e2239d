#include <sockserv/base_server.hpp>
#include <sockserv/request_handler.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>

namespace sockserv {

[[gnu::hot]] void BaseRequestHandler::run() {
    setup();
    try {
        handle();
    } catch (...) {
        finish();
        throw;
    }
    finish();
}

[[gnu::hot]] void StreamRequestHandler::setup() {
    Socket& socket = connection();
    if (const auto limit = timeout()) socket.set_timeout(limit);
    if (disable_nagle_algorithm() && client_address().is_inet()) socket.set_option(IPPROTO_TCP, TCP_NODELAY, 1);
}

[[gnu::hot]] void StreamRequestHandler::finish() {
    try {
        wfile_.flush();
    } catch (const std::system_error&) {
        // The peer went away (or the handler is unwinding from that very error): nothing to do.
    }
}

void DatagramRequestHandler::finish() {
    if (!reply_.empty()) socket().sendto(reply_, client_address());
}

void DatagramRequestHandler::sendto(std::string_view data, const Address& to) { socket().sendto(data, to); }

const Socket& DatagramRequestHandler::socket() noexcept { return server().socket(); }

}  // namespace sockserv
