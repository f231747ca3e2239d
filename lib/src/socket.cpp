#include <sockserv/error.hpp>
#include <sockserv/socket.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sockserv {

Socket::Socket(int family, int type, int protocol) : fd_(::socket(family, type | SOCK_CLOEXEC, protocol)) {
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
    int rc;
    do rc = ::connect(fd(), address.data(), address.size());
    while (rc != 0 && errno == EINTR);
    if (rc != 0) throw_errno("connect " + address.to_string());
}

Socket Socket::accept(Address* peer, std::error_code& error) noexcept {
    error.clear();
    Address ignored;
    Address& out = peer ? *peer : ignored;
    *out.size_ptr() = Address::capacity;
    const int fd = ::accept4(this->fd(), out.data(), out.size_ptr(), SOCK_CLOEXEC);
    if (fd >= 0) return Socket(UniqueFd(fd));
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

[[gnu::hot]] void Socket::send_all(std::string_view data, int flags) const {
    while (!data.empty()) {
        const ssize_t n = ::send(fd(), data.data(), data.size(), MSG_NOSIGNAL | flags);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) throw TimeoutError("send to " + peer_address().to_string() + " timed out");
            throw_errno("send");
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::size_t Socket::sendfile(int file_fd, std::uint64_t offset, std::size_t count) const {
    off_t position = static_cast<off_t>(offset);
    std::size_t sent = 0;
    while (sent < count) {
        // sendfile moves at most ~2 GiB a call; a blocking socket takes what fits and we go on.
        const ssize_t n = ::sendfile(fd(), file_fd, &position, count - sent);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) throw TimeoutError("sendfile to " + peer_address().to_string() + " timed out");
            throw_errno("sendfile");
        }
        if (n == 0) break;  // the file is shorter than it was: nothing more to send
        sent += static_cast<std::size_t>(n);
    }
    return sent;
}

[[gnu::hot]] std::size_t Socket::recv(void* buffer, std::size_t size, int flags) const {
    for (;;) {
        const ssize_t n = ::recv(fd(), buffer, size, flags);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN) throw TimeoutError("recv timed out");
        throw_errno("recv");
    }
}

namespace {

// A datagram socket may be non-blocking (a server's is: its loop must never hang in recvfrom), and
// then a full send buffer is EAGAIN. The datagram is still wanted: wait until there is room.
constexpr int send_buffer_patience_ms = 1000;

bool wait_writable(int fd) {
    pollfd entry{fd, POLLOUT, 0};
    for (;;) {
        const int rc = ::poll(&entry, 1, send_buffer_patience_ms);
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) return false;
    }
}

}  // namespace

void Socket::sendto(std::string_view data, const Address& to) const {
    for (;;) {
        if (::sendto(fd(), data.data(), data.size(), MSG_NOSIGNAL, to.data(), to.size()) >= 0) return;
        if (errno == EINTR) continue;
        if (errno == EAGAIN && wait_writable(fd())) continue;
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
    while (next < count) {
        const std::size_t n_batch = std::min(batch, count - next);
        for (std::size_t i = 0; i < n_batch; ++i) {
            messages[i] = {};
            fill(next + i, messages[i].msg_hdr, payloads[i]);
            messages[i].msg_hdr.msg_iov = &payloads[i];
            messages[i].msg_hdr.msg_iovlen = 1;
        }
        const int n = ::sendmmsg(fd, messages, static_cast<unsigned>(n_batch), MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            next += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN && wait_writable(fd)) continue;
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
    for (;;) {
        *from.size_ptr() = Address::capacity;
        // MSG_TRUNC: the real length comes back even when the datagram did not fit.
        const ssize_t n = ::recvfrom(fd(), buffer, size, flags | MSG_TRUNC, from.data(), from.size_ptr());
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
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
    set_option(SOL_SOCKET, SO_RCVTIMEO, to_timeval(timeout));
}

void Socket::set_send_timeout(std::optional<std::chrono::milliseconds> timeout) const {
    set_option(SOL_SOCKET, SO_SNDTIMEO, to_timeval(timeout));
}

Address Socket::local_address() const {
    Address address;
    *address.size_ptr() = Address::capacity;
    if (::getsockname(fd(), address.data(), address.size_ptr()) != 0) throw_errno("getsockname");
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

}  // namespace sockserv
