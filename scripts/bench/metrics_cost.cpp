// What one increment of a metric costs on the request path: nanoseconds per Counter::add, Gauge::add
// and Histogram::observe, from one thread and from two at once (two processes' workers count in
// slots of their own; two threads of one process share a slot, the worst case), and how many heap
// allocations the increments made (global operator new is counted here: it must stay 0).
//   metrics_cost [INCREMENTS per thread, default 20000000]

#include <sockserv/process/metrics.hpp>
#include <sockserv/process/shared_memory.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace {
std::atomic<std::uint64_t> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 20'000'000;
    sockserv::Shared<sockserv::metrics::Registry> registry;
    const auto counter = registry->counter("bench_total", "A counter.");
    const auto gauge = registry->gauge("bench_open", "A gauge.");
    const auto histogram = registry->histogram("bench_seconds", "A histogram.",
                                               {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60});
    const auto measure = [&](const char* what, int threads, auto body) {
        std::vector<std::thread> running;
        running.reserve(static_cast<std::size_t>(threads));
        const std::uint64_t before = allocations.load();
        const auto start = std::chrono::steady_clock::now();
        for (int t = 0; t < threads; ++t)
            running.emplace_back([&] {
                for (long i = 0; i < n; ++i) body(i);
            });
        for (auto& thread : running) thread.join();
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / static_cast<double>(n);
        // The threads' own start-up allocates (std::thread's state): one per thread, not per increment.
        const std::uint64_t made = allocations.load() - before - static_cast<std::uint64_t>(threads);
        std::printf("%-22s %d thread%s  %6.2f ns per increment  allocations: %llu\n", what, threads, threads == 1 ? " " : "s", ns,
                    static_cast<unsigned long long>(made));
    };
    for (const int threads : {1, 2}) {
        measure("Counter::add", threads, [&](long) { counter.add(); });
        measure("Gauge::add", threads, [&](long i) { gauge.add(i & 1 ? 1 : -1); });
        measure("Histogram::observe", threads, [&](long i) { histogram.observe(static_cast<double>(i & 1023) * 1e-4); });
    }
    std::printf("sum check: %.0f increments counted\n", registry->value("bench_total"));
    return 0;
}
