#include "progress.hpp"

#include <cstdio>

#include <unistd.h>

namespace tftp {

Progress::Progress(std::string label, std::optional<std::uint64_t> total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled) {}

Progress::~Progress() {
    if (enabled_ && !finished_ && done_ > 0) {
        [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, "\n", 1);
    }
}

void Progress::advance(std::uint64_t bytes) {
    done_ += bytes;
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - drawn_ < std::chrono::milliseconds(100)) return;  // ten frames a second is plenty
    drawn_ = now;
    draw(false);
}

void Progress::done() {
    if (!enabled_ || finished_) return;
    draw(true);
    finished_ = true;
}

void Progress::draw(bool final) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    std::string line("\r");
    line.append(render(label_, done_, total_, seconds));
    if (final) line.push_back('\n');
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

std::string Progress::render(const std::string& label, std::uint64_t done, std::optional<std::uint64_t> total,
                             double seconds, std::size_t width) {
    char text[256];
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    const double mib = 1024.0 * 1024.0;
    std::string shown = label;
    if (shown.size() > 24) shown.resize(21), shown.append("...");
    if (total && *total > 0) {
        const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(*total));
        const std::size_t filled = static_cast<std::size_t>(fraction * static_cast<double>(width));
        std::string bar(width, ' ');
        bar.replace(0, filled, filled, '#');
        const double left = rate > 0 ? static_cast<double>(*total - std::min(done, *total)) / rate : 0;
        const long eta = static_cast<long>(left + 0.5);
        std::snprintf(text, sizeof text, "%-24s [%s] %3d%%  %7.1f MiB/s  ETA %ld:%02ld", shown.c_str(), bar.c_str(),
                      static_cast<int>(fraction * 100), rate / mib, eta / 60, eta % 60);
    } else {
        std::snprintf(text, sizeof text, "%-24s %10.1f MiB  %7.1f MiB/s", shown.c_str(), static_cast<double>(done) / mib,
                      rate / mib);
    }
    return text;
}

}  // namespace tftp
