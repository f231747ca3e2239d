#pragma once
// Datagram transports: UDPServer<Handler> (IPv4/IPv6) and UnixDatagramServer<Handler> (AF_UNIX).

#include <sockserv/server/base_server.hpp>
#include <sockserv/server/handler_server.hpp>

#include <string>

namespace sockserv {

/// The non-template part of every datagram server: one recvfrom per request, nothing to close.
class DatagramServer : public BaseServer {
public:
    static constexpr bool is_datagram = true;

    void shutdown_request(Request& request) override { close_request(request); }
    void close_request(Request&) override {}

protected:
    DatagramServer(Address server_address, ServerConfig config, const char* kind, bool want_unix);
    /// recvfrom() with MSG_TRUNC, so an oversized datagram arrives marked truncated().
    std::optional<Request> get_request() override;
    /// Always: a recvfrom that finds nothing costs less than asking first.
    bool request_waiting() override { return true; }

private:
    std::string buffer_;
};

namespace detail {
class UDPTransport : public DatagramServer {
protected:
    UDPTransport(Address a, ServerConfig c) : DatagramServer(std::move(a), std::move(c), "UDPServer", false) {}
};
class UnixDatagramTransport : public DatagramServer {
protected:
    UnixDatagramTransport(Address a, ServerConfig c)
        : DatagramServer(std::move(a), std::move(c), "UnixDatagramServer", true) {}
};
}  // namespace detail

template <class Handler>
class UDPServer : public HandlerServer<detail::UDPTransport, Handler> {
    static_assert(!std::derived_from<Handler, StreamRequestHandler>,
                  "sockserv: UDPServer needs a DatagramRequestHandler, not a StreamRequestHandler");

public:
    using HandlerServer<detail::UDPTransport, Handler>::HandlerServer;
};

template <class Handler>
class UnixDatagramServer : public HandlerServer<detail::UnixDatagramTransport, Handler> {
    static_assert(!std::derived_from<Handler, StreamRequestHandler>,
                  "sockserv: UnixDatagramServer needs a DatagramRequestHandler, not a StreamRequestHandler");

public:
    using HandlerServer<detail::UnixDatagramTransport, Handler>::HandlerServer;
};

}  // namespace sockserv
