#include <sockserv/stream.hpp>

#include <algorithm>
#include <cstring>

namespace sockserv {

void SocketWriter::write(std::string_view data) {
    if (buffer_.size() + data.size() <= buffer_size_) {
        buffer_.append(data);
        return;
    }
    flush();
    if (data.size() >= buffer_size_) socket_->send_all(data);  // large writes skip the copy
    else buffer_.append(data);
}

void SocketWriter::flush() {
    if (buffer_.empty()) return;
    // Clear first: if the send throws, the peer is gone and the data is lost either way; a second
    // flush (from finish()) must not resend half of it.
    std::string pending;
    pending.swap(buffer_);
    socket_->send_all(pending);
}

std::size_t SocketReader::fill() {
    if (tied_) tied_->flush();  // about to block: the peer may be waiting for our answer first
    constexpr std::size_t chunk = 16 * 1024;
    if (begin_ == end_) begin_ = end_ = 0;
    if (capacity_ - end_ < chunk) {
        // Make room: slide the unread bytes to the front, growing when they fill half the buffer.
        const std::size_t unread = end_ - begin_;
        const std::size_t capacity = std::max(capacity_, std::max(2 * unread, unread + chunk));
        if (capacity != capacity_) {
            auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
            if (unread > 0) std::memcpy(bigger.get(), buffer_.get() + begin_, unread);
            buffer_ = std::move(bigger);
            capacity_ = capacity;
        } else {
            if (unread > 0) std::memmove(buffer_.get(), buffer_.get() + begin_, unread);
        }
        begin_ = 0;
        end_ = unread;
    }
    const std::size_t n = socket_->recv(buffer_.get() + end_, capacity_ - end_);
    end_ += n;
    return n;
}

void SocketReader::consume(std::size_t n) noexcept { begin_ = std::min(begin_ + n, end_); }

bool SocketReader::readline(std::string& line, std::size_t limit) {
    line.clear();
    std::size_t scanned = 0;
    for (;;) {
        const std::string_view have = buffered();
        const std::size_t window = std::min(have.size(), limit);
        if (const auto newline = have.substr(0, window).find('\n', scanned); newline != std::string_view::npos) {
            line.assign(have.substr(0, newline + 1));
            consume(newline + 1);
            return true;
        }
        if (window == limit) {  // cut at the limit: the caller sees a line without '\n'
            line.assign(have.substr(0, limit));
            consume(limit);
            return true;
        }
        scanned = window;
        if (fill() == 0) {  // EOF: return the unterminated tail, if any
            line.assign(buffered());
            consume(line.size());
            return !line.empty();
        }
    }
}

bool SocketReader::read_exact(std::string& out, std::size_t n) {
    out.clear();
    while (buffered().size() < n) {
        if (fill() == 0) {
            out.assign(buffered());
            consume(out.size());
            return false;
        }
    }
    out.assign(buffered().substr(0, n));
    consume(n);
    return true;
}

std::size_t SocketReader::read_some(void* buffer, std::size_t size) {
    if (buffered().empty() && size >= 16 * 1024) {
        if (tied_) tied_->flush();
        return socket_->recv(buffer, size);  // big reads go straight to the caller's buffer
    }
    if (buffered().empty() && fill() == 0) return 0;
    const std::size_t n = std::min(size, buffered().size());
    std::memcpy(buffer, buffered().data(), n);
    consume(n);
    return n;
}

}  // namespace sockserv
