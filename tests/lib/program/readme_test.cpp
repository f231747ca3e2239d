// The README's examples, compiled with the project's warnings and run: the README must not lie.

#include <sockserv/sockserv.hpp>

#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>

namespace {

struct Echo : sockserv::StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        std::string line;
        while (rfile().readline(line)) wfile().write(line);
    }
};

struct Counter {
    std::atomic<int> hits{0};
};
struct Hits : sockserv::WithState<sockserv::StreamRequestHandler, Counter> {
    using WithState::WithState;
    void handle() override { wfile().write(std::to_string(++state().hits) + "\n"); }
};

}  // namespace

TEST_CASE("the README's compile-time spellings build and serve", "[readme][thread]") {
    sockserv::ThreadingTCPServer<Echo> server{{"127.0.0.1", 0}};
    sockserv::TCPServer<Echo> dual{sockserv::Address("::", 0), sockserv::ServerConfig{.dual_stack = true}};
    sockserv::ThreadingTCPServer<Echo> tuned{{"127.0.0.1", 0}, {.request_queue_size = 64}};
    CHECK(dual.server_address().port() != 0);
    CHECK(tuned.config().request_queue_size == 64);
    test::Running running(server);
    test::echo_once(server.server_address());
}

TEST_CASE("the README's shared-state example counts across requests", "[readme][thread]") {
    Counter counter;
    sockserv::ThreadingTCPServer<Hits> server{{"127.0.0.1", 0}, counter};
    test::Running running(server);
    for (int expected = 1; expected <= 3; ++expected) {
        auto client = test::connect_stream(server.server_address());
        CHECK(test::recv_all(client) == std::to_string(expected) + "\n");
    }
}
