#pragma once
// Request: what the server got from a client, handed down the lifecycle to one handler.

#include <sockserv/base/address.hpp>
#include <sockserv/io/byte_stream.hpp>
#include <sockserv/io/socket.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace sockserv {

struct Request {
    /// Stream servers: the accepted connection, owned by the request. Datagram servers: empty.
    Socket connection;
    /// Stream servers: the connection's bytes when they are not the socket's own (TLS), set where
    /// the connection starts, on the request's own thread, child or fiber. Empty: plain.
    std::unique_ptr<ByteStream> stream;
    /// Datagram servers: the payload, at most max_packet_size bytes.
    std::string packet;
    /// Datagram servers: the datagram's real size on the wire.
    std::size_t packet_size = 0;
    Address client_address;
    /// The request's number in arrival order (0, 1, 2, ... per server), given by the serving loop
    /// to every request it passes to process_request(). Concurrent handlers restore arrival order
    /// with it (ArrivalOrder).
    std::uint64_t sequence = 0;
    /// When it arrived: datagrams, as the kernel stamped them on arrival (SO_TIMESTAMPNS) — not
    /// when the loop got round to reading them, which in sync mode may be much later; connections,
    /// when accepted.
    std::chrono::steady_clock::time_point received{};
    /// What the handler received and sent (stream handlers' rfile()/wfile(); a datagram handler's
    /// replies), for the metrics.
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_sent = 0;

    /// A datagram larger than max_packet_size: packet holds only its head. Never silently cut.
    bool truncated() const noexcept { return packet_size > packet.size(); }
};

}  // namespace sockserv
