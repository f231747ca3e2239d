// A stream server behind a load balancer: with proxy_protocol on, every connection starts with a
// PROXY header (v1 or v2) and client_address() is the client it names — in every mode; the bytes
// after the header are the handler's. Untrusted peers, malformed, cut and slow headers: closed,
// and the server serves on.

#include "../../support/every_mode.hpp"
#include "../../support/test_support.hpp"

#include <sockserv/sockserv.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

using namespace sockserv;
using namespace std::chrono_literals;

namespace {

// Says whom it is serving, then echoes what follows.
struct WhoAmI : StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        wfile().write(client_address().to_string() + "\n");
        std::string line;
        while (rfile().readline(line)) wfile().write(line);
    }
};

const Address loopback4{"127.0.0.1", 0};

ServerConfig behind_a_proxy(std::vector<Network> trusted = Network::loopback(), std::chrono::milliseconds deadline = 3s) {
    ServerConfig config;
    config.proxy_protocol.enabled = true;
    config.proxy_protocol.trusted = std::move(trusted);
    config.proxy_protocol.deadline = deadline;
    return config;
}

std::string talk(const Address& at, const std::string& bytes) {
    auto client = test::connect_stream(at);
    client.send_all(bytes);
    client.shutdown(SHUT_WR);
    return test::recv_all(client);
}

std::string v2_tcp4() {
    std::string header("\r\n\r\n\0\r\nQUIT\n", 12);
    for (const int b : {0x21, 0x11, 0, 12, 198, 51, 100, 9, 127, 0, 0, 1, 0x1f, 0x90, 0, 80}) header += static_cast<char>(b);
    return header;  // 198.51.100.9:8080 -> 127.0.0.1:80
}

}  // namespace

TEST_EVERY_MODE("PROXY protocol: client_address is the client the header names - v1 and v2", "[proxy]") {
    Policy<TCPServer<WhoAmI>> server{loopback4, behind_a_proxy()};
    test::Running running(server);
    const Address at = server.server_address();
    CHECK(talk(at, "PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\nhello\n") == "203.0.113.7:56324\nhello\n");
    CHECK(talk(at, v2_tcp4() + "PROXY is only the header's\n") == "198.51.100.9:8080\nPROXY is only the header's\n");
    CHECK(talk(at, "PROXY TCP6 2001:db8::7 ::1 40000 80\r\n") == "[2001:db8::7]:40000\n");
    // LOCAL (a health check) and UNKNOWN: the connection's own address stands.
    const std::string local = std::string("\r\n\r\n\0\r\nQUIT\n", 12) + std::string("\x20\x00\x00\x00", 4);
    CHECK(talk(at, local).starts_with("127.0.0.1:"));
    CHECK(talk(at, "PROXY UNKNOWN\r\nx\n").starts_with("127.0.0.1:"));
}

TEST_EVERY_MODE("PROXY protocol: bad, cut and slow headers and untrusted peers are closed - serving goes on", "[proxy]") {
    Policy<TCPServer<WhoAmI>> server{loopback4, behind_a_proxy(Network::loopback(), 300ms)};
    test::Running running(server);
    const Address at = server.server_address();
    for (const std::string& bad : {std::string("GET / HTTP/1.1\r\n\r\n"), std::string("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"),
                                   std::string("PROXY TCP4 10.0.0.1"), std::string("PROXY ") + std::string(200, 'x')}) {
        INFO(bad);
        CHECK(talk(at, bad).empty());  // closed, nothing said
    }
    // One byte, then silence: the deadline closes it.
    auto slow = test::connect_stream(at);
    slow.send_all("P");
    const auto began = std::chrono::steady_clock::now();
    CHECK(test::recv_all(slow).empty());
    CHECK(std::chrono::steady_clock::now() - began < 3s * test::sanitizer_slowdown);
    // And a good one still works.
    CHECK(talk(at, "PROXY TCP4 203.0.113.7 192.0.2.1 1 2\r\nok\n") == "203.0.113.7:1\nok\n");

    // A server that trusts only 10.0.0.0/8 refuses loopback peers, header or not.
    TCPServer<WhoAmI> picky{loopback4, behind_a_proxy(Network::parse_list("10.0.0.0/8"))};
    test::Running picky_running(picky);
    CHECK(talk(picky.server_address(), "PROXY TCP4 203.0.113.7 192.0.2.1 1 2\r\nhi\n").empty());
}

TEST_CASE("PROXY protocol: off by default, a header is just bytes for the handler", "[proxy][sync]") {
    TCPServer<WhoAmI> server{loopback4};
    test::Running running(server);
    const std::string reply = talk(server.server_address(), "PROXY TCP4 203.0.113.7 192.0.2.1 1 2\r\n");
    CHECK(reply.starts_with("127.0.0.1:"));
    CHECK(reply.ends_with("PROXY TCP4 203.0.113.7 192.0.2.1 1 2\r\n"));
}

TEST_CASE("Network: CIDR parsing and membership", "[proxy]") {
    CHECK(Network::parse("10.0.0.0/8").contains(Address("10.200.3.4", 1)));
    CHECK_FALSE(Network::parse("10.0.0.0/8").contains(Address("11.0.0.1", 1)));
    CHECK(Network::parse("192.168.1.0/25").contains(Address("192.168.1.127", 1)));
    CHECK_FALSE(Network::parse("192.168.1.0/25").contains(Address("192.168.1.128", 1)));
    CHECK(Network::parse("::1").contains(Address("::1", 1)));
    CHECK_FALSE(Network::parse("::1").contains(Address("127.0.0.1", 1)));
    CHECK(Network::parse("127.0.0.0/8").contains(Address("::ffff:127.0.0.1", 1)));  // IPv4-mapped
    CHECK(Network::parse("0.0.0.0/0").contains(Address("203.0.113.9", 1)));
    CHECK(Network::parse("2001:db8::/32").to_string() == "2001:db8::/32");
    for (const char* bad : {"", "10.0.0.0/33", "::/129", "localhost", "10.0.0.0/", "10.0.0.0/x", "1.2.3.4/8/8"})
        CHECK_THROWS_AS(Network::parse(bad), std::invalid_argument);
    CHECK(Network::parse_list("10.0.0.0/8,::1").size() == 2);
}
