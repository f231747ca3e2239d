#pragma once
// Metrics: counters, gauges and histograms that every process of a program adds to — the pool's
// workers, fork mode's children, every thread and fiber — and one set of numbers for the whole
// program, in Prometheus's text exposition format (0.0.4).
//
//   sockserv::Shared<sockserv::metrics::Registry> registry;          // before anything forks
//   auto served = registry->counter("myapp_files_served_total", "Files served.");
//   auto took = registry->histogram("myapp_seconds", "Time to serve.", {0.001, 0.01, 0.1, 1});
//   served.add();  took.observe(0.004);                               // from any process or thread
//   std::string text = registry->exposition();                        // what GET /metrics answers
//
// Why it is built so:
// - The numbers live in the registry, in shared memory made before the first fork: a child's or
//   a worker's counts are in the parent's view the moment they are made, and a worker that dies
//   and is replaced loses nothing (its counts stay where it put them). Counters never go back.
// - Each process counts in a slot of its own (use_slot(), called by a pool's worker with its slot
//   number), so workers on different cores never write the same cache line; the exposition sums
//   the slots. A slot is never cleared, so a replacement worker adds to its predecessor's counts.
// - An increment is one relaxed atomic add on memory that already exists: no lock, no allocation,
//   no lookup (a handle holds its metric's index). A histogram's observation is a bucket add, a
//   count add and a compare-and-swap loop for the sum.
// - Metrics are declared before serving (declaring takes a lock and may fail when the registry is
//   full); a second declaration of the same name returns the same metric.

#include <sockserv/process/process_mutex.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sockserv::metrics {

enum class Kind : std::uint8_t { counter, gauge, histogram };

class Registry;

/// A count that only grows (requests, bytes). Copyable handle; valid while its registry lives.
class Counter {
public:
    void add(std::uint64_t n = 1) const noexcept;

private:
    friend class Registry;
    Counter(Registry* registry, std::uint32_t index) noexcept : registry_(registry), index_(index) {}
    Registry* registry_;
    std::uint32_t index_;
};

/// A value that goes up and down (connections open, workers alive). Each slot holds its own
/// share; the exposition shows their sum.
class Gauge {
public:
    void add(std::int64_t n) const noexcept;
    void sub(std::int64_t n) const noexcept { add(-n); }
    /// This slot's share becomes value (a process's own figure: its threads, its fibers).
    void set(std::int64_t value) const noexcept;

private:
    friend class Registry;
    Gauge(Registry* registry, std::uint32_t index) noexcept : registry_(registry), index_(index) {}
    Registry* registry_;
    std::uint32_t index_;
};

/// Observations counted into buckets by upper bound (Prometheus's cumulative `le` buckets are made
/// at exposition), with their count and sum.
class Histogram {
public:
    void observe(double value) const noexcept;

private:
    friend class Registry;
    Histogram(Registry* registry, std::uint32_t index) noexcept : registry_(registry), index_(index) {}
    Registry* registry_;
    std::uint32_t index_;
};

/// A name that is not a Prometheus metric name, a registry full, or a name declared again as
/// another kind (or a histogram with other buckets).
class DeclarationError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

/// The numbers, all of them: put it in shared memory (Shared<Registry>, whose mapping starts zeroed)
/// before anything forks. Holds nothing that points into ordinary memory.
class Registry {
public:
    static constexpr std::size_t max_metrics = 96;
    /// Processes that count apart: a pool's workers (their slot), plus slot 0 for everyone else.
    static constexpr std::size_t max_slots = 66;
    /// Upper bounds a histogram may have (+Inf is always added).
    static constexpr std::size_t max_bounds = 14;
    static constexpr std::size_t max_name = 64;
    static constexpr std::size_t max_help = 160;

    Registry() = default;
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    Counter counter(std::string_view name, std::string_view help);
    Gauge gauge(std::string_view name, std::string_view help);
    Histogram histogram(std::string_view name, std::string_view help, std::initializer_list<double> bounds);
    Histogram histogram(std::string_view name, std::string_view help, std::span<const double> bounds);

    /// From now on this process counts in `slot` (0 .. max_slots-1; larger ones wrap onto the
    /// last). A pool's worker calls it with 1 + its slot number; everyone else counts in slot 0.
    static void use_slot(std::size_t slot) noexcept;

    /// Every metric, summed over the slots, in the text exposition format 0.0.4, in the order
    /// they were declared.
    std::string exposition() const;
    /// One metric's sum over the slots (tests, /status): a counter's or gauge's value, a
    /// histogram's count. Throws std::out_of_range for an unknown name.
    double value(std::string_view name) const;

    /// Prometheus's rule for metric names: [a-zA-Z_:][a-zA-Z0-9_:]*.
    static bool valid_name(std::string_view name) noexcept;

private:
    friend class Counter;
    friend class Gauge;
    friend class Histogram;

    // One metric's numbers in one slot: its value, and for a histogram its buckets (the last is
    // +Inf), count and sum (a double's bits). A cache line or more each, so slots never share one.
    static constexpr std::size_t cells_per_metric = max_bounds + 3;
    struct alignas(64) SlotCells {
        std::uint64_t cells[cells_per_metric];  // updated through std::atomic_ref only
    };
    struct Declared {
        std::array<char, max_name> name{};
        std::array<char, max_help> help{};
        Kind kind = Kind::counter;
        std::uint8_t bound_count = 0;
        std::array<double, max_bounds> bounds{};
        std::string_view view() const noexcept;
    };

    std::uint32_t declare(std::string_view name, std::string_view help, Kind kind, std::span<const double> bounds);
    std::uint64_t* cells(std::uint32_t index) noexcept;
    std::uint64_t sum(std::uint32_t index, std::size_t cell) const noexcept;

    ProcessMutex declaring_;
    std::atomic<std::uint32_t> count_{0};
    std::array<Declared, max_metrics> declared_{};
    // Raw storage, never constructed: the mapping is zeroed already, and constructing ~1 MB of
    // cells up front would fault in every page for a program that declares ten metrics.
    union Storage {
        Storage() noexcept {}
        SlotCells slots[max_slots][max_metrics];
    } storage_;
};

}  // namespace sockserv::metrics
