// The matrix of Python's test_socketserver: echo over TCP / UDP / Unix stream / Unix datagram
// x sync / thread / fork / event, with real sockets.

#include "../../../apps/echo/echo_handlers.hpp"
#include "../../support/every_mode.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace sockserv;
using echo::DatagramEcho;
using echo::StreamEcho;
using namespace std::chrono_literals;

namespace {

// Two clients at once; with a concurrent server the second is answered while the first is still
// connected, which a sync server cannot do (so it gets them one after the other).
template <class Server>
void check_stream_echo(const Address& address, bool concurrent) {
    Server server{address};
    test::Running running(server);
    const Address bound = server.server_address();
    if (bound.is_inet()) CHECK(bound.port() != 0);

    auto first = test::connect_stream(bound);
    first.send_all("hello\n");
    CHECK(test::recv_exactly(first, 6) == "hello\n");
    if (concurrent) {
        auto second = test::connect_stream(bound);
        second.send_all("second client\nmore\n");
        CHECK(test::recv_exactly(second, 19) == "second client\nmore\n");
        test::hang_up(second);
    }
    first.send_all("world\n");
    first.shutdown(SHUT_WR);
    CHECK(test::recv_all(first) == "world\n");  // and EOF after it
}

template <class Server>
void check_datagram_echo(const Address& address) {
    Server server{address};
    test::Running running(server);
    const Address bound = server.server_address();
    auto a = test::datagram_client(bound);
    auto b = test::datagram_client(bound);
    CHECK(test::datagram_roundtrip(a, bound, "ping from a") == "ping from a");
    CHECK(test::datagram_roundtrip(b, bound, "ping from b") == "ping from b");
    CHECK(test::datagram_roundtrip(a, bound, std::string(4000, 'x')) == std::string(4000, 'x'));
}

const Address loopback4{"127.0.0.1", 0};

}  // namespace

TEST_EVERY_MODE("TCP echo", "[tcp]") { check_stream_echo<Policy<TCPServer<StreamEcho>>>(loopback4, mode.concurrent); }

TEST_EVERY_MODE("TCP echo over IPv6 ::1", "[tcp][ipv6]") {
    check_stream_echo<Policy<TCPServer<StreamEcho>>>(Address("::1", 0), mode.concurrent);
}

TEST_EVERY_MODE("UDP echo", "[udp]") { check_datagram_echo<Policy<UDPServer<DatagramEcho>>>(loopback4); }

TEST_CASE("UDP echo over IPv6 ::1", "[udp][ipv6][sync]") { check_datagram_echo<UDPServer<DatagramEcho>>(Address("::1", 0)); }

TEST_EVERY_MODE("Unix stream echo", "[unix]") {
    test::TempDir dir;
    check_stream_echo<Policy<UnixStreamServer<StreamEcho>>>(Address::unix_path((dir / "s.sock").string()), mode.concurrent);
    // The path is removed on close; where children closed their copies of the listener, only the
    // parent removed it.
    CHECK_FALSE(std::filesystem::exists(dir / "s.sock"));
}

TEST_EVERY_MODE("Unix datagram echo", "[unix]") {
    test::TempDir dir;
    check_datagram_echo<Policy<UnixDatagramServer<DatagramEcho>>>(Address::unix_path((dir / "d.sock").string()));
    CHECK_FALSE(std::filesystem::exists(dir / "d.sock"));
}

TEST_CASE("dual-stack server on :: answers IPv4 and IPv6 clients", "[tcp][ipv6][sync]") {
    ServerConfig config;
    config.dual_stack = true;
    TCPServer<StreamEcho> server{Address("::", 0), config};
    test::Running running(server);
    const auto port = server.server_address().port();
    for (const char* host : {"127.0.0.1", "::1"}) {
        auto client = test::connect_stream(Address(host, port));
        client.send_all("x\n");
        client.shutdown(SHUT_WR);
        CHECK(test::recv_all(client) == "x\n");
    }
}

TEST_CASE("an IPv6-only server refuses IPv4 clients", "[tcp][ipv6][sync]") {
    TCPServer<StreamEcho> server{Address("::", 0)};
    CHECK_THROWS_AS(test::connect_stream(Address("127.0.0.1", server.server_address().port())), std::system_error);
}

TEST_CASE("a datagram larger than max_packet_size arrives marked truncated", "[udp][sync]") {
    struct Sizes : DatagramRequestHandler {
        using DatagramRequestHandler::DatagramRequestHandler;
        void handle() override {
            reply(std::to_string(packet().size()) + (truncated() ? " truncated" : " whole"));
        }
    };
    ServerConfig config;
    config.max_packet_size = 100;
    UDPServer<Sizes> server{loopback4, config};
    test::Running running(server);
    auto client = test::datagram_client(server.server_address());
    CHECK(test::datagram_roundtrip(client, server.server_address(), std::string(100, 'a')) == "100 whole");
    CHECK(test::datagram_roundtrip(client, server.server_address(), std::string(5000, 'a')) == "100 truncated");
}

TEST_CASE("a datagram handler that writes nothing sends nothing", "[udp][sync]") {
    struct Silent : DatagramRequestHandler {
        using DatagramRequestHandler::DatagramRequestHandler;
        void handle() override {
            if (packet() == "answer") reply("answered");
        }
    };
    UDPServer<Silent> server{loopback4};
    test::Running running(server);
    auto client = test::datagram_client(server.server_address(), 2s);
    client.sendto("be quiet", server.server_address());
    // The next datagram received must be the answer to the second request, not an empty one.
    CHECK(test::datagram_roundtrip(client, server.server_address(), "answer") == "answered");
}

TEST_CASE("handlers reach typed state the server was given", "[tcp][sync]") {
    struct Counter {
        int requests = 0;
    };
    struct Counting : WithState<StreamRequestHandler, Counter> {
        using WithState::WithState;
        void handle() override { wfile().write(std::to_string(++state().requests) + "\n"); }
    };
    Counter counter;
    TCPServer<Counting> server{loopback4, counter};
    test::Running running(server);
    for (int expected = 1; expected <= 3; ++expected) {
        auto client = test::connect_stream(server.server_address());
        CHECK(test::recv_all(client) == std::to_string(expected) + "\n");
    }
    CHECK(counter.requests == 3);
}
