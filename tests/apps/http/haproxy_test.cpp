// http_server behind a real HAProxy (Debian's haproxy, started here on a listening socket the test
// bound itself and passed as fd 3): with send-proxy and send-proxy-v2, the backends' access logs
// name the client as curl connected from it — 127.0.0.2, an address HAProxy itself never uses
// (it reaches the backends from 127.0.0.1) — and HAProxy's health checks are served, not logged as
// errors.

#include "http_fixture.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace http_test;

namespace {

// HAProxy in the foreground (-db) with a TCP frontend on the passed socket and the backends.
test::Process start_haproxy(const test::TempDir& dir, const sockserv::Socket& frontend, const std::vector<int>& backends,
                            const std::string& send_proxy) {
    std::ofstream config(dir / "haproxy.cfg");
    config << "global\n  maxconn 512\n"
           << "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"
           << "frontend front\n  bind fd@3\n  default_backend back\n"
           << "backend back\n  balance roundrobin\n  option httpchk GET /hello.txt\n"
           << "  default-server inter 200ms fall 2 rise 1\n";
    for (std::size_t i = 0; i < backends.size(); ++i)
        config << "  server s" << i << " 127.0.0.1:" << backends[i] << " " << send_proxy << " check check-send-proxy\n";
    config.close();
    return test::Process({"/usr/sbin/haproxy", "-db", "-f", (dir / "haproxy.cfg").string()}, false, {{frontend.fd()}});
}

}  // namespace

TEST_CASE("behind HAProxy (send-proxy and send-proxy-v2) three http_servers log the real client - checks pass",
          "[http][app][proxy][haproxy][pool]") {
    for (const std::string send_proxy : {"send-proxy", "send-proxy-v2"}) {
        INFO(send_proxy);
        Content content;
        test::TempDir dir;
        std::vector<std::unique_ptr<Server>> backends;
        std::vector<int> ports;
        for (int i = 0; i < 3; ++i) {
            backends.push_back(std::make_unique<Server>(content.dir.path(), "event-1/w2", std::vector<std::string>{"--proxy-protocol"}));
            ports.push_back(backends.back()->port());
        }
        sockserv::Socket frontend(AF_INET, SOCK_STREAM);
        frontend.set_option(SOL_SOCKET, SO_REUSEADDR, 1);
        frontend.bind(sockserv::Address("127.0.0.1", 0));
        frontend.listen(64);
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
