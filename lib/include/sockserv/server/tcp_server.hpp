#pragma once
// Stream transports: TCPServer<Handler> (IPv4/IPv6) and UnixStreamServer<Handler> (AF_UNIX).

#include <sockserv/server/base_server.hpp>
#include <sockserv/server/handler_server.hpp>

#include <chrono>
#include <optional>

namespace sockserv {

/// The non-template part of every stream server: listen, accept, half-close.
class StreamServer : public BaseServer {
public:
    static constexpr bool is_datagram = false;

    void server_activate() override;
    /// Half-closes (SHUT_WR, so the peer sees EOF after all our data), then close_request().
    void shutdown_request(Request& request) override;
    void close_request(Request& request) override;

    /// Where a connection starts, on the request's own thread, child or fiber (before the handler):
    /// with proxy_protocol on, refuses a peer that is not trusted and reads the PROXY header —
    /// exactly its bytes, within its deadline — making client_address the client it names; with
    /// tls, the handshake, making request.stream the TLS stream. False: the connection is to be
    /// closed (said in the log).
    bool start_connection(Request& request);

protected:
    /// kind names the server in error messages; want_unix says which address family it takes.
    StreamServer(Address server_address, ServerConfig config, const char* kind, bool want_unix);

    /// accept(). EMFILE/ENFILE/ENOBUFS/ENOMEM neither kill the server nor spin the loop: they are
    /// logged and accepting pauses for a back-off that doubles up to one second.
    std::optional<Request> get_request() override;
    bool accepting() const override;
    std::optional<std::chrono::milliseconds> accept_pause() const override;
    void after_fork_in_child() override;

private:
    bool read_proxy_header(Request& request);
    bool start_tls(Request& request);

    std::chrono::steady_clock::time_point paused_until_{};
    std::chrono::milliseconds backoff_{0};
};

namespace detail {
class TCPTransport : public StreamServer {
protected:
    TCPTransport(Address a, ServerConfig c) : StreamServer(std::move(a), std::move(c), "TCPServer", false) {}
};
class UnixStreamTransport : public StreamServer {
protected:
    UnixStreamTransport(Address a, ServerConfig c)
        : StreamServer(std::move(a), std::move(c), "UnixStreamServer", true) {}
};
}  // namespace detail

template <class Handler>
class TCPServer : public HandlerServer<detail::TCPTransport, Handler> {
    static_assert(!std::derived_from<Handler, DatagramRequestHandler>,
                  "sockserv: TCPServer needs a StreamRequestHandler, not a DatagramRequestHandler");

public:
    using HandlerServer<detail::TCPTransport, Handler>::HandlerServer;
};

template <class Handler>
class UnixStreamServer : public HandlerServer<detail::UnixStreamTransport, Handler> {
    static_assert(!std::derived_from<Handler, DatagramRequestHandler>,
                  "sockserv: UnixStreamServer needs a StreamRequestHandler, not a DatagramRequestHandler");

public:
    using HandlerServer<detail::UnixStreamTransport, Handler>::HandlerServer;
};

}  // namespace sockserv
