#pragma once
// Socket: a move-only RAII socket. Every socket is SOCK_CLOEXEC and every send is MSG_NOSIGNAL, so
// neither an exec'd program nor a vanished peer can hurt the process.

#include <sockserv/base/address.hpp>
#include <sockserv/base/unique_fd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace sockserv {

/// One datagram of a batch (Socket::send_datagrams): its bytes and where it goes.
struct OutgoingDatagram {
    std::string_view data;
    const Address* to;
};

class Socket {
public:
    Socket() noexcept = default;
    /// socket(family, type | SOCK_CLOEXEC, protocol); throws std::system_error.
    Socket(int family, int type, int protocol = 0);
    /// Adopts an existing fd.
    explicit Socket(UniqueFd fd) noexcept : fd_(std::move(fd)) {}

    int fd() const noexcept { return fd_.get(); }
    explicit operator bool() const noexcept { return static_cast<bool>(fd_); }
    void close() noexcept { fd_.reset(); }
    int release() noexcept { return fd_.release(); }

    void bind(const Address& address);
    void listen(int backlog);
    void connect(const Address& address);
    /// accept4 with SOCK_CLOEXEC. Returns an empty Socket on EAGAIN/ECONNABORTED/EINTR/EPROTO
    /// (nothing to accept after all); throws std::system_error for the rest (EMFILE among them).
    Socket accept(Address* peer = nullptr);
    /// The same, reporting the remaining errors in `error` instead of throwing (for a loop that
    /// expects EMFILE as a normal state).
    Socket accept(Address* peer, std::error_code& error) noexcept;
    /// shutdown(2); ENOTCONN (peer already gone) is not an error.
    void shutdown(int how) const noexcept;

    /// Sends everything or throws (TimeoutError when SO_SNDTIMEO expires). `flags` are added to
    /// MSG_NOSIGNAL: MSG_MORE says more follows at once, so a header and the file after it share
    /// segments instead of the header leaving alone.
    /// `sent`, when given, is increased by every byte the kernel takes, also when the call then
    /// fails (how much of a response a client that reset got at most).
    void send_all(std::string_view data, int flags = 0, std::uint64_t* sent = nullptr) const;
    /// sendfile(2): `count` bytes of the file from `offset`, copied by the kernel, never through user
    /// space. Returns the bytes sent, fewer than count only when the file ended first (it shrank
    /// while being sent). Throws like send_all (TimeoutError when SO_SNDTIMEO expires).
    std::size_t sendfile(int file_fd, std::uint64_t offset, std::size_t count, std::uint64_t* sent = nullptr) const;
    /// One recv; 0 at EOF. Throws (TimeoutError when SO_RCVTIMEO expires). On a fiber, a stream
    /// socket that a short read left empty is waited for first, without a recv that would only
    /// say EAGAIN (Suspender::known_drained).
    std::size_t recv(void* buffer, std::size_t size, int flags = 0) const;
    /// Whether a recv now would not block: bytes, the peer's EOF or an error are waiting. A peek,
    /// which takes nothing and never waits (one system call).
    bool input_waiting() const noexcept;
    /// Waits as recv() would before reading, when that is known without a system call (a fiber, a
    /// stream that a short read emptied): until readable, or TimeoutError at SO_RCVTIMEO. Else at once.
    void await_readable() const;
    /// One datagram to `to`; throws on failure. On a non-blocking socket with a full send buffer it
    /// waits (up to 1 s, then TimeoutError) rather than drop the datagram.
    void sendto(std::string_view data, const Address& to) const;
    /// The same datagram to every address, batched with sendmmsg (a fan-out of 100 is 2 system
    /// calls, not 100). A destination that fails is skipped, not retried: the others still get
    /// theirs. Returns how many were sent.
    std::size_t sendto_many(std::string_view data, std::span<const Address> to) const;
    /// Different datagrams to different addresses, batched the same way, in order.
    std::size_t send_datagrams(std::span<const OutgoingDatagram> datagrams) const;
    /// One datagram into buffer. Returns its real length, which may exceed size (then it was truncated).
    std::size_t recvfrom(void* buffer, std::size_t size, Address& from, int flags = 0) const;
    /// The same, and when the datagram arrived: the kernel's stamp when SO_TIMESTAMPNS is on (as on
    /// a datagram server's socket), else now.
    std::size_t recvfrom(void* buffer, std::size_t size, Address& from, std::chrono::steady_clock::time_point& received,
                         int flags = 0) const;

    template <class T>
    void set_option(int level, int name, const T& value) const { set_option_raw(level, name, &value, sizeof value); }
    void set_nonblocking(bool on) const;
    /// SO_RCVTIMEO and SO_SNDTIMEO; nullopt blocks forever, zero does not wait at all.
    void set_timeout(std::optional<std::chrono::milliseconds> timeout) const;
    /// SO_RCVTIMEO only (a client may idle less long than a download may stall).
    void set_receive_timeout(std::optional<std::chrono::milliseconds> timeout) const;
    /// SO_SNDTIMEO only.
    void set_send_timeout(std::optional<std::chrono::milliseconds> timeout) const;
    Address local_address() const { return local_address_of(fd()); }
    /// getsockname() of any socket fd (one this process did not make, say).
    static Address local_address_of(int fd);
    Address peer_address() const;
    /// A duplicate (close-on-exec) of a socket made elsewhere (systemd, a pool's master), checked
    /// to be of the family (Unix or inet) and type wanted: serving a UDP socket as TCP would fail
    /// later, and less clearly. Throws std::invalid_argument naming both, std::system_error.
    static Socket duplicate_of(int fd, bool want_unix, int type);
    /// Connected pair (socketpair) for tests and in-process plumbing.
    static std::pair<Socket, Socket> pair(int type = SOCK_STREAM);

private:
    void set_option_raw(int level, int name, const void* value, unsigned size) const;
    std::string describe() const;
    UniqueFd fd_;
    // Known to be O_NONBLOCK (false: unknown), so a fiber's sendfile need not ask the kernel.
    mutable bool nonblocking_ = false;
    // Known to be a stream socket (made or accepted here): a short read drains it.
    bool stream_ = false;
};

}  // namespace sockserv
