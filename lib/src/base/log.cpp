#include <sockserv/base/log.hpp>

#include <pthread.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <new>

namespace sockserv {

namespace {

constexpr std::size_t short_line = 512;

thread_local LogBatch* thread_batch = nullptr;

// A process forked by a thread with a batch (a handler of an event loop that forks) gets a copy
// of the lines waiting in it: they are the parent's to write, so the child drops its copy.
void drop_inherited_lines() noexcept {
    if (LogBatch* batch = thread_batch) batch->drop();
}
[[maybe_unused]] const int at_fork_registered = ::pthread_atfork(nullptr, nullptr, drop_inherited_lines);

void write_all(const char* data, std::size_t size) noexcept {
    while (size > 0) {
        const ssize_t n = ::write(STDERR_FILENO, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // stderr closed or full: there is nobody to tell
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

// A line's length, its newline included, and whether its last part brings the newline.
struct LineSize {
    std::size_t total;
    bool has_newline;
};
LineSize line_size(std::initializer_list<std::string_view> parts) noexcept {
    std::size_t size = 0;
    for (const std::string_view part : parts) size += part.size();
    const bool has_newline = size > 0 && std::data(parts)[parts.size() - 1].ends_with('\n');
    return {size + (has_newline ? 0 : 1), has_newline};
}

void join(char* line, std::initializer_list<std::string_view> parts, bool has_newline) noexcept {
    char* at = line;
    for (const std::string_view part : parts) {
        if (!part.empty()) std::memcpy(at, part.data(), part.size());
        at += part.size();
    }
    if (!has_newline) *at = '\n';
}

void write_joined(char* line, std::initializer_list<std::string_view> parts, std::size_t total, bool has_newline) noexcept {
    join(line, parts, has_newline);
    write_all(line, total);
}

// A line longer than a short one's buffer: in a frame of its own, so that the page-sized buffer is
// only on the stack when it is needed.
[[gnu::noinline]] void write_long(std::initializer_list<std::string_view> parts, std::size_t total, bool has_newline) noexcept {
    std::array<char, log_inline_bytes> inline_buffer;
    char* line = inline_buffer.data();
    if (total > inline_buffer.size()) line = new (std::nothrow) char[total];
    if (line == nullptr) {
        for (const std::string_view part : parts) write_all(part.data(), part.size());  // pieces, but all of it
        if (!has_newline) write_all("\n", 1);
        return;
    }
    write_joined(line, parts, total, has_newline);
    if (line != inline_buffer.data()) delete[] line;
}

}  // namespace

void log(std::initializer_list<std::string_view> parts) noexcept {
    const int saved_errno = errno;  // a log line must not change what the caller reports next
    if (LogBatch* batch = thread_batch; batch && batch->pending() && !batch->adding_) batch->flush();
    const auto [total, has_newline] = line_size(parts);
    // An access line fits a small buffer. A page-sized one in this frame was a page of every
    // fiber's stack touched per line, a cache miss (or a fault, once the loop had trimmed the
    // stack) per request at 10,000 connections.
    if (total <= short_line) {
        std::array<char, short_line> buffer;
        write_joined(buffer.data(), parts, total, has_newline);
    } else {
        write_long(parts, total, has_newline);
    }
    errno = saved_errno;
}

void log_gathered(std::initializer_list<std::string_view> parts) noexcept {
    LogBatch* batch = thread_batch;
    const auto [total, has_newline] = line_size(parts);
    if (!batch || total > LogBatch::batch_bytes) return log(parts);
    const int saved_errno = errno;
    if (batch->size_ + total > LogBatch::batch_bytes) batch->flush();
    batch->adding_ = true;
    join(batch->bytes_.data() + batch->size_, parts, has_newline);
    batch->size_ += total;
    batch->adding_ = false;
    errno = saved_errno;
}

LogBatch::LogBatch() noexcept : previous_(thread_batch) {
    if (previous_) previous_->flush();  // its lines come before any of this one's
    thread_batch = this;
}

LogBatch::~LogBatch() {
    flush();
    thread_batch = previous_;
}

void LogBatch::flush() noexcept {
    if (size_ == 0) return;
    const int saved_errno = errno;
    const std::size_t size = size_;
    size_ = 0;
    write_all(bytes_.data(), size);
    errno = saved_errno;
}

void log_error(std::string_view program, std::string_view message) noexcept { log(program, ": error: ", message); }

}  // namespace sockserv
