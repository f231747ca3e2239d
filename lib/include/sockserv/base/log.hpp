#pragma once
// The one way sockserv and its apps log: a line on stderr, written with one write(2).
//
// Why one write: the threads, fork children and worker processes of a server share stderr, and
// their lines must never interleave mid-line. Why not stdio or iostream: no lock is taken (a
// forked child of a threaded server may inherit stdio's lock held by a thread that did not survive
// the fork) and nothing is buffered (a child that _exit()s loses nothing). A line of up to
// log_inline_bytes is assembled on the stack without allocating, so log() is async-signal-safe
// there and can report from a signal handler; longer lines are allocated, or written in pieces if
// memory is short. Nothing here throws.
//
// An event loop's thread gathers access lines (log_gathered, LogBatch): one write for many lines
// instead of one each, the way nginx's `access_log ... buffer=` does; the loop writes them once it
// has been idle for a moment, so a line is late by about a millisecond, never by a busy spell.

#include <array>
#include <cstddef>
#include <initializer_list>
#include <string_view>

namespace sockserv {

inline constexpr std::size_t log_inline_bytes = 4096;

/// The parts joined into one line; the newline is added when the last part has none.
void log(std::initializer_list<std::string_view> parts) noexcept;

/// log("accept on ", address, ": ", message): anything a string_view can be made from.
template <class... Parts>
void log(const Parts&... parts) noexcept {
    log({std::string_view(parts)...});
}

/// A line that may wait a little: an access line. On a thread with a LogBatch it joins the batch;
/// elsewhere it is log().
void log_gathered(std::initializer_list<std::string_view> parts) noexcept;

template <class... Parts>
void log_gathered(const Parts&... parts) noexcept {
    log_gathered({std::string_view(parts)...});
}

/// While one lives on a thread, that thread's log_gathered() lines wait in it and are written
/// together: whole lines, at most batch_bytes in one write (PIPE_BUF, so that even on a pipe shared
/// with other processes no other write lands inside a line), when it is full, on flush() and when
/// it ends. A log() line on the thread writes the waiting lines first, so the thread's lines keep
/// their order. The owner calls flush() often enough (EventLoop: once idle for a millisecond).
class LogBatch {
public:
    static constexpr std::size_t batch_bytes = 4096;

    LogBatch() noexcept;
    ~LogBatch();
    LogBatch(const LogBatch&) = delete;
    LogBatch& operator=(const LogBatch&) = delete;

    bool pending() const noexcept { return size_ > 0; }
    void flush() noexcept;
    /// Forgets the waiting lines unwritten (a forked child's copy of its parent's).
    void drop() noexcept { size_ = 0; }

private:
    friend void log_gathered(std::initializer_list<std::string_view>) noexcept;
    friend void log(std::initializer_list<std::string_view>) noexcept;

    LogBatch* previous_;
    // Set while a line is being added: a log() from a signal handler then leaves the batch alone
    // instead of writing half of it.
    volatile bool adding_ = false;
    std::size_t size_ = 0;
    std::array<char, batch_bytes> bytes_;
};

/// "PROGRAM: error: MESSAGE": a program's fatal error, before or instead of serving.
void log_error(std::string_view program, std::string_view message) noexcept;

}  // namespace sockserv
