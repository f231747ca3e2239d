#include <sockserv/io/stream.hpp>

#include <sockserv/base/error.hpp>
#include <sockserv/io/waiting.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace sockserv {

namespace {

// The small buffer a connection's reader and writer each take at a request's first byte and give
// back before an idle wait: every keep-alive request and every echoed message takes and returns
// two. 2 KiB is past malloc's per-thread cache (tcache stops at 1 KiB), so they went through
// malloc's locked path: 3-4% of a keep-alive request's CPU. Each thread keeps a few for itself.
class SmallBuffers {
public:
    static constexpr std::size_t size = 2048;
    SmallBuffers() = default;
    SmallBuffers(const SmallBuffers&) = delete;
    SmallBuffers& operator=(const SmallBuffers&) = delete;
    ~SmallBuffers() {
        for (std::size_t i = 0; i < count_; ++i) delete[] kept_[i];
    }
    std::unique_ptr<char[]> take() {
        if (count_ > 0) return std::unique_ptr<char[]>(kept_[--count_]);
        return std::make_unique_for_overwrite<char[]>(size);
    }
    void give(std::unique_ptr<char[]> buffer) noexcept {
        if (count_ < kept_.size()) kept_[count_++] = buffer.release();
    }

private:
    // A few: a loop's fibers take and give back in turn, so more than a handful is never reused.
    std::array<char*, 16> kept_{};
    std::size_t count_ = 0;
};

thread_local SmallBuffers small_buffers;

std::unique_ptr<char[]> take_buffer(std::size_t capacity) {
    if (capacity == SmallBuffers::size) return small_buffers.take();
    return std::make_unique_for_overwrite<char[]>(capacity);
}

void give_back(std::unique_ptr<char[]>& buffer, std::size_t capacity) noexcept {
    if (buffer && capacity == SmallBuffers::size) small_buffers.give(std::move(buffer));
    buffer.reset();
}

}  // namespace

static_assert(SocketWriter::small_size == SmallBuffers::size && SocketReader::small_size == SmallBuffers::size);

SocketWriter::~SocketWriter() { give_back(buffer_, capacity_); }

SocketReader::~SocketReader() { give_back(heap_, capacity_); }

[[gnu::hot]] void SocketWriter::write(std::string_view data) {
    if (data.empty()) return;  // and no buffer taken for nothing (memcpy into a null buffer is UB)
    if (size_ + data.size() > buffer_size_) {
        flush();
        if (data.size() >= buffer_size_) {  // large writes skip the copy
            stream_->send_all(data, false, sent_);
            return;
        }
    }
    if (size_ + data.size() > capacity_) {
        const std::size_t capacity = size_ + data.size() <= small_size ? small_size : std::max(buffer_size_, small_size);
        auto bigger = take_buffer(capacity);
        if (size_ > 0) std::memcpy(bigger.get(), buffer_.get(), size_);
        give_back(buffer_, capacity_);
        buffer_ = std::move(bigger);
        capacity_ = capacity;
    }
    std::memcpy(buffer_.get() + size_, data.data(), data.size());
    size_ += data.size();
}

void SocketWriter::release_buffer() noexcept {
    if (size_ != 0) return;
    give_back(buffer_, capacity_);
    capacity_ = 0;
}

namespace {
// Empty first: if the send throws, the peer is gone and the data is lost either way; a second
// flush (from finish()) must not resend half of it.
void send_pending(ByteStream& stream, const char* buffer, std::size_t& size, bool more, std::uint64_t& sent) {
    const std::size_t pending = size;
    size = 0;
    stream.send_all({buffer, pending}, more, sent);
}
}  // namespace

void SocketWriter::send(std::string_view data) {
    if (size_ > 0) send_pending(*stream_, buffer_.get(), size_, !data.empty(), sent_);
    if (!data.empty()) stream_->send_all(data, false, sent_);
}

[[gnu::hot]] void SocketWriter::flush() {
    if (size_ > 0) send_pending(*stream_, buffer_.get(), size_, false, sent_);
}

void SocketWriter::flush_before_close() {
    if (size_ > 0) send_pending(*stream_, buffer_.get(), size_, true, sent_);
}

std::size_t SocketWriter::sendfile(int file_fd, std::uint64_t offset, std::size_t count) {
    if (size_ > 0) send_pending(*stream_, buffer_.get(), size_, count > 0, sent_);
    return count > 0 ? stream_->send_file(file_fd, offset, count, sent_) : 0;
}

std::size_t SocketReader::fill_before(std::chrono::steady_clock::time_point deadline) {
    if (tied_) tied_->flush();
    // The socket's own time-out still bounds each wait inside fill(); the deadline bounds them all.
    if (std::chrono::steady_clock::now() >= deadline || !stream_->wait_receivable(deadline))
        throw TimeoutError("recv: deadline passed");
    return fill();
}

[[gnu::hot]] std::size_t SocketReader::fill() {
    if (tied_) tied_->flush();  // about to block: the peer may be waiting for our answer first
    constexpr std::size_t chunk = 16 * 1024;
    if (begin_ == end_) {
        begin_ = end_ = 0;
        if (stream_->receive_would_wait()) {
            // An idle wait (a keep-alive connection between requests): no buffer held meanwhile,
            // and none taken until there is something to read.
            give_back(heap_, capacity_);
            buffer_ = nullptr;
            capacity_ = 0;
            if (tied_) tied_->release_buffer();
            stream_->await_receive();
        }
    }
    if (!heap_) {
        heap_ = take_buffer(small_size);
        buffer_ = heap_.get();
        capacity_ = small_size;
    }
    if (capacity_ - end_ < std::min(chunk, capacity_ / 2)) {
        // Make room for a worthwhile recv: slide the unread bytes to the front while they fill at
        // most half the buffer, else grow (doubling, at least one chunk).
        const std::size_t unread = end_ - begin_;
        if (unread > capacity_ / 2) {
            const std::size_t capacity = std::max(2 * capacity_, chunk);
            auto bigger = take_buffer(capacity);
            std::memcpy(bigger.get(), buffer_ + begin_, unread);
            give_back(heap_, capacity_);
            heap_ = std::move(bigger);
            buffer_ = heap_.get();
            capacity_ = capacity;
        } else if (unread > 0) {
            std::memmove(buffer_, buffer_ + begin_, unread);
        }
        begin_ = 0;
        end_ = unread;
    }
    const std::size_t n = stream_->receive(buffer_ + end_, capacity_ - end_);
    end_ += n;
    received_ += n;
    return n;
}

[[gnu::hot]] void SocketReader::consume(std::size_t n) noexcept { begin_ = std::min(begin_ + n, end_); }

[[gnu::hot]] bool SocketReader::readline(std::string& line, std::size_t limit) {
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
        const std::size_t n = stream_->receive(buffer, size);  // big reads go straight to the caller's buffer
        received_ += n;
        return n;
    }
    if (buffered().empty() && fill() == 0) return 0;
    const std::size_t n = std::min(size, buffered().size());
    std::memcpy(buffer, buffered().data(), n);
    consume(n);
    return n;
}

}  // namespace sockserv
