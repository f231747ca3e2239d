// Metrics in shared memory: what every process and thread adds is one set of numbers, in
// Prometheus's text format, which the real promtool accepts.

#include "../../support/test_support.hpp"

#include <sockserv/process/metrics.hpp>
#include <sockserv/process/shared_memory.hpp>
#include <sockserv/sockserv.hpp>

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <thread>
#include <vector>

using namespace sockserv;
using sockserv::metrics::Registry;

namespace {

// Runs body in a forked child counting in `slot`; waits for it.
template <class Body>
void in_child(std::size_t slot, Body body) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        Registry::use_slot(slot);
        body();
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
}

}  // namespace

TEST_CASE("metrics: counters, gauges and histograms in the text exposition format", "[metrics][sync]") {
    Shared<Registry> registry;
    const auto requests = registry->counter("test_requests_total", "Requests handled.");
    const auto open = registry->gauge("test_connections_open", "Connections open now.");
    const auto took = registry->histogram("test_request_seconds", "Request duration.\nIn seconds \\ wall clock.",
                                          {0.01, 0.1, 1});
    requests.add();
    requests.add(41);
    open.add(3);
    open.sub(1);
    double total = 0;
    for (const double seconds : {0.005, 0.05, 0.05, 0.5, 5.0}) {
        took.observe(seconds);
        total += seconds;
    }
    char text[64];
    const std::string sum(text, std::to_chars(text, text + sizeof text, total).ptr);

    const std::string expected = std::string("# HELP test_requests_total Requests handled.\n"
                                             "# TYPE test_requests_total counter\n"
                                             "test_requests_total 42\n"
                                             "# HELP test_connections_open Connections open now.\n"
                                             "# TYPE test_connections_open gauge\n"
                                             "test_connections_open 2\n"
                                             "# HELP test_request_seconds Request duration.\\nIn seconds \\\\ wall clock.\n"
                                             "# TYPE test_request_seconds histogram\n"
                                             "test_request_seconds_bucket{le=\"0.01\"} 1\n"
                                             "test_request_seconds_bucket{le=\"0.1\"} 3\n"
                                             "test_request_seconds_bucket{le=\"1\"} 4\n"
                                             "test_request_seconds_bucket{le=\"+Inf\"} 5\n"
                                             "test_request_seconds_sum ") +
                                 sum + "\ntest_request_seconds_count 5\n";
    CHECK(registry->exposition() == expected);
    CHECK(registry->value("test_requests_total") == 42);
    CHECK(registry->value("test_connections_open") == 2);
    CHECK(registry->value("test_request_seconds") == 5);
    CHECK_THROWS_AS(registry->value("nothing"), std::out_of_range);
}

TEST_CASE("metrics: what forked children and replaced children counted stays in the sums", "[metrics][fork]") {
    Shared<Registry> registry;
    const auto served = registry->counter("test_served_total", "Served.");
    const auto alive = registry->gauge("test_children", "Children.");
    for (std::size_t slot = 1; slot <= 3; ++slot)
        in_child(slot, [&] {
            served.add(10 * slot);
            alive.set(1);
        });
    CHECK(registry->value("test_served_total") == 60);
    CHECK(registry->value("test_children") == 3);
    // A replacement in slot 2 adds to what its predecessor counted: nothing goes back.
    in_child(2, [&] { served.add(5); });
    CHECK(registry->value("test_served_total") == 65);
    served.add();  // the parent, in slot 0
    CHECK(registry->value("test_served_total") == 66);
}

TEST_CASE("metrics: threads adding at once lose nothing", "[metrics][thread]") {
    Shared<Registry> registry;
    const auto counted = registry->counter("test_counted_total", "Counted.");
    const auto took = registry->histogram("test_took_seconds", "Took.", {0.5});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 25'000; ++i) {
                counted.add();
                took.observe(0.25);
            }
        });
    for (auto& thread : threads) thread.join();
    CHECK(registry->value("test_counted_total") == 100'000);
    CHECK(registry->value("test_took_seconds") == 100'000);
    CHECK(registry->exposition().find("test_took_seconds_sum 25000\n") != std::string::npos);
}

TEST_CASE("metrics: bad names, changed declarations and a full registry are refused", "[metrics][sync]") {
    Shared<Registry> registry;
    for (const char* bad : {"", "9lives", "has space", "dash-ed", "quote\"d"})
        CHECK_THROWS_AS(registry->counter(bad, "x"), metrics::DeclarationError);
    const auto first = registry->counter("test_same_total", "Same.");
    first.add();
    registry->counter("test_same_total", "Same.").add();  // the same metric again
    CHECK(registry->value("test_same_total") == 2);
    CHECK_THROWS_AS(registry->gauge("test_same_total", "Other kind."), metrics::DeclarationError);
    CHECK_THROWS_AS(registry->histogram("test_h", "Unsorted.", {1, 0.5}), metrics::DeclarationError);
    registry->histogram("test_h2", "Sorted.", {0.5, 1});
    CHECK_THROWS_AS(registry->histogram("test_h2", "Other buckets.", {0.5, 2}), metrics::DeclarationError);
    for (std::size_t i = 2; i < Registry::max_metrics; ++i)  // two are declared above
        registry->counter("test_filler_" + std::to_string(i), "Filler.");
    CHECK_THROWS_AS(registry->counter("test_one_too_many", "x"), metrics::DeclarationError);
}

TEST_CASE("metrics: promtool check metrics accepts the exposition", "[metrics][sync]") {
    Shared<Registry> registry;
    registry->counter("test_requests_total", "Requests handled.").add(7);
    registry->gauge("test_open_connections", "Connections open now.").add(2);
    registry->histogram("test_request_duration_seconds", "Request duration.", {0.005, 0.05, 0.5, 5}).observe(0.02);
    test::TempDir dir;
    std::ofstream(dir / "metrics.txt") << registry->exposition();
    const auto checked = test::run_command("promtool check metrics < " + test::shell_quote((dir / "metrics.txt").string()) + " 2>&1");
    INFO(checked.output);
    CHECK(checked.status == 0);
    // And it can fail: a counter without _total is something promtool reports.
    std::ofstream(dir / "bad.txt") << "# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n";
    CHECK(test::run_command("promtool check metrics < " + test::shell_quote((dir / "bad.txt").string()) + " 2>&1").output.find(
              "_total") != std::string::npos);
}

namespace {
// Blocks its loop's thread: a plain sleep, not a fiber's wait (the mistake the figure exists for).
struct BlockingEcho : StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        ::usleep(300'000);
        std::string line;
        rfile().readline(line);
        wfile().write(line);
    }
};
}  // namespace

TEST_CASE("metrics: a handler that blocks its event loop shows in the longest round - the lifecycle counts its request",
          "[metrics][event]") {
    Shared<Registry> registry;
    const ServerMetrics metrics(*registry);
    ServerConfig config;
    config.metrics = &metrics;
    config.event.loops = 1;
    EventMode<TCPServer<BlockingEcho>> server(Address("127.0.0.1", 0), config);
    test::Running running(server);
    Socket client = test::connect_stream(server.server_address());
    client.send_all("hi\n");
    CHECK(test::recv_exactly(client, 3) == "hi\n");
    CHECK(test::eventually([&] { return registry->value("sockserv_requests_total") == 1; }));
    // The round is measured when it ends, which can be after the request it ran was counted.
    CHECK(test::eventually([&] { return registry->value("sockserv_event_loop_longest_round_seconds") >= 0.29; }));
    CHECK(registry->value("sockserv_event_loop_rounds_total") >= 1);
    CHECK(registry->value("sockserv_connections_accepted_total") == 1);
    CHECK(registry->value("sockserv_received_bytes_total") == 3);
    CHECK(registry->value("sockserv_sent_bytes_total") == 3);
}

TEST_CASE("metrics: labelled families, per-worker series and maximum gauges in the exposition", "[metrics][sync]") {
    Shared<Registry> registry;
    registry->set_workers(2);
    const auto ok = registry->counter("t_total", "By outcome.", {.labels = "outcome=\"ok\""});
    const auto bad = registry->counter("t_total", "", {.labels = "outcome=\"bad\""});
    const auto per = registry->counter("t_worker_total", "Per worker.", {.per_worker = true});
    const auto longest = registry->gauge("t_longest_seconds", "Longest.", {.maximum = true, .unit = 1e-9});
    ok.add(2);
    bad.add();
    in_child(1, [&] {
        per.add(3);
        longest.raise_to(1'500'000'000);
    });
    in_child(2, [&] {
        per.add(4);
        longest.raise_to(250'000'000);
        longest.raise_to(100);  // never lowers it
    });
    per.add_in_slot(2, 1);
    const std::string text = registry->exposition();
    CHECK_THAT(text, Catch::Contains("# TYPE t_total counter\nt_total{outcome=\"ok\"} 2\nt_total{outcome=\"bad\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("t_worker_total{worker=\"0\"} 3\nt_worker_total{worker=\"1\"} 5\n"));
    CHECK_THAT(text, Catch::Contains("t_longest_seconds 1.5\n"));
    CHECK(registry->value("t_total", "outcome=\"bad\"") == 1);
    CHECK(text.find("# HELP t_total") == text.rfind("# HELP t_total"));  // one family, one HELP
    CHECK_THROWS_AS(registry->counter("t_total", "", {.labels = "outcome=ok"}), metrics::DeclarationError);
    CHECK_THROWS_AS(registry->gauge("t_total", "", {.labels = "outcome=\"other\""}), metrics::DeclarationError);
    // A handle without a registry counts nothing, and costs nothing to call.
    metrics::Counter nothing;
    nothing.add();
    CHECK(!nothing);
    CHECK(!metrics::counter(nullptr, "x_total", "none"));
}
