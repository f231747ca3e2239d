#include <sockserv/base/error.hpp>
#include <sockserv/io/socket.hpp>
#include <sockserv/io/waiting.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sockserv {

namespace {

// On an event-mode fiber every socket call is made without blocking (MSG_DONTWAIT, or O_NONBLOCK
// for the calls that take no flags) and EAGAIN suspends the fiber until the fd is ready. The
// socket's own time-out (SO_RCVTIMEO/SO_SNDTIMEO, which the kernel ignores for calls that do not
// block) is read once per call, on its first EAGAIN, and bounds the wait: it keeps its meaning. Set
// on a fiber, the time-out is kept by the engine instead of the kernel (Suspender::set_socket_timeout).
class FiberIo {
public:
    /// caller_flags: a call the caller asked not to block (MSG_DONTWAIT) is left alone.
    FiberIo(int fd, bool for_reading, int caller_flags = 0,
            std::optional<std::chrono::milliseconds> patience = std::nullopt) noexcept
        : fd_(fd), reading_(for_reading), patience_(patience),
          suspender_(caller_flags & MSG_DONTWAIT ? nullptr : detail::fiber_suspender()) {}

    bool active() const noexcept { return suspender_ != nullptr; }
    /// The fiber's engine, when the call is made on one (and may suspend).
    detail::Suspender* suspender() const noexcept { return suspender_; }
    int flags() const noexcept { return suspender_ ? MSG_DONTWAIT : 0; }
    /// For calls without flags (sendfile, accept, connect): the fd made non-blocking, once
    /// (`known`: the socket's record that it is).
    void make_nonblocking(bool& known) const {
        if (!suspender_ || known) return;
        const int flags = ::fcntl(fd_, F_GETFL);
        if (flags >= 0 && !(flags & O_NONBLOCK)) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
        known = flags >= 0;
    }
    /// After EAGAIN: false when there is nothing to wait for (not a fiber) or the time-out passed.
    /// errno is as the call left it (EAGAIN) either way: while this fiber was suspended, other
    /// fibers' calls set errno on the same thread, and a caller that then read it would report a
    /// time-out as some stranger's error ("recvfrom: No such file or directory").
    bool wait() {
        if (!suspender_) return false;
        if (!deadline_known_) {
            deadline_ = detail::socket_deadline(fd_, reading_ ? SO_RCVTIMEO : SO_SNDTIMEO);
            if (!deadline_ && patience_) deadline_ = WaitClock::now() + *patience_;
            deadline_known_ = true;
        }
        const int saved = errno;
        // Straight to the engine: the call just said EAGAIN, which is what its edge-triggered wait needs.
        const bool ready = suspender_->wait_fd(
            fd_, reading_ ? detail::Readiness::readable : detail::Readiness::writable, deadline_);
        errno = saved;
        return ready;
    }

private:
    int fd_;
    bool reading_;
    std::optional<std::chrono::milliseconds> patience_;
    detail::Suspender* suspender_;
    bool deadline_known_ = false;
    std::optional<WaitClock::time_point> deadline_;
};

}  // namespace

Socket::Socket(int family, int type, int protocol)
    : fd_(::socket(family, type | SOCK_CLOEXEC, protocol)), stream_((type & 0xF) == SOCK_STREAM) {
    if (!fd_) throw_errno("socket");
}

std::string Socket::describe() const {
    try {
        return local_address().to_string();
    } catch (...) {
        return "fd " + std::to_string(fd());
    }
}

void Socket::bind(const Address& address) {
    if (::bind(fd(), address.data(), address.size()) != 0) throw_errno("bind " + address.to_string());
}

void Socket::listen(int backlog) {
    if (::listen(fd(), backlog) != 0) throw_errno("listen " + describe());
}

void Socket::connect(const Address& address) {
    FiberIo io(fd(), false);
    io.make_nonblocking(nonblocking_);
    int rc;
    do rc = ::connect(fd(), address.data(), address.size());
    while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno == EINPROGRESS && io.active()) {
        if (!io.wait()) throw TimeoutError("connect " + address.to_string() + " timed out");
        int error = 0;
        socklen_t size = sizeof error;
        ::getsockopt(fd(), SOL_SOCKET, SO_ERROR, &error, &size);
        if (error == 0) return;
        errno = error;
    }
    if (rc != 0) throw_errno("connect " + address.to_string());
}

Socket Socket::accept(Address* peer, std::error_code& error) noexcept {
    error.clear();
    Address ignored;
    Address& out = peer ? *peer : ignored;
    FiberIo io(this->fd(), true);
    io.make_nonblocking(nonblocking_);
    const bool looping = detail::current_suspender() != nullptr;
    int fd;
    for (;;) {
        *out.size_ptr() = Address::capacity;
        // In an event loop every call on the connection will be non-blocking: say so now, and
        // spare the fcntl pair its first sendfile would make.
        fd = ::accept4(this->fd(), out.data(), out.size_ptr(), SOCK_CLOEXEC | (looping ? SOCK_NONBLOCK : 0));
        if (fd >= 0) {
            Socket connection{UniqueFd(fd)};
            connection.nonblocking_ = looping;
            connection.stream_ = true;
            return connection;
        }
        if (errno != EAGAIN || !io.wait()) break;
    }
    switch (errno) {
    case EAGAIN:
    case EINTR:
    case ECONNABORTED:  // the client gave up between poll and accept
    case EPROTO:
    case EPERM:         // firewall rules refused it
        return Socket();
    default:
        error.assign(errno, std::generic_category());
        return Socket();
    }
}

Socket Socket::accept(Address* peer) {
    std::error_code error;
    Socket socket = accept(peer, error);
    if (error) throw std::system_error(error, "accept on " + describe());
    return socket;
}

[[gnu::hot]] void Socket::shutdown(int how) const noexcept { ::shutdown(fd(), how); }

[[gnu::hot]] void Socket::send_all(std::string_view data, int flags, std::uint64_t* sent) const {
    FiberIo io(fd(), false, flags);
    while (!data.empty()) {
        const ssize_t n = ::send(fd(), data.data(), data.size(), MSG_NOSIGNAL | flags | io.flags());
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN && io.wait()) continue;
            if (errno == EAGAIN) throw TimeoutError("send to " + peer_address().to_string() + " timed out");
            throw_errno("send");
        }
        if (sent) *sent += static_cast<std::uint64_t>(n);
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::size_t Socket::sendfile(int file_fd, std::uint64_t offset, std::size_t count, std::uint64_t* progress) const {
    off_t position = static_cast<off_t>(offset);
    std::size_t sent = 0;
    FiberIo io(fd(), false);
    io.make_nonblocking(nonblocking_);
    while (sent < count) {
        // sendfile moves at most ~2 GiB a call; a blocking socket takes what fits and we go on.
        const ssize_t n = ::sendfile(fd(), file_fd, &position, count - sent);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN && io.wait()) continue;
            if (errno == EAGAIN) throw TimeoutError("sendfile to " + peer_address().to_string() + " timed out");
            throw_errno("sendfile");
        }
        if (n == 0) break;  // the file is shorter than it was: nothing more to send
        sent += static_cast<std::size_t>(n);
        if (progress) *progress += static_cast<std::uint64_t>(n);
    }
    return sent;
}

bool Socket::input_waiting() const noexcept {
    char byte;
    return ::recv(fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 || errno != EAGAIN;
}

void Socket::await_readable() const {
    FiberIo io(fd(), true);
    detail::Suspender* drains = stream_ ? io.suspender() : nullptr;
    if (drains && drains->known_drained(fd()) && !io.wait()) throw TimeoutError("recv timed out");
}

[[gnu::hot]] std::size_t Socket::recv(void* buffer, std::size_t size, int flags) const {
    FiberIo io(fd(), true, flags);
    // Only plain reads of a stream: a peek takes nothing, and a datagram shorter than the buffer
    // says nothing of the next one.
    detail::Suspender* drains = stream_ && flags == 0 ? io.suspender() : nullptr;
    if (drains && drains->known_drained(fd()) && !io.wait()) throw TimeoutError("recv timed out");
    for (;;) {
        const ssize_t n = ::recv(fd(), buffer, size, flags | io.flags());
        if (n >= 0) {
            // A short read took all the kernel held (tcp_recvmsg and the Unix stream read stop only
            // when the queue is empty): what comes next arrives with an edge of its own.
            if (drains && n > 0 && static_cast<std::size_t>(n) < size) drains->note_drained(fd());
            return static_cast<std::size_t>(n);
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN && io.wait()) continue;
        if (errno == EAGAIN) throw TimeoutError("recv timed out");
        throw_errno("recv");
    }
}

namespace {

// A datagram socket may be non-blocking (a server's is: its loop must never hang in recvfrom), and
// then a full send buffer is EAGAIN. The datagram is still wanted: wait until there is room, up to
// the socket's send time-out or, without one, this long.
constexpr std::chrono::milliseconds send_buffer_patience{1000};

class DatagramSendWait {
public:
    explicit DatagramSendWait(int fd) noexcept : fd_(fd), fiber_(fd, false, 0, send_buffer_patience) {}
    int flags() const noexcept { return fiber_.flags(); }
    bool wait() {
        if (fiber_.active()) return fiber_.wait();
        pollfd entry{fd_, POLLOUT, 0};
        for (;;) {
            const int rc = ::poll(&entry, 1, static_cast<int>(send_buffer_patience.count()));
            if (rc > 0) return true;
            if (rc == 0 || errno != EINTR) return false;
        }
    }

private:
    int fd_;
    FiberIo fiber_;
};

}  // namespace

void Socket::sendto(std::string_view data, const Address& to) const {
    DatagramSendWait room(fd());
    for (;;) {
        if (::sendto(fd(), data.data(), data.size(), MSG_NOSIGNAL | room.flags(), to.data(), to.size()) >= 0) return;
        if (errno == EINTR) continue;
        if (errno == EAGAIN && room.wait()) continue;
        if (errno == EAGAIN) throw TimeoutError("sendto " + to.to_string() + ": send buffer full");
        throw_errno("sendto " + to.to_string());
    }
}

namespace {

// sendmmsg over `count` datagrams described by fill(i, message, iov): one system call per batch of
// 64 instead of one per datagram. A destination that fails (gone, unreachable, or the buffer stayed
// full) is skipped: the rest still get theirs. Returns how many were sent.
template <class Fill>
std::size_t send_batched(int fd, std::size_t count, Fill fill) {
    constexpr std::size_t batch = 64;
    mmsghdr messages[batch];
    iovec payloads[batch];
    std::size_t sent = 0;
    std::size_t next = 0;
    DatagramSendWait room(fd);
    while (next < count) {
        const std::size_t n_batch = std::min(batch, count - next);
        for (std::size_t i = 0; i < n_batch; ++i) {
            messages[i] = {};
            fill(next + i, messages[i].msg_hdr, payloads[i]);
            messages[i].msg_hdr.msg_iov = &payloads[i];
            messages[i].msg_hdr.msg_iovlen = 1;
        }
        const int n = ::sendmmsg(fd, messages, static_cast<unsigned>(n_batch), MSG_NOSIGNAL | room.flags());
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            next += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN && room.wait()) continue;
        ++next;
    }
    return sent;
}

}  // namespace

std::size_t Socket::sendto_many(std::string_view data, std::span<const Address> to) const {
    return send_batched(fd(), to.size(), [&](std::size_t i, msghdr& header, iovec& payload) {
        header.msg_name = const_cast<sockaddr*>(to[i].data());
        header.msg_namelen = to[i].size();
        payload = {const_cast<char*>(data.data()), data.size()};
    });
}

std::size_t Socket::send_datagrams(std::span<const OutgoingDatagram> datagrams) const {
    return send_batched(fd(), datagrams.size(), [&](std::size_t i, msghdr& header, iovec& payload) {
        header.msg_name = const_cast<sockaddr*>(datagrams[i].to->data());
        header.msg_namelen = datagrams[i].to->size();
        payload = {const_cast<char*>(datagrams[i].data.data()), datagrams[i].data.size()};
    });
}

std::size_t Socket::recvfrom(void* buffer, std::size_t size, Address& from, int flags) const {
    FiberIo io(fd(), true, flags);
    for (;;) {
        *from.size_ptr() = Address::capacity;
        // MSG_TRUNC: the real length comes back even when the datagram did not fit.
        const ssize_t n = ::recvfrom(fd(), buffer, size, flags | MSG_TRUNC | io.flags(), from.data(), from.size_ptr());
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN && io.wait()) continue;
        if (errno == EAGAIN) throw TimeoutError("recvfrom timed out");
        throw_errno("recvfrom");
    }
}

std::size_t Socket::recvfrom(void* buffer, std::size_t size, Address& from,
                             std::chrono::steady_clock::time_point& received, int flags) const {
    FiberIo io(fd(), true, flags);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    for (;;) {
        iovec payload{buffer, size};
        msghdr message{};
        message.msg_name = from.data();
        message.msg_namelen = Address::capacity;
        message.msg_iov = &payload;
        message.msg_iovlen = 1;
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(fd(), &message, flags | MSG_TRUNC | io.flags());
        if (n >= 0) {
            *from.size_ptr() = message.msg_namelen;
            received = std::chrono::steady_clock::now();
            for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
                // The stamp is wall-clock time; what it tells is how long ago, on the steady clock.
                timespec stamp;
                std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
                const auto arrived = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
                    std::chrono::seconds(stamp.tv_sec) + std::chrono::nanoseconds(stamp.tv_nsec)));
                const auto ago = std::chrono::system_clock::now() - arrived;
                if (ago > std::chrono::system_clock::duration::zero() && ago < std::chrono::hours(1))
                    received -= std::chrono::duration_cast<std::chrono::steady_clock::duration>(ago);
            }
            return static_cast<std::size_t>(n);
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN && io.wait()) continue;
        if (errno == EAGAIN) throw TimeoutError("recvfrom timed out");
        throw_errno("recvfrom");
    }
}

void Socket::set_option_raw(int level, int name, const void* value, unsigned size) const {
    if (::setsockopt(fd(), level, name, value, size) != 0)
        throw_errno("setsockopt(" + std::to_string(level) + ", " + std::to_string(name) + ")");
}

void Socket::set_nonblocking(bool on) const {
    const int flags = ::fcntl(fd(), F_GETFL);
    if (flags < 0 || ::fcntl(fd(), F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) != 0)
        throw_errno("fcntl O_NONBLOCK");
    nonblocking_ = on;
}

namespace {
timeval to_timeval(std::optional<std::chrono::milliseconds> timeout) noexcept {
    timeval tv{};
    if (timeout) {
        tv.tv_sec = static_cast<time_t>(timeout->count() / 1000);
        tv.tv_usec = static_cast<suseconds_t>((timeout->count() % 1000) * 1000);
        if (tv.tv_sec <= 0 && tv.tv_usec <= 0) tv = {0, 1};  // zero would mean "forever"
    }
    return tv;
}
}  // namespace

void Socket::set_timeout(std::optional<std::chrono::milliseconds> timeout) const {
    set_receive_timeout(timeout);
    set_send_timeout(timeout);
}

void Socket::set_receive_timeout(std::optional<std::chrono::milliseconds> timeout) const {
    if (detail::Suspender* suspender = detail::fiber_suspender()) return suspender->set_socket_timeout(fd(), SO_RCVTIMEO, timeout);
    set_option(SOL_SOCKET, SO_RCVTIMEO, to_timeval(timeout));
}

void Socket::set_send_timeout(std::optional<std::chrono::milliseconds> timeout) const {
    if (detail::Suspender* suspender = detail::fiber_suspender()) return suspender->set_socket_timeout(fd(), SO_SNDTIMEO, timeout);
    set_option(SOL_SOCKET, SO_SNDTIMEO, to_timeval(timeout));
}

Address Socket::local_address_of(int fd) {
    Address address;
    *address.size_ptr() = Address::capacity;
    if (::getsockname(fd, address.data(), address.size_ptr()) != 0) throw_errno("getsockname");
    return address;
}

Address Socket::peer_address() const {
    Address address;
    *address.size_ptr() = Address::capacity;
    if (::getpeername(fd(), address.data(), address.size_ptr()) != 0) return Address();
    return address;
}

std::pair<Socket, Socket> Socket::pair(int type) {
    int fds[2];
    if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0) throw_errno("socketpair");
    return {Socket(UniqueFd(fds[0])), Socket(UniqueFd(fds[1]))};
}

Socket Socket::duplicate_of(int fd, bool want_unix, int socket_type) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) throw_errno("inherited socket " + std::to_string(fd));
    Socket socket{UniqueFd(copy)};
    int type = 0;
    int family = 0;
    socklen_t length = sizeof type;
    if (::getsockopt(copy, SOL_SOCKET, SO_TYPE, &type, &length) != 0)
        throw_errno("inherited fd " + std::to_string(fd) + " is not a socket");
    length = sizeof family;
    if (::getsockopt(copy, SOL_SOCKET, SO_DOMAIN, &family, &length) != 0) throw_errno("getsockopt SO_DOMAIN");
    const bool family_fits = want_unix ? family == AF_UNIX : (family == AF_INET || family == AF_INET6);
    if (type != socket_type || !family_fits)
        throw std::invalid_argument("inherited socket " + std::to_string(fd) + " is a " +
                                    (family == AF_UNIX ? "Unix" : "inet") + (type == SOCK_STREAM ? " stream" : " datagram") +
                                    " socket; this server needs a" + (want_unix ? " Unix" : "n inet") +
                                    (socket_type == SOCK_STREAM ? " stream" : " datagram") + " socket");
    return socket;
}

}  // namespace sockserv
