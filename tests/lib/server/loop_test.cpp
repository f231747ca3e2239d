// What the serving loop offers beyond Python's: request numbering in arrival order, extra fds
// watched by the loop (add_reader), and fan-out of one datagram to many addresses.

#include "../../support/every_mode.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

using namespace sockserv;
using namespace std::chrono_literals;

namespace {

const Address loopback4{"127.0.0.1", 0};

struct Nothing : DatagramRequestHandler {
    using DatagramRequestHandler::DatagramRequestHandler;
};

// The handlers log packets in shared memory, in the order they take their turn, so a forked child's
// entry reaches the test; each datagram is acknowledged once logged.
struct Received {
    ArrivalOrder order;
    std::array<std::array<char, 8>, 512> packets{};
    std::size_t size = 0;
};

struct Ordered : WithState<DatagramRequestHandler, Received> {
    using WithState::WithState;
    void handle() override {
        ArrivalOrder::Turn turn(state().order, request().sequence);
        auto& slot = state().packets[state().size++];
        packet().copy(slot.data(), slot.size() - 1);
        reply("ok");
    }
};

template <class Server>
void check_handlers_keep_arrival_order() {
    Shared<Received> received;
    Server server{loopback4, *received};
    test::Running running(server);
    auto client = test::datagram_client(server.server_address());
    constexpr int count = 300, burst = 50;
    // Bursts: each sent before any acknowledgement is read, so handlers really run concurrently;
    // small enough that the server's receive buffer never overflows (UDP would drop, not wait).
    for (int i = 0; i < count; i += burst) {
        for (int j = i; j < i + burst; ++j) client.sendto(std::to_string(j), server.server_address());
        char ack[8];
        Address from;
        for (int j = 0; j < burst; ++j) REQUIRE(client.recvfrom(ack, sizeof ack, from) == 2);
    }
    // Under the lock: the acknowledgements ordered the handlers' writes before this read, but
    // only the lock says so to ThreadSanitizer.
    std::lock_guard lock(received->order);
    REQUIRE(received->size == count);
    for (int i = 0; i < count; ++i) CHECK(std::string(received->packets[i].data()) == std::to_string(i));
}

}  // namespace

TEST_EVERY_MODE("requests are numbered in arrival order - handlers restore it with ArrivalOrder", "[loop]") {
    check_handlers_keep_arrival_order<Policy<UDPServer<Ordered>>>();
}

TEST_CASE("add_reader runs its callback in the serving thread - and can remove itself", "[loop][sync]") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    UniqueFd read_end(fds[0]), write_end(fds[1]);
    UDPServer<Nothing> server{loopback4};
    std::mutex mutex;
    std::string got;
    std::vector<pid_t> callers;
    int calls_after_eof = 0;
    bool eof = false;
    server.add_reader(read_end.get(), [&] {
        std::lock_guard lock(mutex);
        if (eof) ++calls_after_eof;
        callers.push_back(test::current_tid());
        char buffer[64];
        const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
        if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
        if (n == 0) {
            eof = true;
            server.remove_reader(read_end.get());
        }
        if (got == "boom") {
            got.clear();
            throw std::runtime_error("reader blew up");
        }
    });
    pid_t serving_tid = 0;
    std::thread loop([&] {
        serving_tid = test::current_tid();
        server.serve_forever();
    });
    REQUIRE(::write(write_end.get(), "boom", 4) == 4);  // the loop reports it and goes on
    REQUIRE(test::eventually([&] { std::lock_guard lock(mutex); return callers.size() == 1; }));
    REQUIRE(::write(write_end.get(), "admin line", 10) == 10);
    REQUIRE(test::eventually([&] { std::lock_guard lock(mutex); return got == "admin line"; }));
    write_end.reset();  // EOF: the callback removes itself; no busy loop on the hung-up pipe
    REQUIRE(test::eventually([&] { std::lock_guard lock(mutex); return eof; }));
    // Still serving requests, and the hung-up pipe is no longer polled.
    auto client = test::datagram_client(server.server_address(), 200ms);
    client.sendto("x", server.server_address());
    REQUIRE(test::blocked_in_poll(serving_tid));
    server.shutdown();
    loop.join();
    std::lock_guard lock(mutex);
    CHECK(calls_after_eof == 0);
    for (const pid_t tid : callers) CHECK(tid == serving_tid);
}

// The loop keeps its poll set on the stack up to 16 fds and in a vector past that: both serve.
TEST_CASE("add_reader watches more readers than fit on the loop's stack - every one is heard", "[loop][sync]") {
    constexpr int readers = 40;
    std::vector<UniqueFd> read_ends, write_ends;
    for (int i = 0; i < readers; ++i) {
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
        read_ends.emplace_back(fds[0]);
        write_ends.emplace_back(fds[1]);
    }
    UDPServer<Nothing> server{loopback4};
    std::mutex mutex;
    std::vector<int> heard;
    for (int i = 0; i < readers; ++i)
        server.add_reader(read_ends[static_cast<std::size_t>(i)].get(), [&, i] {
            char byte;
            while (::read(read_ends[static_cast<std::size_t>(i)].get(), &byte, 1) == 1) {
            }
            std::lock_guard lock(mutex);
            heard.push_back(i);
        });
    test::Running running(server);
    // One pipe at a time, from the last (past the stack's room) to the first.
    for (int i = readers - 1; i >= 0; --i) {
        REQUIRE(::write(write_ends[static_cast<std::size_t>(i)].get(), "x", 1) == 1);
        REQUIRE(test::eventually([&] { std::lock_guard lock(mutex); return !heard.empty() && heard.back() == i; }));
    }
    std::lock_guard lock(mutex);
    CHECK(heard.size() == static_cast<std::size_t>(readers));
}

TEST_CASE("sendto_many sends one datagram to every address - skipping one that fails", "[loop][sync]") {
    test::TempDir dir;
    auto sender = Socket(AF_UNIX, SOCK_DGRAM);
    sender.set_nonblocking(true);
    std::vector<Socket> receivers;
    std::vector<Address> addresses;
    for (int i = 0; i < 150; ++i) {
        if (i == 70) addresses.push_back(Address::unix_path((dir / "gone").string()));  // nobody there
        const Address address = Address::unix_path((dir / std::string("r").append(std::to_string(i))).string());
        receivers.emplace_back(AF_UNIX, SOCK_DGRAM);
        receivers.back().bind(address);
        receivers.back().set_timeout(2s);
        addresses.push_back(address);
    }
    CHECK(sender.sendto_many("hello all", addresses) == 150);
    for (auto& receiver : receivers) {
        char buffer[32];
        Address from;
        const std::size_t n = receiver.recvfrom(buffer, sizeof buffer, from);
        CHECK(std::string(buffer, n) == "hello all");
    }
}
