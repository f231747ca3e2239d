// Stopping: instant, from anywhere, any number of times. No poll interval anywhere.

#include "../../../apps/echo/echo_handlers.hpp"
#include "../../support/every_mode.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <future>

using namespace sockserv;
using namespace std::chrono_literals;
using echo::StreamEcho;

namespace {
const Address loopback4{"127.0.0.1", 0};
using Clock = std::chrono::steady_clock;

template <class Server>
Clock::duration time_idle_shutdown() {
    Server server{loopback4};
    std::promise<pid_t> started;
    std::thread loop([&] {
        started.set_value(test::current_tid());
        server.serve_forever();
    });
    // We measure waking a loop blocked in poll(), not racing one that is still starting.
    REQUIRE(test::blocked_in_poll(started.get_future().get()));
    const auto begin = Clock::now();
    server.shutdown();  // returns once serve_forever has returned
    const auto elapsed = Clock::now() - begin;
    loop.join();
    server.server_close();
    return elapsed;
}
}  // namespace

TEST_CASE("shutdown of an idle server returns in well under 50 ms - every mode", "[shutdown][thread]") {
    const auto sync = time_idle_shutdown<TCPServer<StreamEcho>>();
    const auto threaded = time_idle_shutdown<ThreadingTCPServer<StreamEcho>>();
    const auto udp = time_idle_shutdown<UDPServer<echo::DatagramEcho>>();
    using Ms = std::chrono::duration<double, std::milli>;
    INFO("sync " << Ms(sync).count() << " ms, thread " << Ms(threaded).count() << " ms, udp " << Ms(udp).count() << " ms");
    CHECK(sync < 20ms);
    CHECK(threaded < 20ms);
    CHECK(udp < 20ms);
}

TEST_CASE("shutdown of an idle forking server returns in well under 50 ms", "[shutdown][fork]") {
    CHECK(time_idle_shutdown<ForkingTCPServer<StreamEcho>>() < 20ms);
}

TEST_CASE("shutdown before serve_forever is not lost - and does not block", "[shutdown][thread]") {
    TCPServer<StreamEcho> server{loopback4};
    server.shutdown();  // nobody serving: returns at once
    server.shutdown();  // idempotent
    const auto begin = Clock::now();
    server.serve_forever();  // sees the request and returns at once
    CHECK(Clock::now() - begin < 50ms);
    // The request was consumed: the server can serve again, and be stopped again.
    std::thread loop([&] { server.serve_forever(); });
    auto client = test::connect_stream(server.server_address());
    client.send_all("again\n");
    client.shutdown(SHUT_WR);
    CHECK(test::recv_all(client) == "again\n");
    server.shutdown();
    server.shutdown();
    loop.join();
}

TEST_CASE("request_shutdown from a signal handler stops the loop", "[shutdown][thread]") {
    TCPServer<StreamEcho> server{loopback4};
    signals::StopOnSignals stop(server, {SIGUSR1});
    std::promise<pid_t> started;
    std::thread loop([&] {
        started.set_value(test::current_tid());
        server.serve_forever();
    });
    REQUIRE(test::blocked_in_poll(started.get_future().get()));  // the signal must wake a blocked loop
    const auto begin = Clock::now();
    ::kill(::getpid(), SIGUSR1);
    loop.join();
    CHECK(Clock::now() - begin < 50ms);
}

namespace {
struct Stopper : StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        server().shutdown();  // must not deadlock, even on the serving thread
        wfile().write("stopping\n");
    }
};

}  // namespace

// In fork mode the handler runs in a child: the flag lives in shared memory and the waker is
// shared with the parent, so the child's shutdown() stops the parent's loop.
TEST_EVERY_MODE("shutdown from inside a handler stops the server", "[shutdown]") {
    Policy<TCPServer<Stopper>> server{loopback4};
    std::thread loop([&] { server.serve_forever(); });
    auto client = test::connect_stream(server.server_address());
    CHECK(test::recv_all(client) == "stopping\n");
    const auto begin = Clock::now();
    loop.join();
    CHECK(Clock::now() - begin < 1s * test::sanitizer_slowdown);
    server.server_close();
}

TEST_CASE("20 servers started and stopped in a race", "[shutdown][thread]") {
    std::vector<std::unique_ptr<ThreadingTCPServer<StreamEcho>>> servers;
    for (int i = 0; i < 20; ++i) servers.push_back(std::make_unique<ThreadingTCPServer<StreamEcho>>(loopback4));
    std::vector<std::thread> loops;
    std::vector<std::thread> stoppers;
    for (auto& server : servers) {
        // The stop may land before, during or after the start: none may hang.
        loops.emplace_back([&server] { server->serve_forever(); });
        stoppers.emplace_back([&server] { server->shutdown(); });
    }
    for (auto& t : stoppers) t.join();
    // A shutdown that landed before serve_forever started is kept for it, so every loop returns.
    for (auto& t : loops) t.join();
    for (auto& server : servers) server->server_close();
    SUCCEED("every server stopped");
}

TEST_CASE("server_close without ever serving", "[shutdown][sync]") {
    const int fds_before = test::open_fd_count();
    {
        TCPServer<StreamEcho> tcp{loopback4};
        UDPServer<echo::DatagramEcho> udp{loopback4};
        ForkingTCPServer<StreamEcho> forking{loopback4};
        tcp.server_close();
        udp.server_close();
        forking.server_close();
        tcp.server_close();  // idempotent
    }
    CHECK(test::open_fd_count() == fds_before);
}

TEST_CASE("server_close unblocks a worker reading from an idle client", "[shutdown][thread]") {
    ThreadingTCPServer<StreamEcho> server{loopback4};
    std::thread loop([&] { server.serve_forever(); });
    auto idle = test::connect_stream(server.server_address());  // connects, then says nothing
    idle.send_all("hi\n");
    CHECK(test::recv_exactly(idle, 3) == "hi\n");  // a worker now blocks reading this client
    const auto begin = Clock::now();
    server.shutdown();
    loop.join();
    server.server_close();  // block_on_close: joins the worker, which must have been unblocked
    CHECK(Clock::now() - begin < 1s);
    CHECK(server.active_threads() == 0);
    CHECK(test::recv_all(idle).empty());  // the client sees EOF
}

namespace {
// Sends until the client stops reading, and then blocks in send: a download to a stalled client.
struct Flood : StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        const std::string chunk(64 * 1024, 'f');
        for (;;) {
            wfile().write(chunk);
            wfile().flush();
        }
    }
};

// A client that reads the first bytes of the flood and then nothing: the handler is in progress,
// blocked sending. With stop_timeout the stop cuts it off after that long; without, it would wait
// out the send time-out (or forever).
template <class Server>
void check_stop_timeout_cuts_off() {
    ServerConfig config;
    config.stop_timeout = 300ms;
    Server server{loopback4, config};
    std::thread loop([&] { server.serve_forever(); });
    Socket client(AF_INET, SOCK_STREAM);
    const int small = 4096;
    ::setsockopt(client.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    client.set_timeout(10s);
    client.connect(server.server_address());
    CHECK(test::recv_exactly(client, 100) == std::string(100, 'f'));
    const auto begin = Clock::now();
    server.shutdown();  // sync mode: from another thread, so it can cut the serving thread's client
    loop.join();
    server.server_close();
    const auto elapsed = Clock::now() - begin;
    CHECK(elapsed >= 250ms);  // the request had its stop_timeout to end by itself
    CHECK(elapsed < 2s * test::sanitizer_slowdown);
    // And the client sees the end of it, EOF or a reset, not its own 10 s time-out.
    bool ended = false;
    char buffer[65536];
    try {
        while (client.recv(buffer, sizeof buffer) > 0) {
        }
        ended = true;
    } catch (const TimeoutError&) {
    } catch (const std::system_error& error) {
        ended = error.code() == std::errc::connection_reset;
    }
    CHECK(ended);
}
}  // namespace

TEST_EVERY_MODE("stop_timeout cuts off a handler blocked sending to a client that does not read", "[shutdown]") {
    check_stop_timeout_cuts_off<Policy<TCPServer<Flood>>>();
}
