// drain(): every mode's stop, in one order — grace, unblock idle clients, cut off at stop_timeout,
// join. Here against a record of the calls; each mode's own stop is tested with real clients in
// shutdown_test.cpp and the apps' SIGTERM tests.

#include <sockserv/server/drain.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace sockserv;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Requests that end by themselves at `idle_at` (never: nullopt), and a log of what drain asked.
struct Recorded final : RunningRequests {
    std::optional<Clock::time_point> idle_at;
    std::vector<std::string> calls;
    bool wait_idle_until(Clock::time_point deadline) override {
        calls.push_back("wait");
        const bool idle = idle_at && *idle_at <= deadline;
        return idle;
    }
    void unblock_connections(bool cut_off) noexcept override { calls.push_back(cut_off ? "cut off" : "unblock"); }
    void join() override { calls.push_back("join"); }
};

}  // namespace

TEST_CASE("drain: without grace or stop_timeout it unblocks idle clients, then joins", "[drain]") {
    Recorded running;
    drain(running, 0ms, std::nullopt);
    CHECK(running.calls == std::vector<std::string>{"unblock", "join"});
}

TEST_CASE("drain: the grace comes first, before any client is unblocked", "[drain]") {
    Recorded running;
    running.idle_at = Clock::now();
    drain(running, 500ms, std::nullopt);
    CHECK(running.calls == std::vector<std::string>{"wait", "unblock", "join"});
}

TEST_CASE("drain: requests still running at stop_timeout are cut off before the join", "[drain]") {
    Recorded stuck;  // never idle
    drain(stuck, 0ms, 300ms);
    CHECK(stuck.calls == std::vector<std::string>{"unblock", "wait", "cut off", "join"});

    Recorded ending;  // idle in time: nothing is cut
    ending.idle_at = Clock::now();
    drain(ending, 0ms, 300ms);
    CHECK(ending.calls == std::vector<std::string>{"unblock", "wait", "join"});
}
