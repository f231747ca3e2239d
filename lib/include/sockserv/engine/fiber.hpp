#pragma once
// Fiber: a request's own small stack, switched to and from by its event loop (event mode).
//
// The switch is Boost.Context's fcontext (a few nanoseconds). Each stack has a guard page below it,
// so an overflow faults at once — and the fault handler names the fiber — instead of writing over
// whatever lies below. Stacks come from a per-loop pool: a connection costs no mmap/munmap.
//
// What a switch carries besides registers: the sanitizers are told about it (ASan's and TSan's
// fiber annotations, in the sanitizer builds), and so is the C++ runtime's per-thread record of
// exceptions being handled, which belongs to the fiber and not to the thread (a fiber suspended
// inside a catch block must not end another fiber's catch).
//
// Not thread safe: a fiber lives, runs and dies on its loop's thread.
//
// This header holds what event_loop.hpp needs; the Fiber itself, which holds Boost.Context's
// types, is the library's own (src/fiber_context.hpp), so user code never parses Boost.Context.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace sockserv::detail {

/// Stacks of one size with a guard page each, kept for reuse when freed.
class StackPool {
public:
    /// size: usable bytes per stack (rounded up to whole pages).
    explicit StackPool(std::size_t size);
    ~StackPool();
    StackPool(const StackPool&) = delete;
    StackPool& operator=(const StackPool&) = delete;

    /// A stack: `top` is its highest address (stacks grow down), `size` its usable bytes.
    struct Stack {
        void* top = nullptr;
        std::size_t size = 0;
    };
    Stack take();
    void give(const Stack& stack) noexcept;
    std::size_t stack_size() const noexcept { return size_; }

private:
    std::size_t size_;
    std::vector<Stack> free_;
};

/// What a fiber runs. run() must not throw.
struct FiberJob {
    virtual ~FiberJob() = default;
    virtual void run() noexcept = 0;
};

class Fiber;

/// Installs, once per process, the SIGSEGV/SIGBUS handler that reports a fiber's stack overflow
/// ("sockserv: stack overflow in a fiber ...") before the process dies of it; other faults go on to
/// the handler that was there before (the sanitizers') or the default action. Each loop thread
/// calls it: it also gives the calling thread the alternate signal stack the handler runs on (an
/// overflowed stack has no room left for a handler).
void install_stack_overflow_report();

}  // namespace sockserv::detail
