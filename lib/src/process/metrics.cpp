#include <sockserv/process/metrics.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <mutex>

namespace sockserv::metrics {

namespace {

// This process's slot: set once by a pool's worker after its fork, read by every increment.
std::size_t this_slot = 0;

std::atomic_ref<std::uint64_t> at(std::uint64_t& cell) noexcept { return std::atomic_ref<std::uint64_t>(cell); }

void copy_into(std::span<char> out, std::string_view text) {
    const std::size_t n = std::min(out.size() - 1, text.size());
    std::memcpy(out.data(), text.data(), n);
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

}  // namespace

std::string_view Registry::Declared::view() const noexcept { return {name.data(), std::strlen(name.data())}; }

bool Registry::valid_name(std::string_view name) noexcept {
    if (name.empty() || name.size() >= max_name) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

void Registry::use_slot(std::size_t slot) noexcept { this_slot = std::min(slot, max_slots - 1); }

std::uint64_t* Registry::cells(std::uint32_t index) noexcept { return storage_.slots[this_slot][index].cells; }

std::uint64_t Registry::sum(std::uint32_t index, std::size_t cell) const noexcept {
    std::uint64_t total = 0;
    for (std::size_t slot = 0; slot < max_slots; ++slot)
        total += std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(storage_.slots[slot][index].cells[cell]))
                     .load(std::memory_order_relaxed);
    return total;
}

std::uint32_t Registry::declare(std::string_view name, std::string_view help, Kind kind, std::span<const double> bounds) {
    if (!valid_name(name)) throw DeclarationError("metric name \"" + std::string(name) + "\" is not a Prometheus name");
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
        const bool same = existing.kind == kind && existing.bound_count == bounds.size() &&
                          std::equal(bounds.begin(), bounds.end(), existing.bounds.begin());
        if (!same) throw DeclarationError("metric " + std::string(name) + " declared again differently");
        return i;
    }
    if (count >= max_metrics) throw DeclarationError("metrics registry full (" + std::to_string(max_metrics) + ")");
    Declared& entry = declared_[count];
    copy_into(entry.name, name);
    copy_into(entry.help, help);
    entry.kind = kind;
    entry.bound_count = static_cast<std::uint8_t>(bounds.size());
    std::copy(bounds.begin(), bounds.end(), entry.bounds.begin());
    count_.store(count + 1, std::memory_order_release);
    return count;
}

Counter Registry::counter(std::string_view name, std::string_view help) {
    return Counter(this, declare(name, help, Kind::counter, {}));
}
Gauge Registry::gauge(std::string_view name, std::string_view help) {
    return Gauge(this, declare(name, help, Kind::gauge, {}));
}
Histogram Registry::histogram(std::string_view name, std::string_view help, std::initializer_list<double> bounds) {
    return histogram(name, help, std::span<const double>(bounds.begin(), bounds.size()));
}
Histogram Registry::histogram(std::string_view name, std::string_view help, std::span<const double> bounds) {
    return Histogram(this, declare(name, help, Kind::histogram, bounds));
}

void Counter::add(std::uint64_t n) const noexcept {
    at(registry_->cells(index_)[0]).fetch_add(n, std::memory_order_relaxed);
}

void Gauge::add(std::int64_t n) const noexcept {
    at(registry_->cells(index_)[0]).fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
}

void Gauge::set(std::int64_t value) const noexcept {
    at(registry_->cells(index_)[0]).store(static_cast<std::uint64_t>(value), std::memory_order_relaxed);
}

void Histogram::observe(double value) const noexcept {
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

double Registry::value(std::string_view name) const {
    const std::uint32_t count = count_.load(std::memory_order_acquire);
    for (std::uint32_t i = 0; i < count; ++i) {
        if (declared_[i].view() != name) continue;
        switch (declared_[i].kind) {
        case Kind::counter: return static_cast<double>(sum(i, 0));
        case Kind::gauge: return static_cast<double>(static_cast<std::int64_t>(sum(i, 0)));
        case Kind::histogram: return static_cast<double>(sum(i, max_bounds + 1));
        }
    }
    throw std::out_of_range("no metric named " + std::string(name));
}

std::string Registry::exposition() const {
    std::string text;
    const std::uint32_t count = count_.load(std::memory_order_acquire);
    for (std::uint32_t i = 0; i < count; ++i) {
        const Declared& metric = declared_[i];
        const std::string name(metric.view());
        text.append("# HELP ").append(name).append(" ").append(escaped_help(metric.help.data())).append("\n");
        switch (metric.kind) {
        case Kind::counter:
            text.append("# TYPE ").append(name).append(" counter\n");
            text.append(name).append(" ").append(number(static_cast<double>(sum(i, 0)))).append("\n");
            break;
        case Kind::gauge:
            text.append("# TYPE ").append(name).append(" gauge\n");
            text.append(name).append(" ").append(number(static_cast<double>(static_cast<std::int64_t>(sum(i, 0))))).append("\n");
            break;
        case Kind::histogram: {
            text.append("# TYPE ").append(name).append(" histogram\n");
            std::uint64_t cumulative = 0;
            for (std::size_t b = 0; b <= metric.bound_count; ++b) {
                cumulative += sum(i, b);
                const std::string le = b < metric.bound_count ? number(metric.bounds[b]) : "+Inf";
                text.append(name).append("_bucket{le=\"").append(le).append("\"} ").append(number(static_cast<double>(cumulative))).append("\n");
            }
            double total = 0;
            for (std::size_t slot = 0; slot < max_slots; ++slot)
                total += std::bit_cast<double>(std::atomic_ref<std::uint64_t>(
                    const_cast<std::uint64_t&>(storage_.slots[slot][i].cells[max_bounds + 2])).load(std::memory_order_relaxed));
            text.append(name).append("_sum ").append(number(total)).append("\n");
            text.append(name).append("_count ").append(number(static_cast<double>(cumulative))).append("\n");
            break;
        }
        }
    }
    return text;
}

}  // namespace sockserv::metrics
