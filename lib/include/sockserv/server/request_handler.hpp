#pragma once
// Request handlers: the classes users subclass. The server builds one per request and calls run():
// setup(), handle(), finish() — finish() runs even when handle() throws.

#include <sockserv/server/request.hpp>
#include <sockserv/io/stream.hpp>

#include <chrono>
#include <concepts>
#include <optional>
#include <string>
#include <string_view>

namespace sockserv {

class BaseServer;

class BaseRequestHandler {
public:
    BaseRequestHandler(Request& request, BaseServer& server) noexcept : request_(request), server_(server) {}
    BaseRequestHandler(const BaseRequestHandler&) = delete;
    BaseRequestHandler& operator=(const BaseRequestHandler&) = delete;
    virtual ~BaseRequestHandler() = default;

    /// May be overridden: runs before handle().
    virtual void setup() {}
    /// May be overridden: serves the request. Exceptions go to the server's handle_error().
    virtual void handle() {}
    /// May be overridden: runs after handle(), even when it threw. An exception from finish() goes
    /// to handle_error() too, unless handle() threw first: then handle()'s is the one reported.
    virtual void finish() {}

    /// Called by the server: setup(), handle(), finish().
    void run();

    Request& request() noexcept { return request_; }
    const Request& request() const noexcept { return request_; }
    const Address& client_address() const noexcept { return request_.client_address; }
    BaseServer& server() noexcept { return server_; }

private:
    Request& request_;
    BaseServer& server_;
};

/// A connection: rfile() and wfile() over the accepted socket.
class StreamRequestHandler : public BaseRequestHandler {
public:
    using BaseRequestHandler::BaseRequestHandler;
    /// Leaves what rfile() and wfile() moved in the request (the metrics).
    ~StreamRequestHandler() override;

    void setup() override;
    /// Flushes wfile() (quietly: the peer may be gone).
    void finish() override;

    SocketReader& rfile() noexcept { return rfile_; }
    SocketWriter& wfile() noexcept { return wfile_; }
    Socket& connection() noexcept { return request().connection; }
    /// What rfile() and wfile() read and write: the socket's bytes, or the stream the server
    /// opened on them (TLS).
    ByteStream& stream() noexcept { return request().stream ? *request().stream : plain_; }

    /// Before closing on a client that may still be sending (a refused request, an upload cut
    /// short): flush, half-close, then read and drop its input until it closes too, for at most
    /// `wait` and `max_dropped` bytes. Closing with unread input makes the kernel send RST, and an
    /// RST can destroy the answer before the client has read it (nginx's lingering close).
    void lingering_close(std::chrono::milliseconds wait = std::chrono::seconds(2), std::size_t max_dropped = 16 << 20);

protected:
    /// May be overridden: receive/send timeout for the connection (SO_RCVTIMEO/SO_SNDTIMEO); a read
    /// that waits longer throws TimeoutError. nullopt: wait forever.
    virtual std::optional<std::chrono::milliseconds> timeout() const { return std::nullopt; }
    /// May be overridden: TCP_NODELAY on the connection.
    virtual bool disable_nagle_algorithm() const { return false; }

private:
    SocketStream plain_{request().connection};
    SocketWriter wfile_{stream()};
    SocketReader rfile_{stream(), &wfile_};
};

/// A datagram: packet() in, reply() out through the server's socket. Nothing is sent unless the
/// handler wrote a reply (Python always sends, even an empty datagram).
class DatagramRequestHandler : public BaseRequestHandler {
public:
    using BaseRequestHandler::BaseRequestHandler;

    /// Sends the reply, if any.
    void finish() override;

    std::string_view packet() const noexcept { return request().packet; }
    /// True when the datagram was larger than max_packet_size and packet() holds only its head.
    bool truncated() const noexcept { return request().truncated(); }
    /// Appends to the reply sent to the client in finish().
    void reply(std::string_view data) { reply_.append(data); }
    /// Sends a datagram now to any address, through the server's socket.
    void sendto(std::string_view data, const Address& to);
    /// The server's socket.
    const Socket& socket() noexcept;

private:
    std::string reply_;
};

/// Gives a handler typed access to state the server was given once:
///   struct Chat : sockserv::WithState<sockserv::DatagramRequestHandler, Room> {
///       using WithState::WithState;
///       void handle() override { state().join(...); }
///   };
///   sockserv::UDPServer<Chat> server{address, room};
template <class Handler, class State>
class WithState : public Handler {
public:
    using state_type = State;
    WithState(Request& request, BaseServer& server, State& state) noexcept
        : Handler(request, server), state_(state) {}
    State& state() noexcept { return state_; }

private:
    State& state_;
};

template <class H>
concept StatefulHandler = requires { typename H::state_type; };

template <class H>
concept RequestHandler = std::derived_from<H, BaseRequestHandler> &&
    ((StatefulHandler<H> && std::constructible_from<H, Request&, BaseServer&, typename H::state_type&>) ||
     (!StatefulHandler<H> && std::constructible_from<H, Request&, BaseServer&>));

}  // namespace sockserv
