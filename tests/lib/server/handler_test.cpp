// Per-connection handler settings: timeout() and disable_nagle_algorithm().

#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>

using namespace sockserv;
using namespace std::chrono_literals;

namespace {
const Address loopback4{"127.0.0.1", 0};
}

TEST_CASE("a handler's timeout() closes a connection that goes quiet", "[handler][thread]") {
    struct Impatient : StreamRequestHandler {
        using StreamRequestHandler::StreamRequestHandler;
        std::optional<std::chrono::milliseconds> timeout() const override { return 100ms; }
        void handle() override {
            std::string line;
            while (rfile().readline(line)) wfile().write(line);
        }
    };
    ThreadingTCPServer<Impatient> server{loopback4};
    test::Running running(server);
    auto quiet = test::connect_stream(server.server_address());
    quiet.send_all("one\n");
    CHECK(test::recv_exactly(quiet, 4) == "one\n");
    const auto begin = std::chrono::steady_clock::now();
    CHECK(test::recv_all(quiet).empty());  // no more input: the server gives up and closes
    const auto waited = std::chrono::steady_clock::now() - begin;
    CHECK(waited >= 90ms);
    CHECK(waited < 2s);
    CHECK(test::eventually([&] { return server.active_threads() == 0; }));
}

TEST_CASE("disable_nagle_algorithm() sets TCP_NODELAY on the connection", "[handler][sync]") {
    struct Eager : StreamRequestHandler {
        using StreamRequestHandler::StreamRequestHandler;
        bool disable_nagle_algorithm() const override { return true; }
        void handle() override {
            int nodelay = 0;
            socklen_t size = sizeof nodelay;
            ::getsockopt(connection().fd(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &size);
            wfile().write(nodelay ? "nodelay" : "nagle");
        }
    };
    TCPServer<Eager> server{loopback4};
    test::Running running(server);
    auto client = test::connect_stream(server.server_address());
    CHECK(test::recv_all(client) == "nodelay");
}

TEST_CASE("a datagram handler can send to other addresses than the client", "[handler][udp][sync]") {
    struct Relay : WithState<DatagramRequestHandler, Address> {
        using WithState::WithState;
        void handle() override { sendto(std::string("relayed: ") + std::string(packet()), state()); }
    };
    auto listener = test::datagram_client(loopback4);
    listener.bind(loopback4);
    Address target = listener.local_address();
    UDPServer<Relay> server{loopback4, target};
    test::Running running(server);
    auto sender = test::datagram_client(server.server_address());
    sender.sendto("hello", server.server_address());
    char buffer[64];
    Address from;
    const std::size_t n = listener.recvfrom(buffer, sizeof buffer, from);
    CHECK(std::string(buffer, n) == "relayed: hello");
    CHECK(from == server.server_address());
}
