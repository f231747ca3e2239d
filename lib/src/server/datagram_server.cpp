#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/server/udp_server.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace sockserv {

DatagramServer::DatagramServer(Address server_address, ServerConfig config, const char* kind, bool want_unix)
    : BaseServer((detail::require_family(server_address, want_unix, kind), std::move(server_address)),
                 std::move(config), SOCK_DGRAM) {
    if (this->config().bind_and_activate) server_bind();
    // Each datagram's arrival time (Request::received), stamped by the kernel.
    const int on = 1;
    socket().set_option(SOL_SOCKET, SO_TIMESTAMPNS, on);
}

std::optional<Request> DatagramServer::get_request() {
    Request request;
    // One buffer reused for every datagram; the request gets a copy of just what arrived.
    buffer_.resize(config().max_packet_size);
    try {
        request.packet_size =
            mutable_socket().recvfrom(buffer_.data(), buffer_.size(), request.client_address, request.received);
    } catch (const TimeoutError&) {
        return std::nullopt;  // EAGAIN: a spurious wake-up, nothing to read
    } catch (const std::system_error& error) {
        // A failed recvfrom concerns one datagram (ICMP errors reported late, memory pressure);
        // the server must go on with the next.
        if (config().verbose) log(error.what());
        return std::nullopt;
    }
    request.packet.assign(buffer_.data(), std::min(request.packet_size, buffer_.size()));
    return request;
}

}  // namespace sockserv
