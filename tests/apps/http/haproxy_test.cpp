// http_server behind a real HAProxy (Debian's haproxy, started here on a listening socket the test
// bound itself and passed as fd 3): with send-proxy and send-proxy-v2, the backends' access logs
// name the client as curl connected from it — 127.0.0.2, an address HAProxy itself never uses
// (it reaches the backends from 127.0.0.1) — and HAProxy's health checks are served, not logged as
// errors.

#include "http_fixture.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <future>
#include <iterator>
#include <regex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace http_test;

namespace {

// A loopback listener for HAProxy's frontend, bound here (port 0) and passed to it as fd 3.
sockserv::Socket listening_frontend() {
    sockserv::Socket frontend(AF_INET, SOCK_STREAM);
    frontend.set_option(SOL_SOCKET, SO_REUSEADDR, 1);
    frontend.bind(sockserv::Address("127.0.0.1", 0));
    frontend.listen(256);
    return frontend;
}

// HAProxy in the foreground (-db), TCP mode, its frontend on the passed socket, `backend` the
// body of its one backend section.
test::Process start_haproxy(const test::TempDir& dir, const sockserv::Socket& frontend, const std::string& backend) {
    std::ofstream(dir / "haproxy.cfg")
        << "global\n  maxconn 512\n"
        << "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"
        << "frontend front\n  bind fd@3\n  default_backend back\n"
        << "backend back\n" << backend;
    return test::Process({"/usr/sbin/haproxy", "-db", "-f", (dir / "haproxy.cfg").string()}, false, {{frontend.fd()}});
}

// http_servers with HTTP health checks that send the PROXY header too (2 failures: down).
test::Process start_haproxy(const test::TempDir& dir, const sockserv::Socket& frontend, const std::vector<int>& backends,
                            const std::string& send_proxy) {
    std::string backend = "  balance roundrobin\n  option httpchk GET /hello.txt\n  default-server inter 200ms fall 2 rise 1\n";
    for (std::size_t i = 0; i < backends.size(); ++i)
        backend += "  server s" + std::to_string(i) + " 127.0.0.1:" + std::to_string(backends[i]) + " " + send_proxy +
                   " check check-send-proxy\n";
    return start_haproxy(dir, frontend, backend);
}

// One plain TCP service: a connect check with the PROXY header.
test::Process start_tcp_haproxy(const test::TempDir& dir, const sockserv::Socket& frontend, int backend) {
    return start_haproxy(dir, frontend,
                         "  server s0 127.0.0.1:" + std::to_string(backend) + " send-proxy-v2 check check-send-proxy inter 200ms\n");
}

// Three http_servers (--workers 2 --mode event) behind the proxy, and their ports.
std::vector<std::unique_ptr<Server>> proxied_backends(const Content& content, std::vector<int>& ports) {
    std::vector<std::unique_ptr<Server>> backends;
    for (int i = 0; i < 3; ++i) {
        backends.push_back(std::make_unique<Server>(content.dir.path(), "event-1/w2", std::vector<std::string>{"--proxy-protocol"}));
        ports.push_back(backends.back()->port());
    }
    return backends;
}
}  // namespace

TEST_CASE("behind HAProxy (send-proxy and send-proxy-v2) three http_servers log the real client - checks pass",
          "[http][app][proxy][haproxy][pool]") {
    for (const std::string send_proxy : {"send-proxy", "send-proxy-v2"}) {
        INFO(send_proxy);
        Content content;
        test::TempDir dir;
        std::vector<int> ports;
        auto backends = proxied_backends(content, ports);
        sockserv::Socket frontend = listening_frontend();
        const std::string front = "127.0.0.1:" + std::to_string(frontend.local_address().port());
        test::Process haproxy = start_haproxy(dir, frontend, ports, send_proxy);

        // HAProxy's health checks reach every backend (a LOCAL header, or v1's own, then the GET).
        for (auto& backend : backends) CHECK_NOTHROW(backend->process().wait_for_line(R"("GET /hello\.txt HTTP/1\.0" 200)"));

        constexpr int requests = 6;
        for (int i = 0; i < requests; ++i) {
            const auto result = curl("--interface 127.0.0.2 -o /dev/null -w '%{http_code}' http://" + front + "/hello.txt");
            REQUIRE(result.status == 0);
            CHECK(result.output == "200");
        }
        // Every request is logged under curl's own address, spread over the backends (round
        // robin), and none under HAProxy's (127.0.0.1 is only its HTTP/1.0 health checks).
        const std::regex from_curl(R"((^|\n)127\.0\.0\.2 [^\n]*"GET /hello\.txt HTTP/1\.1" 200)");
        const std::regex from_proxy(R"((^|\n)127\.0\.0\.1 [^\n]*"GET /hello\.txt HTTP/1\.1")");
        const auto count = [](const std::string& text, const std::regex& line) {
            return std::distance(std::sregex_iterator(text.begin(), text.end(), line), std::sregex_iterator());
        };
        std::vector<long> logged(backends.size());
        CHECK(test::eventually([&] {
            long total = 0;
            for (std::size_t i = 0; i < backends.size(); ++i) total += logged[i] = count(backends[i]->process().stderr_text(), from_curl);
            return total == requests;
        }));
        for (std::size_t i = 0; i < backends.size(); ++i) {
            CHECK(logged[i] > 0);
            CHECK(count(backends[i]->process().stderr_text(), from_proxy) == 0);
        }
        for (auto& backend : backends) CHECK(backend->process().stderr_text().find("PROXY header from") == std::string::npos);
    }
}

namespace {

struct WrkResult {
    long requests = 0;
    long errors = 0;  // socket errors of every kind, and non-2xx answers
    std::string output;
};

// wrk while the backends' stderr is read: their access logs would fill the pipe and stall them.
WrkResult wrk(const std::string& url, int connections, const std::string& duration,
              std::vector<std::unique_ptr<Server>>& backends) {
    WrkResult result;
    auto run = std::async(std::launch::async, [&] {
        return test::run_command("wrk -t2 -c" + std::to_string(connections) + " -d" + duration + " --timeout 5s " +
                                 url + " 2>&1")
            .output;
    });
    while (run.wait_for(20ms) != std::future_status::ready)
        for (auto& backend : backends)
            if (test::process_running(backend->process().pid())) backend->process().pump_stderr(5ms);
    result.output = run.get();
    std::smatch match;
    if (std::regex_search(result.output, match, std::regex(R"((\d+) requests in)"))) result.requests = std::stol(match[1]);
    if (std::regex_search(result.output, match, std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))")))
        for (int i = 1; i <= 4; ++i) result.errors += std::stol(match[i]);
    if (std::regex_search(result.output, match, std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) result.errors += std::stol(match[1]);
    return result;
}

}  // namespace

TEST_CASE("behind HAProxy under wrk -c 64, a backend killed with SIGKILL: the others take the load",
          "[http][app][proxy][haproxy][pool]") {
    Content content;
    test::TempDir dir;
    std::vector<int> ports;
    auto backends = proxied_backends(content, ports);
    sockserv::Socket frontend = listening_frontend();
    const std::string url = "http://127.0.0.1:" + std::to_string(frontend.local_address().port()) + "/hello.txt";
    test::Process haproxy = start_haproxy(dir, frontend, ports, "send-proxy-v2");
    for (auto& backend : backends) REQUIRE_NOTHROW(backend->process().wait_for_line(R"("GET /hello\.txt HTTP/1\.0" 200)"));

    const WrkResult before = wrk(url, 64, "2s", backends);
    INFO(before.output);
    CHECK(before.requests > 100);
    CHECK(before.errors == 0);

    // The kill lands while wrk runs: the killed backend's connections (and any request HAProxy
    // sends it before its checks fail: 2 x 200 ms) fail; nothing else does.
    const pid_t victim = backends[1]->process().pid();
    std::thread killer([victim] {
        std::this_thread::sleep_for(1s);  // into the load: the kill is the event under test
        ::kill(victim, SIGKILL);
    });
    const WrkResult during = wrk(url, 64, "3s", backends);
    killer.join();
    CHECK_NOTHROW(haproxy.wait_for_line(R"(Server back/s1 is DOWN)"));
    // After HAProxy marked it down, the two others take every request.
    const WrkResult after = wrk(url, 64, "2s", backends);
    INFO(during.output);
    INFO(after.output);
    CHECK(after.requests > 100);
    CHECK(after.errors == 0);
    WARN("during the kill: " << during.errors << " of " << during.requests << " requests failed");
    CHECK(during.errors < during.requests / 2);
}

TEST_CASE("echo_server and the tftp TCP service behind HAProxy see the real client", "[app][proxy][haproxy][pool]") {
    {
        test::TempDir dir;
        test::Process echo({test::binary("echo_server"), "--port", "0", "--proxy-protocol", "--verbose", "--workers", "2",
                            "--mode", "event"});
        const sockserv::Address backend = echo.wait_until_serving();
        sockserv::Socket frontend = listening_frontend();
        test::Process haproxy = start_tcp_haproxy(dir, frontend, backend.port());
        const auto out = test::run_command("printf 'through haproxy\\n' | nc -q 2 -s 127.0.0.2 127.0.0.1 " +
                                           std::to_string(frontend.local_address().port()));
        CHECK(out.output == "through haproxy\n");
        CHECK_NOTHROW(echo.wait_for_line(R"(^echo: connection from 127\.0\.0\.2:\d+$)"));
        CHECK(echo.stderr_text().find("PROXY header from") == std::string::npos);
    }
    {
        test::TempDir dir, served;
        std::ofstream(served / "file.txt") << "over the proxy\n";
        test::Process tftp({test::binary("tftp_server"), "--port", "0", "-d", served.path().string(), "--no-udp",
                            "--proxy-protocol", "--mode", "thread"});
        const sockserv::Address backend = tftp.wait_until_serving();
        sockserv::Socket frontend = listening_frontend();
        test::Process haproxy = start_tcp_haproxy(dir, frontend, backend.port());
        // A GET in the service's framing (version 1, type 2, code 0, length 8, the name), sent from
        // 127.0.0.2: the log names that address, HAProxy's being 127.0.0.1.
        const auto got = test::run_command(
            "printf '\\001\\002\\000\\000\\000\\000\\000\\000\\000\\000\\000\\010file.txt' | nc -q 2 -s 127.0.0.2 127.0.0.1 " +
            std::to_string(frontend.local_address().port()));
        CHECK(got.output.ends_with("over the proxy\n"));
        CHECK_NOTHROW(tftp.wait_for_line(R"(^127\.0\.0\.2:\d+ tcp get "file\.txt" 15 bytes$)"));
        CHECK(tftp.stderr_text().find("PROXY header from") == std::string::npos);
    }
}

TEST_CASE("HTTPS behind HAProxy: the PROXY header in clear, then TLS passed through to http_server",
          "[http][app][proxy][haproxy][tls][pool]") {
    Content content;
    test::TempDir dir, keys;
    test::run("cd " + test::shell_quote(keys.path().string()) +
              " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost"
              " -addext subjectAltName=DNS:localhost -keyout key.pem -out cert.pem 2>&1");
    Server backend(content.dir.path(), "event-1/w2",
                   {"--proxy-protocol", "--tls-cert", (keys / "cert.pem").string(), "--tls-key", (keys / "key.pem").string()});
    sockserv::Socket frontend = listening_frontend();
    test::Process haproxy = start_tcp_haproxy(dir, frontend, backend.port());
    const std::string port = std::to_string(frontend.local_address().port());
    const auto result = curl("--interface 127.0.0.2 --cacert " + test::shell_quote((keys / "cert.pem").string()) +
                             " --resolve localhost:" + port + ":127.0.0.1 https://localhost:" + port + "/hello.txt");
    CHECK(result.status == 0);
    CHECK(result.output == "hello world\n");
    CHECK_NOTHROW(backend.process().wait_for_line(R"(^127\.0\.0\.2 .*"GET /hello\.txt HTTP/1\.1" 200 12$)"));
    // HAProxy's connect checks (a LOCAL header, then a close) are no failed handshakes.
    INFO(backend.process().stderr_text());
    CHECK(backend.process().stderr_text().find("TLS handshake with") == std::string::npos);
}
