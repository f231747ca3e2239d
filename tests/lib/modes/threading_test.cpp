// ThreadingMixIn: finished threads forgotten at once; memory flat; joins on close.

#include "../../../apps/echo/echo_handlers.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

using namespace sockserv;
using namespace std::chrono_literals;

namespace {
const Address loopback4{"127.0.0.1", 0};


#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;  // sanitizers keep freed memory in quarantine: RSS says nothing
#else
constexpr bool sanitized = false;
#endif
}  // namespace

TEST_CASE("finished threads are joined at once", "[thread]") {
    ThreadingTCPServer<echo::StreamEcho> server{loopback4};
    test::Running running(server);
    const int threads_before = test::thread_count();
    for (int i = 0; i < 200; ++i) test::echo_once(server.server_address());
    CHECK(test::eventually([&] { return server.active_threads() == 0; }));
    CHECK(test::eventually([&] { return test::thread_count() == threads_before; }));
}

TEST_CASE("memory stays flat over 10000 threaded requests", "[thread]") {
    ThreadingTCPServer<echo::StreamEcho> server{loopback4};
    test::Running running(server);
    for (int i = 0; i < 500; ++i) test::echo_once(server.server_address());  // warm-up: allocator arenas
    // The client sees EOF (our SHUT_WR) a moment before the worker closes its fd: settle first.
    REQUIRE(test::eventually([&] { return server.active_threads() == 0; }));
    const long rss_before = test::rss_kib();
    const int fds_before = test::open_fd_count();
    const int requests = sanitized ? 3000 : 10000;
    for (int i = 0; i < requests; ++i) test::echo_once(server.server_address());
    CHECK(test::eventually([&] { return server.active_threads() == 0; }));
    CHECK(test::eventually([&] { return test::open_fd_count() == fds_before; }));
    const long growth = test::rss_kib() - rss_before;
    INFO("RSS grew by " << growth << " KiB over " << requests << " requests");
    if (!sanitized) CHECK(growth < 4096);
}

TEST_CASE("many clients at once each get their own thread", "[thread]") {
    ThreadingTCPServer<echo::StreamEcho> server{loopback4};
    test::Running running(server);
    std::vector<Socket> clients;
    for (int i = 0; i < 64; ++i) clients.push_back(test::connect_stream(server.server_address()));
    // All 64 are connected at once; each is answered while the others stay open.
    for (std::size_t i = 0; i < clients.size(); ++i) {
        const std::string line = "client " + std::to_string(i) + "\n";
        clients[i].send_all(line);
        CHECK(test::recv_exactly(clients[i], line.size()) == line);
    }
    CHECK(server.active_threads() == 64);
    clients.clear();
    CHECK(test::eventually([&] { return server.active_threads() == 0; }));
}

TEST_CASE("block_on_close joins workers that are mid-response", "[thread]") {
    struct Slow : StreamRequestHandler {
        using StreamRequestHandler::StreamRequestHandler;
        void handle() override {
            std::string line;
            rfile().readline(line);
            std::this_thread::sleep_for(200ms);  // a response being computed when the server stops
            wfile().write("done\n");
        }
    };
    ThreadingTCPServer<Slow> server{loopback4};
    std::thread loop([&] { server.serve_forever(); });
    auto client = test::connect_stream(server.server_address());
    client.send_all("go\n");
    REQUIRE(test::eventually([&] { return server.active_threads() == 1; }));
    server.shutdown();
    loop.join();
    server.server_close();  // waits for the worker; its response still completes (SHUT_RD only)
    CHECK(server.active_threads() == 0);
    CHECK(test::recv_all(client) == "done\n");
}

namespace {
struct StackReporter : StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        pthread_attr_t attributes;
        std::size_t size = 0;
        if (::pthread_getattr_np(::pthread_self(), &attributes) == 0) {
            ::pthread_attr_getstacksize(&attributes, &size);
            ::pthread_attr_destroy(&attributes);
        }
        wfile().write(std::to_string(size) + "\n");
    }
};
}  // namespace

TEST_CASE("max_threads pauses accepting until a worker finishes", "[thread]") {
    ServerConfig config;
    config.thread.max_threads = 2;
    ThreadingTCPServer<test::HoldingGreeter> server{loopback4, config};
    test::Running running(server);
    auto [second, third] = test::check_third_client_waits_for_a_worker(server.server_address());
    CHECK(server.active_threads() == 2);
}

TEST_CASE("workers run on stacks of thread_stack_size", "[thread]") {
    ServerConfig config;
    config.thread.thread_stack_size = 1024 * 1024;
    ThreadingTCPServer<StackReporter> server{loopback4, config};
    test::Running running(server);
    auto client = test::connect_stream(server.server_address());
    client.shutdown(SHUT_WR);
    CHECK(test::recv_all(client) == "1048576\n");
}
