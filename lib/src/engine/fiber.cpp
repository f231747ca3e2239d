#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include "fiber_context.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <mutex>


// The C++ runtime's per-thread record of the exceptions being handled (Itanium ABI, as libstdc++
// and libc++abi lay it out).
namespace __cxxabiv1 {
struct __cxa_eh_globals;
extern "C" __cxa_eh_globals* __cxa_get_globals() noexcept;
}  // namespace __cxxabiv1

namespace sockserv::detail {

namespace {

thread_local Fiber* running = nullptr;

std::size_t page_size() {
    static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return size;
}

// Freed stacks kept per pool: enough for a burst of short requests to reuse stacks instead of
// mapping new ones; beyond it they go back to the kernel.
constexpr std::size_t max_free_stacks = 256;

struct PooledStack {
    StackPool* pool;
    const char** bottom;  // where the fiber learns its stack's bounds
    boost::context::stack_context allocate() {
        const StackPool::Stack stack = pool->take();
        *bottom = static_cast<const char*>(stack.top) - stack.size;
        boost::context::stack_context context;
        context.sp = stack.top;
        context.size = stack.size;
        return context;
    }
    void deallocate(boost::context::stack_context& context) noexcept { pool->give({context.sp, context.size}); }
};

}  // namespace

StackPool::StackPool(std::size_t size) {
    const std::size_t page = page_size();
    size_ = std::max<std::size_t>((size + page - 1) / page * page, 4 * page);
}

StackPool::~StackPool() {
    for (const Stack& stack : free_) {
        char* top = static_cast<char*>(stack.top);
        ::munmap(top - stack.size - page_size(), stack.size + page_size());
    }
}

StackPool::Stack StackPool::take() {
    if (!free_.empty()) {
        const auto stack = free_.back();
        free_.pop_back();
        return stack;
    }
    const std::size_t page = page_size();
    // MAP_NORESERVE: a stack costs only the pages a fiber really touches.
    void* base = ::mmap(nullptr, size_ + page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) throw_errno("mmap fiber stack");
    if (::mprotect(base, page, PROT_NONE) != 0) {
        ::munmap(base, size_ + page);
        throw_errno("mprotect fiber stack guard");
    }
    return {static_cast<char*>(base) + page + size_, size_};
}

void StackPool::give(const Stack& stack) noexcept {
    if (free_.size() < max_free_stacks) {
        try {
            free_.push_back(stack);
            return;
        } catch (...) {
        }
    }
    char* top = static_cast<char*>(stack.top);
    ::munmap(top - stack.size - page_size(), stack.size + page_size());
}

Fiber* Fiber::current() noexcept { return running; }

void Fiber::swap_exception_state(ExceptionState& saved) noexcept {
    auto* globals = reinterpret_cast<ExceptionState*>(__cxxabiv1::__cxa_get_globals());
    std::swap(*globals, saved);
}

Fiber::Fiber(StackPool& pool, std::unique_ptr<FiberJob> job, int connection_fd)
    : job_(std::move(job)), connection_fd_(connection_fd) {
    stack_size_ = pool.stack_size();
    context_ = boost::context::fiber(std::allocator_arg, PooledStack{&pool, &stack_bottom_}, [this](boost::context::fiber&& loop) {
        loop_ = std::move(loop);
#if SOCKSERV_ASAN
        __sanitizer_finish_switch_fiber(nullptr, &loop_stack_bottom_, &loop_stack_size_);
#endif
        job_->run();
        job_.reset();  // the handler's state is destroyed here, on the fiber's stack
        finished_ = true;
        running = nullptr;
        swap_exception_state(exceptions_);
#if SOCKSERV_ASAN
        __sanitizer_start_switch_fiber(nullptr, loop_stack_bottom_, loop_stack_size_);  // never returns
#endif
#if SOCKSERV_TSAN
        __tsan_switch_to_fiber(tsan_loop_, 0);
#endif
        return std::move(loop_);
    });
#if SOCKSERV_TSAN
    tsan_fiber_ = __tsan_create_fiber(0);
#endif
}

Fiber::~Fiber() {
#if SOCKSERV_TSAN
    if (tsan_fiber_) __tsan_destroy_fiber(tsan_fiber_);
#endif
}

void Fiber::resume() {
    running = this;
    swap_exception_state(exceptions_);
#if SOCKSERV_TSAN
    tsan_loop_ = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
#if SOCKSERV_ASAN
    void* loop_fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&loop_fake_stack, stack_bottom_, stack_size_);
#endif
    context_ = std::move(context_).resume();
#if SOCKSERV_ASAN
    __sanitizer_finish_switch_fiber(loop_fake_stack, nullptr, nullptr);
#endif
    if (!finished_) {
        running = nullptr;
        swap_exception_state(exceptions_);
    }
}

void Fiber::suspend() {
    suspended_at_ = static_cast<const char*>(__builtin_frame_address(0));
    running = nullptr;
    swap_exception_state(exceptions_);
#if SOCKSERV_TSAN
    __tsan_switch_to_fiber(tsan_loop_, 0);
#endif
#if SOCKSERV_ASAN
    __sanitizer_start_switch_fiber(&fake_stack_, loop_stack_bottom_, loop_stack_size_);
#endif
    loop_ = std::move(loop_).resume();
#if SOCKSERV_ASAN
    __sanitizer_finish_switch_fiber(fake_stack_, &loop_stack_bottom_, &loop_stack_size_);
#endif
    swap_exception_state(exceptions_);
    running = this;
}

bool Fiber::trim_stack() noexcept {
    if (!suspended_at_ || !stack_bottom_) return false;
    // The frames below suspend()'s (the switch itself) take a few hundred bytes; 1 KiB is margin.
    const std::size_t page = page_size();
    const auto low = (reinterpret_cast<std::uintptr_t>(suspended_at_) - 1024) / page * page;
    const auto bottom = reinterpret_cast<std::uintptr_t>(stack_bottom_);
    if (low <= bottom) return false;
    return ::madvise(const_cast<char*>(stack_bottom_), low - bottom, MADV_DONTNEED) == 0;
}

// ---- The stack overflow report ----

namespace {

struct sigaction previous_segv {};
struct sigaction previous_bus {};

// In a signal handler: no allocation (std::to_string would).
std::string_view format_number(std::size_t value, std::array<char, 24>& digits) noexcept {
    std::size_t i = digits.size();
    do digits[--i] = static_cast<char>('0' + value % 10);
    while ((value /= 10) != 0 && i > 0);
    return {digits.data() + i, digits.size() - i};
}

void on_fault(int signal, siginfo_t* info, void* context) {
    const Fiber* fiber = running;
    const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    if (fiber && fiber->stack_bottom()) {
        const auto bottom = reinterpret_cast<std::uintptr_t>(fiber->stack_bottom());
        // The guard page, or (a large frame that skipped it) just below it.
        if (address < bottom && address + 16 * page_size() >= bottom) {
            std::array<char, 24> digits;
            log("sockserv: stack overflow in a fiber (event mode): its stack is ",
                format_number(fiber->stack_size(), digits), " bytes; raise --fiber-stack (ServerConfig::fiber_stack_size)");
            ::signal(signal, SIG_DFL);  // returning re-runs the faulting access, which now kills us
            return;
        }
    }
    const struct sigaction& before = signal == SIGSEGV ? previous_segv : previous_bus;
    if (before.sa_flags & SA_SIGINFO) {
        if (before.sa_sigaction) return before.sa_sigaction(signal, info, context);
    } else if (before.sa_handler != SIG_DFL && before.sa_handler != SIG_IGN && before.sa_handler) {
        return before.sa_handler(signal);
    }
    ::signal(signal, SIG_DFL);
}

struct AlternateStack {
    void* memory = nullptr;
    std::size_t size = 0;
    ~AlternateStack() {
        if (!memory) return;
        stack_t off{};
        off.ss_flags = SS_DISABLE;
        ::sigaltstack(&off, nullptr);
        ::munmap(memory, size);
    }
};

}  // namespace

void install_stack_overflow_report() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action {};
        action.sa_sigaction = on_fault;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGSEGV, &action, &previous_segv);
        ::sigaction(SIGBUS, &action, &previous_bus);
    });
    thread_local AlternateStack alternate;
    stack_t current{};
    if (alternate.memory || (::sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE))) return;
    const std::size_t size = 64 * 1024;
    void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return;  // no report then, but the fault still kills (the guard page)
    stack_t stack{};
    stack.ss_sp = memory;
    stack.ss_size = size;
    if (::sigaltstack(&stack, nullptr) != 0) {
        ::munmap(memory, size);
        return;
    }
    alternate.memory = memory;
    alternate.size = size;
}

}  // namespace sockserv::detail
