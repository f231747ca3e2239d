#pragma once
// ByteStream: the bytes of one connection, as rfile()/wfile() read and write them. SocketStream is
// the plain kind (the socket's own bytes); an encrypted one (TLS) is another implementation of the
// same four calls, so a handler, and the mode that runs it, never learns which it has.

#include <sockserv/io/socket.hpp>
#include <sockserv/io/waiting.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sockserv {

class ByteStream {
public:
    virtual ~ByteStream() = default;

    /// One receive into buffer: what came, 0 at EOF. Throws std::system_error (TimeoutError when
    /// the socket's receive time-out expires).
    virtual std::size_t receive(void* buffer, std::size_t size) = 0;
    /// Sends all of data or throws (EPIPE when the peer is gone, TimeoutError). more: more follows
    /// at once (a header before a file). sent grows by every byte taken, also when the call fails.
    virtual void send_all(std::string_view data, bool more, std::uint64_t& sent) = 0;
    /// count bytes of the file from offset; returns the bytes sent, fewer only when the file ended
    /// first. Throws like send_all.
    virtual std::size_t send_file(int file_fd, std::uint64_t offset, std::size_t count, std::uint64_t& sent) = 0;
    /// Until receive() has something to return (or EOF, or an error), or the deadline: false then.
    virtual bool wait_receivable(std::optional<WaitClock::time_point> deadline) = 0;
    /// Ends the stream's own framing before the socket is shut down (TLS: close_notify). Once;
    /// never throws or waits.
    virtual void finish() noexcept {}
    /// Known, without a system call, that receive() would wait now (on an event-mode fiber, a
    /// socket that a short read emptied). False when not known.
    virtual bool receive_would_wait() const noexcept { return false; }
    /// Waits as receive() would before it reads (the socket's receive time-out applies:
    /// TimeoutError), so a caller can take its buffer only once there is something to read.
    virtual void await_receive() {}
};

/// The plain stream: the socket's bytes as they are.
class SocketStream final : public ByteStream {
public:
    explicit SocketStream(Socket& socket) noexcept : socket_(&socket) {}

    std::size_t receive(void* buffer, std::size_t size) override;
    void send_all(std::string_view data, bool more, std::uint64_t& sent) override;
    std::size_t send_file(int file_fd, std::uint64_t offset, std::size_t count, std::uint64_t& sent) override;
    bool wait_receivable(std::optional<WaitClock::time_point> deadline) override;
    bool receive_would_wait() const noexcept override;
    void await_receive() override { socket_->await_readable(); }

private:
    Socket* socket_;
};

}  // namespace sockserv
