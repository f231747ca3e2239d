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
//   full); a second declaration of the same name and labels returns the same metric.
// - A handle made without a registry (Counter{}) counts nothing: code that counts need not ask
//   whether metrics are on.
// - Series: a metric may carry fixed labels (Series::labels, `cause="timeout"`): the series of
//   one name form a family, shown together. Series::per_worker shows one series per pool worker
//   (label worker="N": its own slot's figure) instead of their sum, for what an operator needs per
//   worker (its pid, its requests, its restarts). Series::maximum makes a gauge the largest slot's
//   value (the longest event-loop round of any process), Series::unit scales what is shown (a
//   gauge kept in nanoseconds, shown in seconds). Series::also_per_worker shows one metric twice,
//   summed under its name and per worker under another, from the same cells: one add, not two.

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

/// How a metric's numbers are shown (see the top of this file).
struct Series {
    std::string_view labels{};  // `cause="timeout"`: one series of a labelled family
    bool per_worker = false;    // one series per pool worker, label worker="N"
    bool maximum = false;       // gauges: the largest slot's value, not the sum
    double unit = 1;            // shown multiplied by this
    std::string_view also_per_worker{};  // also shown per worker, as a family of this name
};

/// A count that only grows (requests, bytes). Copyable handle; valid while its registry lives.
class Counter {
public:
    Counter() noexcept = default;  // counts nothing
    void add(std::uint64_t n = 1) const noexcept;
    /// Adds in a given slot (a pool's master counting a worker's restarts in the worker's slot).
    void add_in_slot(std::size_t slot, std::uint64_t n = 1) const noexcept;
    explicit operator bool() const noexcept { return registry_ != nullptr; }

private:
    friend class Registry;
    Counter(Registry* registry, std::uint32_t index) noexcept : registry_(registry), index_(index) {}
    Registry* registry_ = nullptr;
    std::uint32_t index_ = 0;
};

/// A value that goes up and down (connections open, workers alive). Each slot holds its own
/// share; the exposition shows their sum (or, with Series::maximum, the largest).
class Gauge {
public:
    Gauge() noexcept = default;  // counts nothing
    void add(std::int64_t n) const noexcept;
    void sub(std::int64_t n) const noexcept { add(-n); }
    /// This slot's share becomes value (a process's own figure: its threads, its fibers).
    void set(std::int64_t value) const noexcept;
    void set_in_slot(std::size_t slot, std::int64_t value) const noexcept;
    /// This slot's share becomes value if that is larger (a longest-ever figure).
    void raise_to(std::int64_t value) const noexcept;
    explicit operator bool() const noexcept { return registry_ != nullptr; }

private:
    friend class Registry;
    Gauge(Registry* registry, std::uint32_t index) noexcept : registry_(registry), index_(index) {}
    Registry* registry_ = nullptr;
    std::uint32_t index_ = 0;
};

/// Observations counted into buckets by upper bound (Prometheus's cumulative `le` buckets are made
/// at exposition), with their count and sum.
class Histogram {
public:
    Histogram() noexcept = default;  // counts nothing
    void observe(double value) const noexcept;
    explicit operator bool() const noexcept { return registry_ != nullptr; }

private:
    friend class Registry;
    Histogram(Registry* registry, std::uint32_t index) noexcept : registry_(registry), index_(index) {}
    Registry* registry_ = nullptr;
    std::uint32_t index_ = 0;
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
    static constexpr std::size_t max_metrics = 128;
    /// Processes that count apart: a pool's workers (their slot), plus slot 0 for everyone else.
    static constexpr std::size_t max_slots = 66;
    /// Upper bounds a histogram may have (+Inf is always added).
    static constexpr std::size_t max_bounds = 14;
    static constexpr std::size_t max_name = 64;
    static constexpr std::size_t max_help = 200;
    static constexpr std::size_t max_labels = 64;

    Registry() = default;
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    Counter counter(std::string_view name, std::string_view help, const Series& series = {});
    Gauge gauge(std::string_view name, std::string_view help, const Series& series = {});
    Histogram histogram(std::string_view name, std::string_view help, std::initializer_list<double> bounds,
                        const Series& series = {});
    Histogram histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                        const Series& series = {});

    /// From now on this process counts in `slot` (0 .. max_slots-1; larger ones wrap onto the
    /// last). A pool's worker calls it with 1 + its slot number; everyone else counts in slot 0.
    static void use_slot(std::size_t slot) noexcept;
    /// How many pool workers there are (slots 1..n): per-worker series are shown for each. 0 (no
    /// pool): one series, worker="0", for the whole process.
    void set_workers(std::size_t n) noexcept { workers_.store(n, std::memory_order_relaxed); }

    /// Every metric, summed over the slots, in the text exposition format 0.0.4, in the order
    /// they were declared.
    std::string exposition() const;
    /// One series' value as shown (tests, /status): a counter's or gauge's, a histogram's count;
    /// a per-worker series' sum over the workers. Throws std::out_of_range for an unknown one.
    double value(std::string_view name, std::string_view labels = {}) const;

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
        std::array<char, max_labels> labels{};
        std::array<char, max_name> per_worker_name{};  // Series::also_per_worker
        Kind kind = Kind::counter;
        bool per_worker = false;
        bool maximum = false;
        double unit = 1;
        std::uint8_t bound_count = 0;
        std::array<double, max_bounds> bounds{};
        std::string_view view() const noexcept;
        std::string_view label_view() const noexcept;
    };

    std::uint32_t declare(std::string_view name, std::string_view help, Kind kind, std::span<const double> bounds,
                          const Series& series);
    std::uint64_t* cells(std::uint32_t index) noexcept;
    std::uint64_t* cells(std::uint32_t index, std::size_t slot) noexcept;
    std::uint64_t cell(std::size_t slot, std::uint32_t index, std::size_t cell) const noexcept;
    std::uint64_t sum(std::uint32_t index, std::size_t cell) const noexcept;
    // A counter's or gauge's value over the given slots, as shown.
    double shown(std::uint32_t index, std::size_t first_slot, std::size_t end_slot) const noexcept;
    void append_series(std::string& text, std::uint32_t index, std::string_view name, bool per_worker) const;

    ProcessMutex declaring_;
    std::atomic<std::uint32_t> count_{0};
    std::atomic<std::size_t> workers_{0};
    std::array<Declared, max_metrics> declared_{};
    // Raw storage, never constructed: the mapping is zeroed already, and constructing ~1 MB of
    // cells up front would fault in every page for a program that declares ten metrics.
    union Storage {
        Storage() noexcept {}
        SlotCells slots[max_slots][max_metrics];
    } storage_;
};

/// Declares in registry, or, without one (metrics off), gives a handle that counts nothing.
inline Counter counter(Registry* registry, std::string_view name, std::string_view help, const Series& series = {}) {
    return registry ? registry->counter(name, help, series) : Counter{};
}
inline Gauge gauge(Registry* registry, std::string_view name, std::string_view help, const Series& series = {}) {
    return registry ? registry->gauge(name, help, series) : Gauge{};
}
inline Histogram histogram(Registry* registry, std::string_view name, std::string_view help,
                           std::initializer_list<double> bounds, const Series& series = {}) {
    return registry ? registry->histogram(name, help, bounds, series) : Histogram{};
}

}  // namespace sockserv::metrics
