#include <sockserv/io/byte_stream.hpp>

#include <sys/socket.h>

namespace sockserv {

[[gnu::hot]] std::size_t SocketStream::receive(void* buffer, std::size_t size) { return socket_->recv(buffer, size); }

[[gnu::hot]] void SocketStream::send_all(std::string_view data, bool more, std::uint64_t& sent) {
    socket_->send_all(data, more ? MSG_MORE : 0, &sent);
}

std::size_t SocketStream::send_file(int file_fd, std::uint64_t offset, std::size_t count, std::uint64_t& sent) {
    return socket_->sendfile(file_fd, offset, count, &sent);
}

bool SocketStream::wait_receivable(std::optional<WaitClock::time_point> deadline) {
    return wait_readable(socket_->fd(), deadline);
}

bool SocketStream::receive_would_wait() const noexcept {
    const detail::Suspender* fiber = detail::fiber_suspender();
    return fiber && fiber->known_drained(socket_->fd());
}

}  // namespace sockserv
