// --workers N: the master and its workers, watched from outside as an operator would — real
// processes (probe_server), real signals, /proc. The app suites run their whole behaviour with
// --workers 2 as well (the "/w2" modes); a reload under wrk load is pool_load_test.cpp.

#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace {

using namespace std::chrono_literals;

test::Process probe(const std::string& mode, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{test::binary("probe_server"), "--port", "0"};
    const auto mode_args = test::mode_arguments(mode);
    args.insert(args.end(), mode_args.begin(), mode_args.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return test::Process(args);
}

// Waits (bounded) until pred() holds; its last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return pred();
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

std::string ask(sockserv::Socket& client, const std::string& line) {
    client.send_all(line + "\n");
    std::string reply;
    char c;
    while (client.recv(&c, 1) == 1 && c != '\n') reply += c;
    return reply;
}

pid_t serving_pid(sockserv::Socket& client) { return static_cast<pid_t>(std::stol(ask(client, "pid"))); }

// CPU seconds (user + system) a process has used, from /proc/PID/stat.
double cpu_seconds(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; fields >> field; ++i)
        if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

TEST_CASE("a pool's master names its workers, serves on them, and stops them with exit status 0", "[pool]") {
    for (const char* mode : {"sync/w2", "thread/w2", "fork/w2", "event-1/w2"}) {
        INFO(mode);
        test::Process master = probe(mode);
        const auto address = master.wait_until_serving();
        const auto workers = test::started_workers(master);
        REQUIRE(workers.size() == 2);
        std::set<pid_t> serving;
        for (int i = 0; i < 20; ++i) {
            auto client = test::connect_stream(address);
            CHECK(ask(client, "echo") == "echo");
            test::hang_up(client);
        }
        for (const pid_t pid : workers) CHECK(test::process_running(pid));
        master.signal(SIGTERM);
        const int status = master.wait(10s);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
        for (const pid_t pid : workers) CHECK(!test::process_exists(pid));  // reaped by the master, not left as zombies
    }
}

TEST_CASE("a worker killed mid-request is logged and replaced - its neighbour's client never notices", "[pool]") {
    // Sync mode: a worker holding a client serves nobody else, so two clients are on two workers.
    test::Process master = probe("sync/w2");
    const auto address = master.wait_until_serving();
    const auto workers = test::started_workers(master);
    auto first = test::connect_stream(address);
    const pid_t victim = serving_pid(first);
    auto second = test::connect_stream(address);
    const pid_t neighbour = serving_pid(second);
    REQUIRE(victim != neighbour);
    REQUIRE(std::set<pid_t>(workers.begin(), workers.end()) == std::set<pid_t>{victim, neighbour});

    REQUIRE(::kill(victim, SIGKILL) == 0);
    master.wait_for_line("worker " + std::to_string(victim) + R"( \(slot \d\) was killed by signal 9 \(SIGKILL\).*; replacing it)");
    CHECK(test::recv_all(first).empty());  // the victim's client sees its connection end
    CHECK(ask(second, "still there") == "still there");
    CHECK(serving_pid(second) == neighbour);
    CHECK(eventually([&] { return !test::process_exists(victim); }, 2s));  // reaped: no zombie

    // The replacement serves.
    auto third = test::connect_stream(address);
    const pid_t replacement = serving_pid(third);
    CHECK(replacement != victim);
    CHECK(replacement != neighbour);
    test::hang_up(second);
    test::hang_up(third);
}

TEST_CASE("killing the master with SIGKILL takes every worker and fork-mode child with it", "[pool]") {
    // Orphans are reparented to us (a subreaper), so we can tell "gone" from "still running" and
    // reap them ourselves.
    REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    for (const char* mode : {"fork/w2", "thread/w2", "event-2/w2"}) {
        INFO(mode);
        test::Process master = probe(mode);
        const auto address = master.wait_until_serving();
        auto workers = test::started_workers(master);
        auto client = test::connect_stream(address);
        const pid_t server_side = serving_pid(client);  // a fork-mode child, or a worker
        std::vector<pid_t> descendants = workers;
        if (std::find(workers.begin(), workers.end(), server_side) == workers.end()) descendants.push_back(server_side);

        master.signal(SIGKILL);
        master.wait(5s);
        const auto killed = std::chrono::steady_clock::now();
        for (const pid_t pid : descendants) {
            INFO("pid " << pid);
            CHECK(eventually([&] {
                if (::waitpid(pid, nullptr, WNOHANG) == pid) return true;  // ours now: died and reaped
                return !test::process_exists(pid);
            }, 1s));
        }
        CHECK(std::chrono::steady_clock::now() - killed < 1s);
        test::hang_up(client);
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_CASE("workers that die at start are restarted with a growing delay, not in a fork loop", "[pool]") {
    test::Process master = probe("sync/w2", {"--crash-at-start"});
    master.wait_until_serving();
    const pid_t pid = master.pid();
    const double cpu_before = cpu_seconds(pid);
    const auto started = std::chrono::steady_clock::now();
    // Quick deaths 2, 3, 4 of a slot: waits of 0.5 s, 1 s, 2 s between them.
    master.wait_for_line(R"(slot \d died within 1 s of starting 4 times running: next start in 2 s)", 20s);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    const double cpu = cpu_seconds(pid) - cpu_before;
    const std::string log = master.stderr_text();
    std::size_t deaths = 0;
    for (std::size_t at = 0; (at = log.find("killed by signal 6 (SIGABRT)", at)) != std::string::npos; ++at) ++deaths;
    INFO(log);
    CHECK(elapsed >= 1400ms);  // the delays were waited out
    CHECK(deaths <= 12);       // a fork loop would have started thousands
    CHECK(cpu < 0.5 * test::sanitizer_slowdown);
    master.signal(SIGTERM);
    const int status = master.wait(10s);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the pool recycles workers after --max-requests: each replaced after its share, every client served", "[pool]") {
    test::Process master = probe("sync/w2", {"--max-requests", "4"});
    const auto address = master.wait_until_serving();
    test::started_workers(master);
    std::set<pid_t> served_by;
    for (int i = 0; i < 40; ++i) {
        auto client = test::connect_stream(address);
        served_by.insert(serving_pid(client));
        test::hang_up(client);
    }
    // 40 connections at 4 or 5 per worker: at least 8 workers served them.
    CHECK(served_by.size() >= 8);
    master.wait_for_line(R"(exited with status 0 after [45] requests; replacing it)");
}

TEST_CASE("SIGUSR1 makes the master report each worker's requests", "[pool]") {
    test::Process master = probe("thread/w2");
    const auto address = master.wait_until_serving();
    const auto workers = test::started_workers(master);
    for (int i = 0; i < 10; ++i) {
        auto client = test::connect_stream(address);
        CHECK(ask(client, "x") == "x");
        test::hang_up(client);
    }
    master.signal(SIGUSR1);
    std::uint64_t total = 0;
    for (int i = 0; i < 2; ++i) {
        const auto line = master.wait_for_line(R"(worker (\d+) \(slot (\d)\): (\d+) requests)");
        CHECK(std::find(workers.begin(), workers.end(), std::stoi(line[1])) != workers.end());
        total += std::stoull(line[3]);
    }
    CHECK(total == 10);
    CHECK(master.wait_for_line(R"(workers: 2, requests: (\d+))")[1] == "10");
}

TEST_CASE("a bad --workers count is refused with exit status 2", "[pool]") {
    for (const char* bad : {"0", "many", "100000"}) {
        test::Process program({test::binary("probe_server"), "--workers", bad});
        const int status = program.wait(10s);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 2);
        CHECK(program.stderr_text().find("invalid --workers") != std::string::npos);
    }
}

TEST_CASE("SIGTERM: workers finish their requests within --graceful-timeout, and are killed past it", "[pool]") {
    test::Process master = probe("sync/w2", {"--graceful-timeout", "1"});
    const auto address = master.wait_until_serving();
    test::started_workers(master);
    // Sync mode: one client per worker, each in its handler before the stop.
    auto quick = test::connect_stream(address);
    serving_pid(quick);
    auto slow = test::connect_stream(address);
    const pid_t slow_worker = serving_pid(slow);
    quick.send_all("nap 300\n");
    slow.send_all("nap 20000\n");
    const auto stopped = std::chrono::steady_clock::now();
    master.signal(SIGTERM);
    std::string reply;
    char c;
    while (quick.recv(&c, 1) == 1 && c != '\n') reply += c;
    CHECK(reply == "napped");  // finished within the grace
    CHECK(test::recv_all(slow).empty());  // cut off at the timeout
    master.wait_for_line("worker " + std::to_string(slow_worker) + R"( \(slot \d\) did not finish within 1 s: killing it)");
    const int status = master.wait(10s);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(std::chrono::steady_clock::now() - stopped < 5s);  // not the 20 s request
}
