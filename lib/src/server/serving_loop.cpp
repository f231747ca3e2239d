#include <sockserv/base/error.hpp>
#include <sockserv/server/base_server.hpp>
#include <sockserv/server/serving_loop.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>

namespace sockserv {

namespace {

int to_poll_timeout(std::optional<std::chrono::milliseconds> timeout) {
    if (!timeout) return -1;
    return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(timeout->count(), 0, 1 << 30));
}

}  // namespace

void PollLoop::serve(BaseServer& server) {
    // Fork point alignment: the loop's frames, down to fork() and back, are written by the parent
    // (and by a child) right after every fork, and each stack page they touch is then a
    // copy-on-write fault, per request. Where the stack happened to start (ASLR, the size of the
    // environment) decided whether they straddled one page or two; starting the loop just below a
    // page boundary makes it one, always.
    constexpr std::uintptr_t page = 4096;
    constexpr std::uintptr_t headroom = 256;  // this frame's own locals below the frame address
    const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    void* gap = __builtin_alloca((here % page + headroom) % page);
    asm volatile("" : : "r"(gap) : "memory");  // keep the gap: nothing else uses it
    serve_until_shutdown(server);
}

void PollLoop::serve_until_shutdown(BaseServer& server) {
    while (!server.shutdown_requested()) {
        if (wait(server, server.next_service())) server.handle_ready_requests();
        server.service_actions();
    }
}

bool PollLoop::wait(BaseServer& server, std::optional<std::chrono::milliseconds> timeout) {
    // [0] the waker, [1] the socket (left out while not accepting: fd -1 is ignored by poll), then
    // the readers. On the stack while they fit, which is always but for a program with more than
    // 14 readers. Why not a member vector: after each fork() the parent's heap pages are
    // copy-on-write, and one written on every wake-up cost the forking parent one page fault per
    // request more than a hand-written fork server takes; the stack page is faulted in after a
    // fork anyway.
    constexpr std::size_t inline_fds = 16;
    Readers& readers = server.readers();
    const std::size_t count = 2 + readers.size();
    std::array<pollfd, inline_fds> inline_poll_fds;
    pollfd* fds = inline_poll_fds.data();
    if (count > inline_fds) {
        poll_fds_.resize(count);
        fds = poll_fds_.data();
    }
    fds[0] = {server.waker().fd(), POLLIN, 0};
    const bool accepting = server.socket() && server.accepting();
    if (server.metrics()) server.note_accepting(accepting);
    fds[1] = {accepting ? server.fileno() : -1, POLLIN, 0};
    for (std::size_t i = 0; i < readers.size(); ++i) fds[2 + i] = {readers.fd(i), POLLIN, 0};
    const int rc = ::poll(fds, count, to_poll_timeout(timeout));
    if (rc < 0) {
        if (errno == EINTR) return false;  // a signal; its handler used the waker if it mattered
        throw_errno("poll");
    }
    if (fds[0].revents & POLLIN) server.waker().drain();
    constexpr short readable = POLLIN | POLLERR | POLLHUP;
    const bool socket_readable = fds[1].fd >= 0 && (fds[1].revents & readable) != 0;
    if (rc > 0 && !readers.empty()) {
        // A callback may add or remove readers, so collect the ready fds before calling any.
        std::array<int, inline_fds> inline_ready;
        int* ready = inline_ready.data();
        if (count > inline_fds) {
            ready_readers_.resize(count);
            ready = ready_readers_.data();
        }
        std::size_t n = 0;
        for (std::size_t i = 2; i < count; ++i)
            if (fds[i].revents & readable) ready[n++] = fds[i].fd;
        for (std::size_t i = 0; i < n; ++i) readers.run(ready[i]);
    }
    return socket_readable;
}

}  // namespace sockserv
