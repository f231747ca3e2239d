// ForkingMixIn: children reaped as they exit, only our own, max_children without blocking the loop,
// and nothing leaked after thousands of requests.

#include "../../../apps/echo/echo_handlers.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <thread>
#include <unistd.h>

using namespace sockserv;
using namespace std::chrono_literals;

namespace {
const Address loopback4{"127.0.0.1", 0};


struct Greeter : StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        wfile().write("hi\n");
        std::string line;
        while (rfile().readline(line)) wfile().write(line);
    }
};
}  // namespace

TEST_CASE("after 2000 forked requests: no zombies - and the parent's fd count is what it was", "[fork]") {
    ForkingTCPServer<echo::StreamEcho> server{loopback4};
    test::Running running(server);
    test::echo_once(server.server_address());  // warm-up: lazily created things exist from here on
    // Reaped, not merely no zombie: the client sees EOF before its child has exited, and while the
    // child lives the parent holds its pidfd and connection (a slow run, under ASan with the suite
    // in parallel, counted those two fds here and never saw the count come back to it).
    REQUIRE(test::eventually([&] { return server.active_children() == 0; }));
    REQUIRE(test::zombie_count() == 0);
    const int fds_before = test::open_fd_count();

    for (int i = 0; i < 2000; ++i) test::echo_once(server.server_address());

    // Children are reaped as they exit (their pidfds wake the loop), with no further request to prompt it.
    CHECK(test::eventually([] { return test::zombie_count() == 0; }));
    CHECK(test::eventually([&] { return test::open_fd_count() == fds_before; }));
    running.stop();
    CHECK(server.active_children() == 0);
}

TEST_CASE("a child the program forked itself is never reaped by the server", "[fork]") {
    ForkingTCPServer<echo::StreamEcho> server{loopback4};
    test::Running running(server);
    const pid_t foreign = ::fork();
    REQUIRE(foreign >= 0);
    if (foreign == 0) ::_exit(42);
    // The foreign child exits; the server, which waits only for its own pidfds, leaves it be.
    for (int i = 0; i < 20; ++i) test::echo_once(server.server_address());
    REQUIRE(test::eventually([] { return test::zombie_count() <= 1; }));
    running.stop();
    int status = 0;
    CHECK(::waitpid(foreign, &status, WNOHANG) == foreign);  // still ours to wait for
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 42);
}

TEST_CASE("max_children pauses accepting instead of blocking the loop", "[fork]") {
    ServerConfig config;
    config.fork.max_children = 2;
    ForkingTCPServer<Greeter> server{loopback4, config};
    test::Running running(server);
    const Address address = server.server_address();
    auto [second, third] = test::check_third_client_waits_for_a_worker(address);

    // At the limit the loop still answers shutdown at once.
    auto fourth = test::connect_stream(address);
    const auto begin = std::chrono::steady_clock::now();
    server.shutdown();
    CHECK(std::chrono::steady_clock::now() - begin < 100ms);
    test::hang_up(fourth);
    test::hang_up(second);
    test::hang_up(third);
}

TEST_CASE("a forked child closes the listener: the port is free once the parent closes", "[fork]") {
    ServerConfig config;
    // SO_REUSEADDR (the default) lets a new server bind next to the child's established connection,
    // but never next to a listening socket: the bind below fails if the child kept the listener.
    config.block_on_close = false;  // close while the child still serves
    Address address = loopback4;
    auto server = std::make_unique<ForkingTCPServer<Greeter>>(address, config);
    address = server->server_address();
    auto running = std::make_unique<test::Running<ForkingTCPServer<Greeter>>>(*server);
    auto client = test::connect_stream(address);
    CHECK(test::recv_exactly(client, 3) == "hi\n");  // a child is alive, serving client
    running.reset();  // stop and close the parent's listener while the child still runs
    ForkingTCPServer<Greeter> again{address, config};
    CHECK(again.server_address().port() == address.port());
    test::hang_up(client);
    server.reset();
}

TEST_CASE("server_close with block_on_close waits for children that are mid-response", "[fork]") {
    struct Slow : StreamRequestHandler {
        using StreamRequestHandler::StreamRequestHandler;
        void handle() override {
            std::string line;
            rfile().readline(line);
            std::this_thread::sleep_for(300ms);  // a response being computed when the server stops
            wfile().write("done\n");
        }
    };
    ForkingTCPServer<Slow> server{loopback4};
    std::thread loop([&] { server.serve_forever(); });
    auto client = test::connect_stream(server.server_address());
    client.send_all("go\n");
    REQUIRE(test::eventually([&] { return server.active_children() == 1; }));
    server.shutdown();
    loop.join();
    server.server_close();  // waits for the child; its response still completes (SHUT_RD only)
    CHECK(server.active_children() == 0);
    CHECK(test::recv_all(client) == "done\n");
    test::hang_up(client);
}

TEST_CASE("server_close unblocks a child reading from an idle client", "[fork][shutdown]") {
    ForkingTCPServer<Greeter> server{loopback4};
    std::thread loop([&] { server.serve_forever(); });
    auto idle = test::connect_stream(server.server_address());
    CHECK(test::recv_exactly(idle, 3) == "hi\n");  // the child now blocks reading this client
    const auto begin = std::chrono::steady_clock::now();
    server.shutdown();
    loop.join();
    server.server_close();  // block_on_close: waits for the child, which must have been unblocked
    CHECK(std::chrono::steady_clock::now() - begin < 1s);
    CHECK(server.active_children() == 0);
    CHECK(test::recv_all(idle).empty());  // the client sees EOF
    test::hang_up(idle);
}

TEST_CASE("the parent holds no child's connection once the child is reaped", "[fork]") {
    ForkingTCPServer<Greeter> server{loopback4};
    test::Running running(server);
    const int fds_before = test::open_fd_count();
    for (int i = 0; i < 20; ++i) {
        auto client = test::connect_stream(server.server_address());
        CHECK(test::recv_exactly(client, 3) == "hi\n");
        test::hang_up(client);
    }
    CHECK(test::eventually([&] { return server.active_children() == 0 && test::open_fd_count() == fds_before; }));
}
