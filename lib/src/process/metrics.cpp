#include <sockserv/process/metrics.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

namespace sockserv::metrics {

namespace {

// This process's slot: set once by a pool's worker after its fork, read by every increment.
std::size_t this_slot = 0;

std::atomic_ref<std::uint64_t> at(std::uint64_t& cell) noexcept { return std::atomic_ref<std::uint64_t>(cell); }

void copy_into(std::span<char> out, std::string_view text) {
    const std::size_t n = std::min(out.size() - 1, text.size());
    if (n > 0) std::memcpy(out.data(), text.data(), n);  // an empty view's data() may be null
    out[n] = '\0';
}

// A number as Prometheus reads it: the shortest text that reads back as the same double ("0.1",
// "42"), +Inf spelled so.
std::string number(double value) {
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (std::isnan(value)) return "NaN";
    char text[64];
    const auto end = std::to_chars(text, text + sizeof text, value).ptr;
    return std::string(text, end);
}

// HELP text: backslash and newline escaped, as the format asks.
std::string escaped_help(std::string_view help) {
    std::string out;
    for (const char c : help) {
        if (c == '\\') out.append("\\\\");
        else if (c == '\n') out.append("\\n");
        else out.push_back(c);
    }
    return out;
}

// {a,b} of the non-empty label lists, or nothing.
std::string braces(std::string_view labels, std::string_view more = {}) {
    if (labels.empty() && more.empty()) return {};
    std::string text = "{";
    text.append(labels);
    if (!labels.empty() && !more.empty()) text.push_back(',');
    text.append(more).push_back('}');
    return text;
}

}  // namespace

std::string_view Registry::Declared::view() const noexcept { return {name.data(), std::strlen(name.data())}; }
std::string_view Registry::Declared::label_view() const noexcept { return {labels.data(), std::strlen(labels.data())}; }

bool Registry::valid_name(std::string_view name) noexcept {
    if (name.empty() || name.size() >= max_name) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

namespace {
// name="value" pairs, comma-separated, values without quotes, backslashes or newlines: what a
// program writes as a fixed label set.
bool valid_labels(std::string_view labels) noexcept {
    while (!labels.empty()) {
        const auto equals = labels.find('=');
        if (equals == std::string_view::npos || !Registry::valid_name(labels.substr(0, equals)) ||
            labels.substr(0, equals).find(':') != std::string_view::npos)
            return false;
        labels.remove_prefix(equals + 1);
        if (labels.size() < 2 || labels[0] != '"') return false;
        const auto close = labels.find('"', 1);
        if (close == std::string_view::npos) return false;
        if (labels.substr(1, close - 1).find_first_of("\\\n") != std::string_view::npos) return false;
        labels.remove_prefix(close + 1);
        if (!labels.empty()) {
            if (labels[0] != ',') return false;
            labels.remove_prefix(1);
            if (labels.empty()) return false;
        }
    }
    return true;
}
}  // namespace

void Registry::use_slot(std::size_t slot) noexcept { this_slot = std::min(slot, max_slots - 1); }

std::uint64_t* Registry::cells(std::uint32_t index) noexcept { return storage_.slots[this_slot][index].cells; }
std::uint64_t* Registry::cells(std::uint32_t index, std::size_t slot) noexcept {
    return storage_.slots[std::min(slot, max_slots - 1)][index].cells;
}

std::uint64_t Registry::cell(std::size_t slot, std::uint32_t index, std::size_t cell) const noexcept {
    return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(storage_.slots[slot][index].cells[cell]))
        .load(std::memory_order_relaxed);
}

std::uint64_t Registry::sum(std::uint32_t index, std::size_t cell_index) const noexcept {
    std::uint64_t total = 0;
    for (std::size_t slot = 0; slot < max_slots; ++slot) total += cell(slot, index, cell_index);
    return total;
}

namespace {
// A whole number in the metric's unit: divided by the unit's inverse when that is a whole number
// (1e-9: by 1e9, exact), so nanoseconds shown as seconds read 0.00027715, not 0.00027715000000000004.
double in_unit(double value, double unit) noexcept {
    if (unit < 1) {
        const double inverse = std::round(1 / unit);
        if (std::abs(inverse * unit - 1) < 1e-12) return value / inverse;
    }
    return value * unit;
}
}  // namespace

double Registry::shown(std::uint32_t index, std::size_t first_slot, std::size_t end_slot) const noexcept {
    const Declared& metric = declared_[index];
    if (metric.kind == Kind::counter) {
        std::uint64_t total = 0;
        for (std::size_t slot = first_slot; slot < end_slot; ++slot) total += cell(slot, index, 0);
        return in_unit(static_cast<double>(total), metric.unit);
    }
    std::int64_t total = 0;
    for (std::size_t slot = first_slot; slot < end_slot; ++slot) {
        const auto value = static_cast<std::int64_t>(cell(slot, index, 0));
        total = metric.maximum ? std::max(total, value) : total + value;
    }
    return in_unit(static_cast<double>(total), metric.unit);
}

std::uint32_t Registry::declare(std::string_view name, std::string_view help, Kind kind, std::span<const double> bounds,
                                const Series& series) {
    if (!valid_name(name)) throw DeclarationError("metric name \"" + std::string(name) + "\" is not a Prometheus name");
    if (!series.also_per_worker.empty() && (!valid_name(series.also_per_worker) || !series.labels.empty()))
        throw DeclarationError("metric " + std::string(name) + ": also_per_worker needs a name and no labels");
    if (series.labels.size() >= max_labels || !valid_labels(series.labels))
        throw DeclarationError("metric " + std::string(name) + ": labels " + std::string(series.labels) +
                               " are not name=\"value\" pairs");
    if (bounds.size() > max_bounds)
        throw DeclarationError("metric " + std::string(name) + ": more than " + std::to_string(max_bounds) + " buckets");
    if (!std::is_sorted(bounds.begin(), bounds.end()) ||
        std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end())
        throw DeclarationError("metric " + std::string(name) + ": bucket bounds must increase");
    std::lock_guard lock(declaring_);
    const std::uint32_t count = count_.load(std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < count; ++i) {
        const Declared& existing = declared_[i];
        if (existing.view() != name) continue;
        // One family: every series of a name is of one kind (and a histogram's, of one bucket set).
        const bool same = existing.kind == kind && existing.bound_count == bounds.size() &&
                          std::equal(bounds.begin(), bounds.end(), existing.bounds.begin());
        if (!same) throw DeclarationError("metric " + std::string(name) + " declared again differently");
        if (existing.label_view() == series.labels) return i;
    }
    if (count >= max_metrics) throw DeclarationError("metrics registry full (" + std::to_string(max_metrics) + ")");
    Declared& entry = declared_[count];
    copy_into(entry.name, name);
    copy_into(entry.help, help);
    copy_into(entry.labels, series.labels);
    copy_into(entry.per_worker_name, series.also_per_worker);
    entry.kind = kind;
    entry.per_worker = series.per_worker;
    entry.maximum = series.maximum;
    entry.unit = series.unit;
    entry.bound_count = static_cast<std::uint8_t>(bounds.size());
    std::copy(bounds.begin(), bounds.end(), entry.bounds.begin());
    count_.store(count + 1, std::memory_order_release);
    return count;
}

Counter Registry::counter(std::string_view name, std::string_view help, const Series& series) {
    return Counter(this, declare(name, help, Kind::counter, {}, series));
}
Gauge Registry::gauge(std::string_view name, std::string_view help, const Series& series) {
    return Gauge(this, declare(name, help, Kind::gauge, {}, series));
}
Histogram Registry::histogram(std::string_view name, std::string_view help, std::initializer_list<double> bounds,
                              const Series& series) {
    return histogram(name, help, std::span<const double>(bounds.begin(), bounds.size()), series);
}
Histogram Registry::histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                              const Series& series) {
    return Histogram(this, declare(name, help, Kind::histogram, bounds, series));
}

void Counter::add(std::uint64_t n) const noexcept {
    if (registry_) at(registry_->cells(index_)[0]).fetch_add(n, std::memory_order_relaxed);
}

void Counter::add_in_slot(std::size_t slot, std::uint64_t n) const noexcept {
    if (registry_) at(registry_->cells(index_, slot)[0]).fetch_add(n, std::memory_order_relaxed);
}

void Gauge::add(std::int64_t n) const noexcept {
    if (registry_) at(registry_->cells(index_)[0]).fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
}

void Gauge::set(std::int64_t value) const noexcept {
    if (registry_) at(registry_->cells(index_)[0]).store(static_cast<std::uint64_t>(value), std::memory_order_relaxed);
}

void Gauge::set_in_slot(std::size_t slot, std::int64_t value) const noexcept {
    if (registry_) at(registry_->cells(index_, slot)[0]).store(static_cast<std::uint64_t>(value), std::memory_order_relaxed);
}

void Gauge::raise_to(std::int64_t value) const noexcept {
    if (!registry_) return;
    auto cell = at(registry_->cells(index_)[0]);
    std::uint64_t old = cell.load(std::memory_order_relaxed);
    while (static_cast<std::int64_t>(old) < value &&
           !cell.compare_exchange_weak(old, static_cast<std::uint64_t>(value), std::memory_order_relaxed)) {
    }
}

void Histogram::observe(double value) const noexcept {
    if (!registry_) return;
    const Registry::Declared& declared = registry_->declared_[index_];
    std::uint64_t* cells = registry_->cells(index_);
    std::size_t bucket = 0;
    while (bucket < declared.bound_count && value > declared.bounds[bucket]) ++bucket;
    at(cells[bucket]).fetch_add(1, std::memory_order_relaxed);
    at(cells[Registry::max_bounds + 1]).fetch_add(1, std::memory_order_relaxed);
    // The sum is a double kept as its bits: add by compare-and-swap (lock-free; the slot is this
    // process's, so only its own threads ever contend).
    auto sum = at(cells[Registry::max_bounds + 2]);
    std::uint64_t old_bits = sum.load(std::memory_order_relaxed);
    while (!sum.compare_exchange_weak(old_bits, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old_bits) + value),
                                      std::memory_order_relaxed)) {
    }
}

double Registry::value(std::string_view name, std::string_view labels) const {
    const std::uint32_t count = count_.load(std::memory_order_acquire);
    for (std::uint32_t i = 0; i < count; ++i) {
        if (declared_[i].view() != name || declared_[i].label_view() != labels) continue;
        if (declared_[i].kind == Kind::histogram) return static_cast<double>(sum(i, max_bounds + 1));
        return shown(i, 0, max_slots);
    }
    throw std::out_of_range("no metric named " + std::string(name) + braces(labels));
}

void Registry::append_series(std::string& text, std::uint32_t i, std::string_view name, bool per_worker) const {
    const Declared& metric = declared_[i];
    const std::string_view labels = metric.label_view();
    // Per worker: slots 1..n, shown as workers 0..n-1; without a pool, the process as worker 0.
    struct Range {
        std::size_t first, end;
        std::string worker;  // the label, or empty: all slots summed
    };
    std::vector<Range> ranges;
    if (per_worker) {
        const std::size_t workers = std::min(workers_.load(std::memory_order_relaxed), max_slots - 1);
        if (workers == 0) ranges.push_back({0, 1, "worker=\"0\""});
        for (std::size_t w = 0; w < workers; ++w) ranges.push_back({w + 1, w + 2, "worker=\"" + std::to_string(w) + "\""});
    } else {
        ranges.push_back({0, max_slots, {}});
    }
    for (const Range& range : ranges) {
        if (metric.kind != Kind::histogram) {
            text.append(name).append(braces(labels, range.worker)).append(" ").append(number(shown(i, range.first, range.end))).append("\n");
            continue;
        }
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b <= metric.bound_count; ++b) {
            for (std::size_t slot = range.first; slot < range.end; ++slot) cumulative += cell(slot, i, b);
            const std::string le = "le=\"" + (b < metric.bound_count ? number(metric.bounds[b]) : std::string("+Inf")) + "\"";
            std::string all(labels);
            if (!range.worker.empty()) all.append(all.empty() ? "" : ",").append(range.worker);
            text.append(name).append("_bucket").append(braces(all, le)).append(" ").append(number(static_cast<double>(cumulative))).append("\n");
        }
        double total = 0;
        for (std::size_t slot = range.first; slot < range.end; ++slot)
            total += std::bit_cast<double>(cell(slot, i, max_bounds + 2));
        text.append(name).append("_sum").append(braces(labels, range.worker)).append(" ").append(number(total)).append("\n");
        text.append(name).append("_count").append(braces(labels, range.worker)).append(" ").append(number(static_cast<double>(cumulative))).append("\n");
    }
}

std::string Registry::exposition() const {
    std::string text;
    const std::uint32_t count = count_.load(std::memory_order_acquire);
    std::vector<bool> shown_already(count, false);
    for (std::uint32_t i = 0; i < count; ++i) {
        if (shown_already[i]) continue;
        const Declared& metric = declared_[i];
        const std::string name(metric.view());
        static constexpr const char* kinds[] = {"counter", "gauge", "histogram"};
        text.append("# HELP ").append(name).append(" ").append(escaped_help(metric.help.data())).append("\n");
        text.append("# TYPE ").append(name).append(" ").append(kinds[static_cast<int>(metric.kind)]).append("\n");
        // The family: every series of this name, together, in the order declared.
        for (std::uint32_t j = i; j < count; ++j)
            if (declared_[j].view() == name) {
                append_series(text, j, name, declared_[j].per_worker);
                shown_already[j] = true;
            }
        if (metric.per_worker_name[0] != '\0') {
            const std::string_view per_worker(metric.per_worker_name.data());
            text.append("# HELP ").append(per_worker).append(" ").append(escaped_help(metric.help.data())).append(" Per worker.\n");
            text.append("# TYPE ").append(per_worker).append(" ").append(kinds[static_cast<int>(metric.kind)]).append("\n");
            append_series(text, i, per_worker, true);
        }
    }
    return text;
}

}  // namespace sockserv::metrics
