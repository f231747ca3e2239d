#pragma once
// TlsStream: a connection's bytes through TLS, as rfile()/wfile() read and write them. A handler
// cannot tell it from the plain SocketStream.
//
// OpenSSL works on the socket itself (SSL_set_fd), not on a memory BIO pair: the kernel can then
// take over the encryption of files (kTLS, SSL_sendfile) where it has the module. A call that
// would block says WANT_READ/WANT_WRITE and the wait is the framework's: on an event-mode fiber
// it parks the fiber, elsewhere the socket blocks as the handler set it (its time-out applies).

#include <sockserv/io/byte_stream.hpp>
#include <sockserv/io/socket.hpp>
#include <sockserv/io/tls_context.hpp>
#include <sockserv/io/waiting.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

struct ssl_st;

namespace sockserv::tls {

/// A handshake that failed: what() says why in a few words ("plain HTTP, not TLS", "no
/// handshake within 10000 ms", "peer did not return a certificate"). quiet(): the peer closed
/// before sending a byte (a port check, a load balancer's probe), which is normal life.
class HandshakeError : public std::runtime_error {
public:
    HandshakeError(const std::string& what, bool quiet) : std::runtime_error(what), quiet_(quiet) {}
    bool quiet() const noexcept { return quiet_; }

private:
    bool quiet_;
};

class TlsStream final : public ByteStream {
public:
    /// The server's handshake on an accepted connection, done by deadline (the socket is left
    /// blocking or not, as it was). Throws HandshakeError.
    static std::unique_ptr<TlsStream> accept(const ServerContext& context, Socket& socket,
                                             WaitClock::time_point deadline);
    /// The client's handshake on a connected socket; server_name is checked against the server's
    /// certificate (a DNS name or an IP address) and sent as SNI when it is a name. Throws
    /// HandshakeError.
    static std::unique_ptr<TlsStream> connect(const ClientContext& context, Socket& socket,
                                              std::string_view server_name, WaitClock::time_point deadline);
    ~TlsStream() override;

    std::size_t receive(void* buffer, std::size_t size) override;
    void send_all(std::string_view data, bool more, std::uint64_t& sent) override;
    std::size_t send_file(int file_fd, std::uint64_t offset, std::size_t count, std::uint64_t& sent) override;
    bool wait_receivable(std::optional<WaitClock::time_point> deadline) override;
    /// Sends close_notify (once, without waiting for the peer's).
    void finish() noexcept override;

    /// The protocol ALPN agreed on ("http/1.1"), or empty.
    std::string alpn() const;
    /// "TLSv1.3"
    std::string version() const;

private:
    TlsStream(ssl_st* ssl, Socket& socket);
    void flush_held();
    void write(const char* data, std::size_t size, std::uint64_t& sent);
    /// After WANT_READ/WANT_WRITE: false when the socket's time-out has passed.
    bool wait(int want, std::optional<WaitClock::time_point>& deadline, bool& deadline_known);

    ssl_st* ssl_;
    Socket* socket_;
    bool nonblocking_ = false;
    /// Files go out through the kernel's TLS (SSL_sendfile), not read + SSL_write.
    bool kernel_sends_ = false;
    bool finished_ = false;
    /// Bytes sent with `more` (a response head before its body): they go out in one record with
    /// what follows, not in a record and a packet of their own.
    std::string held_;
};

}  // namespace sockserv::tls
