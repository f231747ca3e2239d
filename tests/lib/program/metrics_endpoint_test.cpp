// --metrics as an operator uses it: the real programs, scraped over HTTP and by a real Prometheus
// (Debian's), in every mode and with --workers.

#include "../../support/every_mode.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using sockserv::Address;
using sockserv::Socket;

namespace {

// A program started with --metrics 0: its serving address and its metrics address.
struct Observed {
    Observed(const std::string& program, std::vector<std::string> args, const std::string& mode = "")
        : process(argv(program, std::move(args), mode)),
          metrics(Address::parse(process.wait_for_line(R"(metrics on http://(\S+)/metrics)")[1])),
          address(serving_address(process, program)) {}
    static Address serving_address(test::Process& process, const std::string& program) {
        if (program != "http_server") return process.wait_until_serving();
        const auto match = process.wait_for_line(R"(^Serving HTTP on (\S+) port (\d+))");
        return Address(match[1], static_cast<std::uint16_t>(std::stoi(match[2])));
    }
    static std::vector<std::string> argv(const std::string& program, std::vector<std::string> args, const std::string& mode) {
        std::vector<std::string> all{test::binary(program), "--port", "0", "--host", "127.0.0.1", "--metrics", "0"};
        if (!mode.empty()) {
            const auto mode_args = test::mode_arguments(mode);
            all.insert(all.end(), mode_args.begin(), mode_args.end());
        }
        all.insert(all.end(), args.begin(), args.end());
        return all;
    }
    test::Process process;
    Address metrics;
    Address address;
};

// One HTTP/1.1 request, the whole answer (the listener closes after it).
std::string http_get(const Address& at, const std::string& target, const std::string& method = "GET") {
    Socket socket = test::connect_stream(at);
    socket.send_all(method + " " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    return test::recv_all(socket);
}

std::string body_of(const std::string& response) {
    const auto end = response.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : response.substr(end + 4);
}

std::string scrape(const Address& at) { return body_of(http_get(at, "/metrics")); }

// A series' value in an exposition ("name" or "name{labels}"); -1 when absent.
double value_of(const std::string& exposition, const std::string& series) {
    std::istringstream lines(exposition);
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    return -1;
}

// Waits until the series has the value (counters and gauges change a moment after the client
// sees its answer: a handler's end is counted as it ends). Returns the last value seen.
double wait_for_value(const Address& metrics, const std::string& series, double want, std::chrono::milliseconds timeout = 10s) {
    double last = -1;
    test::eventually([&] { return (last = value_of(scrape(metrics), series)) == want; }, timeout);
    return last;
}

// An echo round trip on a fresh connection; returns the bytes sent (= the bytes echoed).
std::size_t echo_round_trip(const Address& at, const std::string& line) {
    Socket socket = test::connect_stream(at);
    socket.send_all(line);
    socket.shutdown(SHUT_WR);
    CHECK(test::recv_all(socket) == line);
    return line.size();
}

// A connection the server is serving, then reset by the client (SO_LINGER 0): its handler fails
// with ECONNRESET, a peer gone.
void reset_while_served(const Address& at, const Address& metrics) {
    Socket socket = test::connect_stream(at);
    REQUIRE(wait_for_value(metrics, "sockserv_connections_open", 1) == 1);
    const linger hard{1, 0};
    socket.set_option(SOL_SOCKET, SO_LINGER, hard);
    socket.close();
    REQUIRE(wait_for_value(metrics, "sockserv_connections_open", 0) == 0);
}

void check_counts(const std::string& mode) {
    Observed echo("echo_server", {}, mode);
    constexpr int served = 5, reset = 2;
    std::size_t bytes = 0;
    for (int i = 0; i < served; ++i) bytes += echo_round_trip(echo.address, "line " + std::to_string(i) + " of the test\n");
    for (int i = 0; i < reset; ++i) reset_while_served(echo.address, echo.metrics);
    CHECK(wait_for_value(echo.metrics, "sockserv_requests_total", served + reset) == served + reset);
    const std::string text = scrape(echo.metrics);
    CHECK(value_of(text, "sockserv_connections_accepted_total") == served + reset);
    CHECK(value_of(text, R"(sockserv_requests_failed_total{cause="peer_gone"})") == reset);
    CHECK(value_of(text, R"(sockserv_requests_failed_total{cause="handler_exception"})") == 0);
    CHECK(value_of(text, "sockserv_received_bytes_total") == static_cast<double>(bytes));
    CHECK(value_of(text, "sockserv_sent_bytes_total") == static_cast<double>(bytes));
    CHECK(value_of(text, "sockserv_request_duration_seconds_count") == served + reset);
    CHECK(value_of(text, "sockserv_connections_open") == 0);
    // Per worker: the workers' own counts add up to the total.
    double per_worker = 0;
    for (const std::string worker : {"0", "1"}) {
        const double count = value_of(text, "sockserv_worker_requests_total{worker=\"" + worker + "\"}");
        if (count > 0) per_worker += count;
    }
    CHECK(per_worker == served + reset);
    echo.process.signal(SIGTERM);
    CHECK(WEXITSTATUS(echo.process.wait()) == 0);
}

// Prometheus on loopback with a 1 s scrape of `target`; its API's address.
struct Prometheus {
    Prometheus(const test::TempDir& dir, const Address& target) {
        std::ofstream(dir / "prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                              << "scrape_configs:\n  - job_name: sockserv\n    static_configs:\n"
                                              << "      - targets: ['" << target.to_string() << "']\n";
        for (int attempt = 0; attempt < 5 && !process; ++attempt) {
            Socket probe(AF_INET, SOCK_STREAM);
            probe.bind(Address("127.0.0.1", 0));
            const Address api("127.0.0.1", probe.local_address().port());
            probe.close();
            auto started = std::make_unique<test::Process>(std::vector<std::string>{
                "/usr/bin/prometheus", "--config.file=" + (dir / "prometheus.yml").string(),
                "--storage.tsdb.path=" + (dir / "data").string(), "--web.listen-address=" + api.to_string(),
                "--log.level=info"});
            try {
                started->wait_for_line("Server is ready to receive web requests", 30s);
                process = std::move(started);
                address = api;
            } catch (const std::exception& error) {
                failure = error.what();
                started->signal(SIGKILL);
                started->wait();
            }
        }
        INFO(failure);
        REQUIRE(process);
    }
    ~Prometheus() {
        if (!process) return;
        process->signal(SIGTERM);
        process->wait(30s);
    }
    // An instant query's single value, or -1 (no result yet).
    double query(const std::string& expression) const {
        const auto result = test::run_command("curl -s --get --data-urlencode " + test::shell_quote("query=" + expression) +
                                              " http://" + address.to_string() + "/api/v1/query");
        static const std::regex value(R"re("value":\[[0-9.]+,"([^"]+)"\])re");
        std::smatch match;
        if (!std::regex_search(result.output, match, value)) return -1;
        return std::stod(match[1]);
    }
    std::unique_ptr<test::Process> process;
    Address address;
    std::string failure;
};

}  // namespace

TEST_EVERY_APP_MODE("metrics endpoint: the counters agree with what the clients did - requests, resets, bytes", "[app][metrics]") {
    check_counts(mode);
}

TEST_EVERY_POOL_MODE("metrics endpoint with --workers: one set of numbers for all the workers", "[app][metrics]") {
    check_counts(mode);
}

TEST_CASE("metrics endpoint: a real Prometheus scrapes http_server --workers 2 --mode event - up, and the requests of both workers",
          "[app][metrics][pool]") {
    test::TempDir dir;
    std::ofstream(dir / "hello.txt") << "hello\n";
    Observed http("http_server", {"--directory", dir.path().string(), "--workers", "2", "--mode", "event"});
    test::Process& server = http.process;
    Prometheus prometheus(dir, http.metrics);
    constexpr int requests = 12;
    for (int i = 0; i < requests; ++i) {
        const auto result = test::run_command("curl -s -o /dev/null -w '%{http_code}' http://" + http.address.to_string() + "/hello.txt");
        CHECK(result.output == "200");
    }
    REQUIRE(wait_for_value(http.metrics, "sockserv_requests_total", requests) == requests);
    double up = -1, total = -1;
    CHECK(test::eventually([&] { return (up = prometheus.query("up")) == 1; }, 30s));
    CHECK(test::eventually([&] { return (total = prometheus.query("sockserv_requests_total")) == requests; }, 30s));
    INFO("Prometheus says up " << up << ", sockserv_requests_total " << total);
    CHECK(prometheus.query(R"(sum(http_responses_total{class="2xx"}))") == requests);
    // Both workers served: the per-worker series are there for each.
    CHECK(prometheus.query("count(sockserv_worker_requests_total)") == 2);

    // The exposition is what promtool accepts.
    std::ofstream(dir / "scraped.txt") << scrape(http.metrics);
    const auto check = test::run_command("promtool check metrics < " + test::shell_quote((dir / "scraped.txt").string()) + " 2>&1");
    INFO(check.output);
    CHECK(check.status == 0);
    server.signal(SIGTERM);
    CHECK(WEXITSTATUS(server.wait()) == 0);
}

TEST_CASE("metrics endpoint: a worker killed with SIGKILL - the totals keep what it counted, its restarts go up by one",
          "[app][metrics][pool]") {
    Observed echo("echo_server", {"--workers", "2", "--mode", "thread"});
    const std::vector<pid_t> pids = test::started_workers(echo.process);
    REQUIRE(pids.size() == 2);
    for (int i = 0; i < 8; ++i) echo_round_trip(echo.address, "before\n");
    REQUIRE(wait_for_value(echo.metrics, "sockserv_requests_total", 8) == 8);
    const std::string before = scrape(echo.metrics);
    const double worker0 = value_of(before, R"(sockserv_worker_requests_total{worker="0"})");
    CHECK(value_of(before, R"(sockserv_worker_pid{worker="0"})") == pids[0]);

    ::kill(pids[0], SIGKILL);
    echo.process.wait_for_line("replacing it");
    CHECK(wait_for_value(echo.metrics, R"(sockserv_worker_restarts_total{worker="0"})", 1) == 1);
    CHECK(wait_for_value(echo.metrics, "sockserv_workers", 2) == 2);
    const std::string after = scrape(echo.metrics);
    CHECK(value_of(after, "sockserv_requests_total") == 8);  // the dead worker's counts stay
    CHECK(value_of(after, R"(sockserv_worker_requests_total{worker="0"})") == worker0);
    CHECK(value_of(after, R"(sockserv_worker_restarts_total{worker="1"})") == 0);
    CHECK(value_of(after, R"(sockserv_worker_pid{worker="0"})") != pids[0]);
    for (int i = 0; i < 3; ++i) echo_round_trip(echo.address, "after\n");
    CHECK(wait_for_value(echo.metrics, "sockserv_requests_total", 11) == 11);  // never backwards

    // A reload: new workers in both slots, counted; the totals go on.
    echo.process.signal(SIGHUP);
    CHECK(wait_for_value(echo.metrics, "sockserv_reloads_total", 1) == 1);
    echo.process.wait_for_line("reload: new workers");
    echo_round_trip(echo.address, "after the reload\n");
    CHECK(wait_for_value(echo.metrics, "sockserv_requests_total", 12) == 12);
    CHECK(value_of(scrape(echo.metrics), "sockserv_worker_restarts_total{worker=\"0\"}") == 1);  // a reload is no restart
}

TEST_CASE("metrics endpoint: a worker that cannot finish within --graceful-timeout is killed, and counted",
          "[app][metrics][pool]") {
    test::TempDir dir;
    {
        std::ofstream big(dir / "big.bin", std::ios::binary);
        const std::string block(1 << 20, 'x');
        for (int i = 0; i < 64; ++i) big << block;
    }
    Observed http("http_server", {"--directory", dir.path().string(), "--workers", "2", "--mode", "thread",
                                  "--graceful-timeout", "1"});
    // A client that asks for 64 MiB and reads none of it: its worker stays blocked in send (60 s
    // --send-timeout), so a reload's stop cannot end it in time.
    Socket stalled = test::connect_stream(http.address);
    const int small = 4096;
    stalled.set_option(SOL_SOCKET, SO_RCVBUF, small);
    stalled.send_all("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(wait_for_value(http.metrics, "sockserv_connections_open", 1) == 1);
    http.process.signal(SIGHUP);
    http.process.wait_for_line("did not finish within 1 s: killing it");
    CHECK(wait_for_value(http.metrics, "sockserv_workers_killed_total", 1) == 1);
    CHECK(wait_for_value(http.metrics, "sockserv_reloads_total", 1) == 1);
    CHECK(wait_for_value(http.metrics, "sockserv_workers", 2) == 2);
}

TEST_CASE("metrics endpoint: accepting paused at --max-threads, --max-children, --max-connections shows in the gauge, by cause",
          "[app][metrics]") {
    struct Limit {
        std::vector<std::string> args;
        std::string cause;
    };
    for (const Limit& limit : {Limit{{"--mode", "thread", "--max-threads", "1"}, "thread_limit"},
                               Limit{{"--mode", "fork", "--max-children", "1"}, "children_limit"},
                               Limit{{"--mode", "event", "--loops", "1", "--max-connections", "1"}, "connection_limit"}}) {
        INFO(limit.cause);
        Observed echo("echo_server", limit.args);
        Socket holder = test::connect_stream(echo.address);  // served, and holding the only place
        REQUIRE(wait_for_value(echo.metrics, "sockserv_connections_open", 1) == 1);
        CHECK(wait_for_value(echo.metrics, "sockserv_accept_paused", 1) == 1);
        CHECK(value_of(scrape(echo.metrics), "sockserv_accept_pauses_total{cause=\"" + limit.cause + "\"}") >= 1);
        Socket waiting = test::connect_stream(echo.address);  // in the backlog meanwhile
        waiting.send_all("queued\n");
        holder.close();
        waiting.shutdown(SHUT_WR);
        CHECK(test::recv_all(waiting) == "queued\n");  // served once the place came free
        waiting.close();
        CHECK(wait_for_value(echo.metrics, "sockserv_accept_paused", 0) == 0);
    }
}

TEST_CASE("metrics endpoint: hostile input to the listener - junk, huge heads, 1,000 idle connections - does not touch the main port",
          "[app][metrics]") {
    test::TempDir dir;
    std::ofstream(dir / "hello.txt") << "hello\n";
    Observed http("http_server", {"--directory", dir.path().string(), "--mode", "thread"});
    CHECK(http_get(http.metrics, "/nothing").starts_with("HTTP/1.1 404 "));
    CHECK(http_get(http.metrics, "/metrics", "POST").starts_with("HTTP/1.1 405 "));
    CHECK(http_get(http.metrics, "/metrics", "HEAD").starts_with("HTTP/1.1 200 "));
    {
        Socket junk = test::connect_stream(http.metrics);
        junk.send_all(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15));
        CHECK(test::recv_all(junk).starts_with("HTTP/1.1 400 "));
    }
    {
        Socket huge = test::connect_stream(http.metrics);
        huge.send_all("GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n");
        CHECK(test::recv_all(huge).starts_with("HTTP/1.1 431 "));
    }
    const std::string status = body_of(http_get(http.metrics, "/status"));
    CHECK_THAT(status, Catch::Contains("Active connections: 0"));

    // 1,000 connections that say nothing: they take the listener's few places and its backlog,
    // not the program's. Non-blocking connects: most wait in SYN retries, as a flood's would.
    std::vector<sockserv::UniqueFd> idle;
    for (int i = 0; i < 1000; ++i) {
        sockserv::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        REQUIRE(fd);
        ::connect(fd.get(), http.metrics.data(), http.metrics.size());
        idle.push_back(std::move(fd));
    }
    for (int i = 0; i < 20; ++i) {
        const auto started = std::chrono::steady_clock::now();
        const auto result = test::run_command("curl -s -m 5 -o /dev/null -w '%{http_code}' http://" + http.address.to_string() + "/hello.txt");
        CHECK(result.output == "200");
        CHECK(std::chrono::steady_clock::now() - started < 2s);
    }
    idle.clear();
    // And the listener answers again once they are gone.
    CHECK(test::eventually([&] { return scrape(http.metrics).find("sockserv_requests_total 20") != std::string::npos; }, 20s));
}

TEST_CASE("metrics endpoint on a Unix socket, and every program takes it - a bad --metrics is one line and exit status 2",
          "[app][metrics][cli]") {
    test::TempDir dir;
    const std::string path = (dir / "metrics.sock").string();
    test::Process chat({test::binary("chat_server"), "--port", "0", "--metrics", path, "--no-admin"});
    chat.wait_for_line("metrics on unix socket " + path);
    const Address chat_at = chat.wait_until_serving();
    const Socket member = test::datagram_client(chat_at);
    test::datagram_roundtrip(member, chat_at, "L alice");
    const std::string text = scrape(Address::unix_path(path));
    CHECK(value_of(text, "sockserv_datagrams_received_total") == 1);
    CHECK(value_of(text, "chat_members") == 1);
    CHECK(value_of(text, "chat_lines_relayed_total") == 1);

    test::Process tftp({test::binary("tftp_server"), "--port", "0", "--directory", dir.path().string(), "--metrics", "0"});
    const Address tftp_metrics = Address::parse(tftp.wait_for_line(R"(metrics on http://(\S+)/metrics)")[1]);
    CHECK(value_of(scrape(tftp_metrics), R"(tftp_transfers_total{outcome="done"})") == 0);

    for (const std::string bad : {"nohost.invalid:1", "99999", "1.2.3.4:x"}) {
        test::Process refused({test::binary("echo_server"), "--port", "0", "--metrics", bad});
        CHECK(WEXITSTATUS(refused.wait()) == 2);
        CHECK_THAT(refused.stderr_text(), Catch::Contains("--metrics"));
    }
}
