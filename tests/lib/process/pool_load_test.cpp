// A pool's reload under real load: wrk keeps both cores busy, so this runs alone (RUN_SERIAL in
// tests/CMakeLists.txt): it would starve the timing of whatever ran beside it.

#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <thread>

using namespace std::chrono_literals;

TEST_CASE("SIGHUP under wrk load: new workers take over, the old ones drain, no request fails", "[pool][http]") {
    for (const char* mode : {"event-1/w2", "thread/w2"}) {
        INFO(mode);
        test::TempDir dir;
        std::ofstream(dir / "kib.bin") << std::string(1024, 'k');
        std::vector<std::string> args{test::binary("http_server"), "0", "-b", "127.0.0.1", "-d", dir.path().string()};
        const auto mode_args = test::mode_arguments(mode);
        args.insert(args.end(), mode_args.begin(), mode_args.end());
        test::Process master(args);
        const int port = std::stoi(master.wait_for_line(R"(^Serving HTTP on \S+ port (\d+) )")[1]);
        const auto old_workers = test::started_workers(master);

        std::atomic<bool> done{false};
        test::CommandResult load{};
        std::thread wrk([&] {
            load = test::run_command("wrk -t2 -c64 -d3s http://127.0.0.1:" + std::to_string(port) + "/kib.bin 2>&1");
            done = true;
        });
        // The access log says the load has started; then reload, while it goes on.
        master.wait_for_line(R"("GET /kib.bin HTTP/1.1" 200)");
        master.signal(SIGHUP);
        // The log is busy (every request is a line): search it without regexes, and keep reading.
        auto wait_for_text = [&](const std::string& text, std::size_t from) {
            std::size_t at;
            const auto deadline = std::chrono::steady_clock::now() + 20s;
            while ((at = master.stderr_read().find(text, from)) == std::string::npos) {
                REQUIRE(std::chrono::steady_clock::now() < deadline);
                master.pump_stderr(50ms);
            }
            return at;
        };
        const std::size_t reload = wait_for_text("reload: new workers, pids", 0);
        const std::size_t end = wait_for_text(";", reload);
        const auto new_workers = test::pids_in(master.stderr_read().substr(reload + 25, end - reload - 25));
        REQUIRE(new_workers.size() == 2);
        for (const pid_t pid : old_workers) wait_for_text("worker " + std::to_string(pid) + " (slot", reload);
        while (!done) master.pump_stderr(50ms);
        wrk.join();

        INFO(load.output);
        REQUIRE(load.status == 0);
        CHECK(load.output.find("requests in") != std::string::npos);
        CHECK(load.output.find("Non-2xx") == std::string::npos);
        CHECK(load.output.find("Socket errors") == std::string::npos);
        for (const pid_t pid : old_workers) CHECK(!test::process_exists(pid));
        for (const pid_t pid : new_workers) CHECK(test::process_running(pid));
        const std::string after = test::run("curl -sS -o /dev/null -w '%{http_code}' http://127.0.0.1:" +
                                            std::to_string(port) + "/kib.bin");
        CHECK(after == "200");
        master.signal(SIGTERM);
        CHECK(master.wait(10s) == 0);
    }
}

