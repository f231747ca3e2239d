#pragma once
// A progress bar with rate and ETA for long transfers, on a terminal only: silent when stderr is
// not a tty (scripts, tests, pipes).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace tftp {

class Progress {
public:
    /// `total`: bytes expected, if known (then a bar and an ETA; else bytes and rate only).
    Progress(std::string label, std::optional<std::uint64_t> total, bool enabled);
    ~Progress();
    void advance(std::uint64_t bytes);
    void set_total(std::uint64_t total) { total_ = total; }
    /// Draws the final state and ends the line.
    void done();

    /// One rendering, for a given moment (pure; unit-tested): "name  [#####     ]  50%  1.2 MiB/s  ETA 0:03".
    static std::string render(const std::string& label, std::uint64_t done, std::optional<std::uint64_t> total,
                              double seconds, std::size_t width = 30);

private:
    void draw(bool final);
    std::string label_;
    std::optional<std::uint64_t> total_;
    bool enabled_;
    std::uint64_t done_ = 0;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point drawn_{};
    bool finished_ = false;
};

}  // namespace tftp
