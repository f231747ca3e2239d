// Event mode: what the loops and fibers promise, with real sockets (and, for what can only be seen
// from outside, a real process: probe_server).

#include "../../../apps/echo/echo_handlers.hpp"
#include "../../support/test_support.hpp"

#include <sockserv/modes/event_mode.hpp>

#include <catch2/catch.hpp>

#include <future>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

using namespace sockserv;
using namespace std::chrono_literals;
using echo::StreamEcho;
using Clock = std::chrono::steady_clock;

namespace {

const Address loopback4{"127.0.0.1", 0};

// Reads with a 200 ms time-out: an idle client is cut off.
struct Impatient : StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    std::optional<std::chrono::milliseconds> timeout() const override { return 200ms; }
    void handle() override {
        std::string line;
        try {
            while (rfile().readline(line)) wfile().write(line);
        } catch (const TimeoutError&) {
            wfile().write("timed out\n");
        }
    }
};

// "busy": for 400 ms, keeps setting errno on its loop's thread (a failing open), giving way each
// millisecond; anything else: waits for a line with a 200 ms time-out, as Impatient does.
struct ErrnoNeighbour : StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    std::optional<std::chrono::milliseconds> timeout() const override { return 200ms; }
    void handle() override {
        std::string line;
        if (!rfile().readline(line)) return;
        if (line == "busy\n") {
            for (const auto end = Clock::now() + 400ms; Clock::now() < end;) {
                [[maybe_unused]] const int fd = ::open("/nonexistent/sockserv", O_RDONLY);  // errno = ENOENT
                sockserv::sleep_for(1ms);
            }
            wfile().write("done\n");
            return;
        }
        try {
            rfile().readline(line);
        } catch (const TimeoutError&) {
            wfile().write("timed out\n");
        }
    }
};

test::Process probe(const std::string& loops) {
    return test::Process({test::binary("probe_server"), "--port", "0", "--mode", "event", "--loops", loops});
}

std::string ask(const Socket& client, const std::string& line) {
    client.send_all(line + "\n");
    std::string answer;
    char c;
    while (client.recv(&c, 1) == 1 && c != '\n') answer += c;
    return answer;
}

}  // namespace

TEST_CASE("event mode serves many connections on its loops' threads only", "[event]") {
    const int threads_before = test::thread_count();
    EventMode<TCPServer<StreamEcho>> server{loopback4, {.event = {.loops = 2}}};
    test::Running running(server);
    // The test's own serving thread runs loop 0; one more thread for loop 1 (and a sanitizer's own).
    REQUIRE(test::eventually([&] { return test::thread_count() == threads_before + 2 + test::sanitizer_threads; }));
    std::vector<Socket> clients;
    for (int i = 0; i < 200; ++i) {
        clients.push_back(test::connect_stream(server.server_address()));
        clients.back().send_all("client " + std::to_string(i) + "\n");
    }
    for (int i = 0; i < 200; ++i) CHECK(test::recv_exactly(clients[i], 8 + std::to_string(i).size()) == "client " + std::to_string(i) + "\n");
    CHECK(server.active_requests() == 200);
    CHECK(test::thread_count() == threads_before + 2 + test::sanitizer_threads);  // none per connection
}

TEST_CASE("event mode: a time-out is a TimeoutError even when other fibers set errno meanwhile", "[event]") {
    // The waiting fiber resumes after its neighbour's failing calls; it must not report their errno.
    EventMode<TCPServer<ErrnoNeighbour>> server{loopback4, {.event = {.loops = 1}}};
    test::Running running(server);
    auto busy = test::connect_stream(server.server_address());
    busy.send_all("busy\n");
    auto idle = test::connect_stream(server.server_address());
    idle.send_all("idle\n");
    CHECK(test::recv_all(idle) == "timed out\n");
    CHECK(test::recv_all(busy) == "done\n");
}

TEST_CASE("event mode: a handler's time-out keeps its meaning on a non-blocking socket", "[event]") {
    EventMode<TCPServer<Impatient>> server{loopback4, {.event = {.loops = 1}}};
    test::Running running(server);
    auto client = test::connect_stream(server.server_address());
    client.send_all("first\n");
    CHECK(test::recv_exactly(client, 6) == "first\n");
    const auto begin = Clock::now();
    CHECK(test::recv_all(client) == "timed out\n");  // then EOF
    const auto waited = Clock::now() - begin;
    CHECK(waited >= 150ms);
    CHECK(waited < 5s);
}

TEST_CASE("event mode: at --max-connections new clients wait in the backlog until one ends", "[event]") {
    EventMode<TCPServer<test::HoldingGreeter>> server{loopback4, {.event = {.loops = 2, .max_connections = 2}}};
    test::Running running(server);
    auto [second, third] = test::check_third_client_waits_for_a_worker(server.server_address());
    test::hang_up(second);
    test::hang_up(third);
}

TEST_CASE("event mode: shutdown with 1,000 idle connections takes under 100 ms", "[event][shutdown]") {
    EventMode<TCPServer<StreamEcho>> server{loopback4, {.event = {.loops = 2}}};
    std::promise<pid_t> started;
    std::thread loop([&] {
        started.set_value(test::current_tid());
        server.serve_forever();
    });
    const pid_t loop_tid = started.get_future().get();
    std::vector<Socket> clients;
    for (int i = 0; i < 1000; ++i) {
        clients.push_back(test::connect_stream(server.server_address()));
        clients.back().send_all("x\n");
    }
    for (auto& client : clients) REQUIRE(test::recv_exactly(client, 2) == "x\n");  // each fiber is waiting
    REQUIRE(test::blocked_in_poll(loop_tid));
    const auto begin = Clock::now();
    server.shutdown();
    loop.join();
    server.server_close();
    const auto elapsed = Clock::now() - begin;
    CHECK(server.active_requests() == 0);
    CHECK(elapsed < 100ms * test::sanitizer_slowdown);  // TSan makes each fiber switch ~10x dearer
    for (auto& client : clients) CHECK(test::recv_all(client).empty());  // EOF: the server hung up
}

TEST_CASE("event mode: handle_request serves one request to its end", "[event]") {
    EventMode<TCPServer<StreamEcho>> server{loopback4, {.event = {.loops = 1}}};
    std::string echoed;  // the client's thread makes no assertions: Catch's are not thread safe
    std::thread client_thread([&] {
        auto client = test::connect_stream(server.server_address());
        client.send_all("once\n");
        client.shutdown(SHUT_WR);
        echoed = test::recv_all(client);
    });
    CHECK(server.handle_request());
    client_thread.join();
    CHECK(echoed == "once\n");
    server.server_close();
}

TEST_CASE("event mode: a handler that blocks its thread stalls only its own loop", "[event][app]") {
    auto server = probe("2");
    const Address address = server.wait_until_serving();
    auto stalled = test::connect_stream(address);
    const std::string stalled_tid = ask(stalled, "tid");
    stalled.send_all("block 3000\n");
    // Until that loop's thread is really asleep (else a client connecting in the meantime may be
    // accepted by the loop just before it stalls).
    const std::string syscall_file = "/proc/" + std::to_string(server.pid()) + "/task/" + stalled_tid + "/syscall";
    REQUIRE(test::eventually([&] {
        const std::string call = test::read_file(syscall_file);
        return call.starts_with(std::to_string(SYS_clock_nanosleep) + " ") || call.starts_with(std::to_string(SYS_nanosleep) + " ");
    }));
    // While that loop sleeps, new clients are taken by the other loop, on another thread.
    const auto begin = Clock::now();
    for (int i = 0; i < 20; ++i) {
        auto client = test::connect_stream(address);
        CHECK(ask(client, "tid") != stalled_tid);
        CHECK(ask(client, "echo " + std::to_string(i)) == "echo " + std::to_string(i));
    }
    CHECK(Clock::now() - begin < 2500ms);
    CHECK(ask(stalled, "echo after") == "blocked");  // its own answer came once the block ended
}

TEST_CASE("event mode: a wait through sleep_for lets the loop serve others", "[event][app]") {
    auto server = probe("1");
    const Address address = server.wait_until_serving();
    auto napping = test::connect_stream(address);
    napping.send_all("nap 2000\n");
    auto other = test::connect_stream(address);
    const auto begin = Clock::now();
    CHECK(ask(other, "echo quick") == "echo quick");
    CHECK(Clock::now() - begin < 1500ms);  // not after the nap: one loop, yet it was free
    CHECK(ask(napping, "") == "napped");
}

TEST_CASE("event mode: a fiber's stack overflow is reported, never silent", "[event][app]") {
    auto server = probe("1");
    const Address address = server.wait_until_serving();
    auto client = test::connect_stream(address);
    client.send_all("deep\n");
    CHECK(test::recv_all(client).empty());  // the process died: no answer, EOF
    const int status = server.wait();
    CHECK(WIFSIGNALED(status));
    CHECK(server.stderr_text().find("stack overflow in a fiber") != std::string::npos);
}
