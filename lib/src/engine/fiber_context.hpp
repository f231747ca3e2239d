#pragma once
// The fiber proper (see <sockserv/engine/fiber.hpp>): its Boost.Context switch and its sanitizer
// bookkeeping. Private to the library.

#include <sockserv/engine/fiber.hpp>

#include <boost/context/fiber.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

// GCC names the sanitizers with macros; clang 14 (the fuzz build) only through __has_feature.
#if defined(__has_feature)
#define SOCKSERV_HAS_FEATURE(name) __has_feature(name)
#else
#define SOCKSERV_HAS_FEATURE(name) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || SOCKSERV_HAS_FEATURE(address_sanitizer)
#include <sanitizer/common_interface_defs.h>
#define SOCKSERV_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) || SOCKSERV_HAS_FEATURE(thread_sanitizer)
#include <sanitizer/tsan_interface.h>
#define SOCKSERV_TSAN 1
#endif

namespace sockserv::detail {

class Fiber {
public:
    Fiber(StackPool& pool, std::unique_ptr<FiberJob> job, int connection_fd);
    ~Fiber();
    Fiber(const Fiber&) = delete;
    Fiber& operator=(const Fiber&) = delete;

    /// From the loop: runs the fiber until it suspends or finishes.
    void resume();
    /// From inside the fiber: back to the loop, until someone resumes it.
    void suspend();
    bool finished() const noexcept { return finished_; }
    /// The connection the fiber serves (-1: none), for unblocking it on close.
    int connection_fd() const noexcept { return connection_fd_; }
    /// The lowest usable byte of the stack; the guard page lies just below it.
    const char* stack_bottom() const noexcept { return stack_bottom_; }
    std::size_t stack_size() const noexcept { return stack_size_; }

    /// The fiber running on this thread, or nullptr in a loop's own context or a plain thread.
    static Fiber* current() noexcept;

    // The loop's list of live fibers (intrusive: no allocation per fiber beyond the fiber).
    Fiber* prev = nullptr;
    Fiber* next = nullptr;
    // Queued to run (at most once at a time).
    bool queued = false;
    // The loop's trim pass (EventLoop::trim_idle_stacks): when it last saw the fiber run, and
    // whether the stack below where it is suspended has been given back since.
    std::uint64_t ran_in_period = 0;
    bool trimmed = false;
    /// Gives back to the kernel the pages of the stack below where the fiber is suspended: what a
    /// deeper moment of its request touched, now dead (zero-filled if touched again). False when
    /// there was nothing to give. Loop thread only, on a suspended fiber.
    bool trim_stack() noexcept;
    /// Asks the cache for the part of the stack the fiber resumes on: at thousands of connections
    /// a fiber's frames have long left the cache by its next request, and a miss on each line
    /// as it runs stalls the loop. Called for the next fiber while this one runs.
    void prefetch_stack() const noexcept {
        if (!suspended_at_) return;
        // From just below suspend()'s frame (the switch's saved registers) up through the frames
        // that return to the handler: an idle wait's live stack is under a page (trim_stack).
        const char* const top = stack_bottom_ + stack_size_;
        const char* const to = top - suspended_at_ > 4096 ? suspended_at_ + 4096 : top;
        for (const char* line = suspended_at_ - 256; line < to; line += 64) __builtin_prefetch(line, 1, 3);
    }

private:
    struct ExceptionState {
        void* caught = nullptr;
        unsigned int uncaught = 0;
    };
    static void swap_exception_state(ExceptionState& saved) noexcept;

    boost::context::fiber context_;   // the fiber, while it is suspended
    boost::context::fiber loop_;      // the loop, while the fiber runs
    std::unique_ptr<FiberJob> job_;
    int connection_fd_;
    bool finished_ = false;
    const char* stack_bottom_ = nullptr;
    std::size_t stack_size_ = 0;
    const char* suspended_at_ = nullptr;  // a frame address in suspend(), while suspended
    ExceptionState exceptions_;       // the fiber's, while it is suspended; the loop's, while it runs
    // Sanitizer bookkeeping (unused in plain builds).
    [[maybe_unused]] void* fake_stack_ = nullptr;
    [[maybe_unused]] const void* loop_stack_bottom_ = nullptr;
    [[maybe_unused]] std::size_t loop_stack_size_ = 0;
    [[maybe_unused]] void* tsan_fiber_ = nullptr;
    [[maybe_unused]] void* tsan_loop_ = nullptr;
};


}  // namespace sockserv::detail
