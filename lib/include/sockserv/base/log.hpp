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

/// "PROGRAM: error: MESSAGE": a program's fatal error, before or instead of serving.
void log_error(std::string_view program, std::string_view message) noexcept;

}  // namespace sockserv
