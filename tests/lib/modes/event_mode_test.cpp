// Event mode: what the loops and fibers promise, with real sockets (and, for what can only be seen
// from outside, a real process: probe_server).

#include "../../../apps/echo/echo_handlers.hpp"
#include "../../support/test_support.hpp"

#include <sockserv/modes/event_mode.hpp>
#include <sockserv/modes/threading.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <map>
#include <thread>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>

using namespace sockserv;
using namespace std::chrono_literals;
using echo::StreamEcho;
using Clock = std::chrono::steady_clock;

namespace {

const Address loopback4{"127.0.0.1", 0};

// Echoes lines, each read bounded by a time-out of PatienceMs: an idle client is cut off.
template <int PatienceMs>
struct Patience : StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    std::optional<std::chrono::milliseconds> timeout() const override { return std::chrono::milliseconds(PatienceMs); }
    void handle() override {
        std::string line;
        try {
            while (rfile().readline(line)) wfile().write(line);
        } catch (const TimeoutError&) {
            wfile().write("timed out\n");
        }
    }
};
using Impatient = Patience<200>;
// A time-out of zero: no waiting at all (the kernel's SO_RCVTIMEO of zero would be "forever", so a
// thread's socket gets the shortest it can say instead).
using NoPatience = Patience<0>;

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

// "tid": the kernel thread serving it; "block MS": blocks that thread for MS (what a handler must
// not do), then "blocked".
struct ThreadProbe : StreamRequestHandler {
    using StreamRequestHandler::StreamRequestHandler;
    void handle() override {
        std::string line;
        while (rfile().readline(line)) {
            if (line.starts_with("block ")) {
                std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(line.substr(6))));
                wfile().write("blocked\n");
            } else {
                wfile().write(std::to_string(test::current_tid()) + "\n");
            }
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
    // TSan starts its background thread with a process's first thread: started here, so it is
    // counted before whether or not an earlier test in this process made one.
    std::thread([] {}).join();
    const int threads_before = test::thread_count();
    EventMode<TCPServer<StreamEcho>> server{loopback4, {.event = {.loops = 2}}};
    test::Running running(server);
    // The test's own serving thread runs loop 0; one more thread for loop 1.
    REQUIRE(test::eventually([&] { return test::thread_count() == threads_before + 2; }));
    std::vector<Socket> clients;
    for (int i = 0; i < 200; ++i) {
        clients.push_back(test::connect_stream(server.server_address()));
        clients.back().send_all("client " + std::to_string(i) + "\n");
    }
    for (int i = 0; i < 200; ++i) CHECK(test::recv_exactly(clients[i], 8 + std::to_string(i).size()) == "client " + std::to_string(i) + "\n");
    CHECK(server.active_requests() == 200);
    CHECK(test::thread_count() == threads_before + 2);  // none per connection
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

namespace {
template <class Server>
void check_zero_timeout_does_not_wait(Server& server) {
    test::Running running(server);
    auto client = test::connect_stream(server.server_address());  // sends nothing
    CHECK(test::recv_all(client) == "timed out\n");  // not a wait for the client's 10 s time-out
}
}  // namespace

TEST_CASE("a time-out of zero times out at once, in event mode as in thread mode", "[event]") {
    SECTION("thread mode") {
        ThreadingMixIn<TCPServer<NoPatience>> server{loopback4};
        check_zero_timeout_does_not_wait(server);
    }
    SECTION("event mode") {
        EventMode<TCPServer<NoPatience>> server{loopback4, {.event = {.loops = 1}}};
        check_zero_timeout_does_not_wait(server);
    }
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
    REQUIRE(test::blocked_in_sleep(std::stoi(stalled_tid), 10s, server.pid()));
    // While that loop sleeps, new clients are taken by the other loop, on another thread, once
    // the block has lasted stall_after (20 ms): it takes over accepting.
    const auto begin = Clock::now();
    for (int i = 0; i < 20; ++i) {
        auto client = test::connect_stream(address);
        CHECK(ask(client, "tid") != stalled_tid);
        CHECK(ask(client, "echo " + std::to_string(i)) == "echo " + std::to_string(i));
    }
    CHECK(Clock::now() - begin < 2500ms);
    CHECK(ask(stalled, "echo after") == "blocked");  // its own answer came once the block ended
}

TEST_CASE("event mode: a loop blocked for less than stall_after keeps its new clients - the others stand by", "[event]") {
    // Only loop 0 accepts while it goes round: a client that comes while it is busy waits for it,
    // where every loop accepting would have had loop 1 take it at once.
    EventMode<TCPServer<ThreadProbe>> server{loopback4, {.event = {.loops = 2, .stall_after = 10s}}};
    test::Running running(server);
    auto first = test::connect_stream(server.server_address());
    const std::string first_tid = ask(first, "tid");
    first.send_all("block 500\n");
    REQUIRE(test::blocked_in_sleep(std::stoi(first_tid)));
    const auto begin = Clock::now();
    auto second = test::connect_stream(server.server_address());
    CHECK(ask(second, "tid") == first_tid);
    CHECK(Clock::now() - begin >= 200ms);  // after the block: nobody took it meanwhile
    CHECK(ask(first, "tid") == "blocked");  // the block's own answer, then
    CHECK(ask(first, "") == first_tid);
}

TEST_CASE("event mode: a burst of connections is spread over the loops by the one that accepts", "[event]") {
    EventMode<TCPServer<ThreadProbe>> server{loopback4, {.event = {.loops = 2}}};
    test::Running running(server);
    std::vector<Socket> clients;
    for (int i = 0; i < 16; ++i) clients.push_back(test::connect_stream(server.server_address()));
    std::map<std::string, int> served_by;
    for (auto& client : clients) ++served_by[ask(client, "tid")];
    REQUIRE(served_by.size() == 2);
    for (const auto& [tid, count] : served_by) CHECK(count >= 6);  // about half each (balance(): within 2)
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

namespace {

// A loopback TCP connection, its server end non-blocking as a loop's connections are.
struct Connection : test::TcpPair {
    Connection() {
        REQUIRE(server);
        server.set_nonblocking(true);
    }
};

}  // namespace

TEST_CASE("EventLoop: Watch::once hears a readable fd once, and again only after rearm()", "[event]") {
    EventLoop loop(64 * 1024);
    int ends[2];
    REQUIRE(::pipe2(ends, O_NONBLOCK | O_CLOEXEC) == 0);
    const UniqueFd read_end(ends[0]), write_end(ends[1]);
    REQUIRE(::write(write_end.get(), "x", 1) == 1);  // never read: readable all along
    int heard = 0, heard_level = 0;
    REQUIRE(loop.watch(read_end.get(), [&] { ++heard; }, EventLoop::Watch::once));
    loop.set_round_hook([] { return std::optional<EventLoop::Clock::duration>(1ms); });  // no round waits long
    const auto go_round = [&](int rounds) { loop.run([&rounds] { return rounds-- == 0; }); };
    go_round(5);
    CHECK(heard == 1);
    loop.rearm(read_end.get());
    go_round(5);
    CHECK(heard == 2);
    // Watched level-triggered instead, the same fd is heard every round.
    REQUIRE(loop.watch(read_end.get(), [&] { ++heard_level; }));
    go_round(5);
    CHECK(heard == 2);
    CHECK(heard_level == 5);
    loop.unwatch(read_end.get());
}

TEST_CASE("EventLoop::round_began: none while the loop waits, the round's start while it works", "[event]") {
    EventLoop loop(64 * 1024);
    CHECK_FALSE(loop.round_began());  // never ran
    std::optional<EventLoop::Clock::time_point> in_fiber;
    std::atomic<bool> stop{false};
    loop.spawn([&] { in_fiber = loop.round_began(); });
    const auto before = Clock::now();
    std::promise<pid_t> started;
    std::thread running([&] {
        started.set_value(test::current_tid());
        loop.run([&] { return stop.load(); });
    });
    REQUIRE(test::blocked_in_poll(started.get_future().get()));
    CHECK_FALSE(loop.round_began());  // waiting in epoll_wait: another loop must not call it stalled
    stop = true;
    loop.wake();
    running.join();
    REQUIRE(in_fiber);
    CHECK(*in_fiber >= before);
    CHECK(*in_fiber <= Clock::now());
}

TEST_CASE("EventLoop::post from another thread is run whether the loop waits or is in a round", "[event]") {
    // post() writes the eventfd only when the loop waits or is about to: a post that lands as the
    // loop goes to wait must still be run, not wait for some other wake-up (there is none here).
    EventLoop loop(64 * 1024);
    std::atomic<int> ran{0};
    std::atomic<bool> stop{false};
    std::thread running([&] { loop.run([&] { return stop.load(); }); });
    constexpr int posts = 20000;
    bool lost = false;
    for (int i = 1; i <= posts && !lost; ++i) {
        // Some tasks keep the loop in its round a little, so that the next post finds it there.
        loop.post([&ran, i] {
            if (i % 3 == 0)
                for (const auto until = Clock::now() + 2us; Clock::now() < until;) {
                }
            ran.fetch_add(1);
        });
        if (i % 2 == 0) {  // every other post: wait for both, so that the loop goes back to waiting
            const auto deadline = Clock::now() + 5s;
            while (ran.load() < i)
                if (Clock::now() > deadline) {
                    lost = true;
                    break;
                }
        }
    }
    CHECK_FALSE(lost);
    CHECK(ran.load() == posts);
    stop = true;
    loop.wake();
    running.join();
}

TEST_CASE("EventLoop: a short read leaves a socket known drained until its next edge - a FIN reads on to EOF", "[event]") {
    EventLoop loop(64 * 1024);
    Connection c;
    const int fd = c.server.fd();
    std::vector<std::string> seen;
    bool drained_after_short = false, drained_after_fin = true;
    loop.spawn([&] {
        char buffer[100];
        c.client.send_all("abc");
        seen.emplace_back(buffer, c.server.recv(buffer, sizeof buffer));
        drained_after_short = loop.known_drained(fd);
        // The next read waits (no recv that would say EAGAIN) and wakes on the data's edge.
        std::thread late([&] {
            std::this_thread::sleep_for(50ms);
            c.client.send_all("def");
        });
        seen.emplace_back(buffer, c.server.recv(buffer, sizeof buffer));
        late.join();
        // Data and FIN already queued, and reported by an edge before the short read: the read
        // after it must not wait for another edge (none comes) but say EOF at once.
        c.client.send_all("gh");
        c.client.shutdown(SHUT_WR);
        // Once the FIN is in the socket, one round of the loop reports its edge (RDHUP).
        for (pollfd p{fd, POLLRDHUP, 0}; ::poll(&p, 1, 0) == 0 || !(p.revents & POLLRDHUP);) sockserv::yield_now();
        sockserv::yield_now();
        seen.emplace_back(buffer, c.server.recv(buffer, sizeof buffer));
        drained_after_fin = loop.known_drained(fd);
        seen.emplace_back(buffer, c.server.recv(buffer, sizeof buffer));
    }, fd);
    loop.run_until_idle();
    CHECK(seen == std::vector<std::string>{"abc", "def", "gh", ""});
    CHECK(drained_after_short);
    CHECK_FALSE(drained_after_fin);
}

TEST_CASE("EventLoop: a socket read short is registered at its first wait - what came in between wakes it", "[event]") {
    EventLoop loop(64 * 1024);
    Connection c;
    const int fd = c.server.fd();
    c.server.set_timeout(2s);  // a lost wake-up fails the read, rather than hanging the test
    std::vector<std::string> seen;
    bool drained_in_round = false, drained_next_round = true, drained_registered = false;
    loop.spawn([&] {
        char buffer[100];
        c.client.send_all("abc");
        seen.emplace_back(buffer, c.server.recv(buffer, sizeof buffer));
        drained_in_round = loop.known_drained(fd);
        // Arrives before the fd is in the epoll set, in the same round: the wait's registration
        // must report it, as no later edge will.
        c.client.send_all("def");
        try {
            seen.emplace_back(buffer, c.server.recv(buffer, sizeof buffer));
        } catch (const TimeoutError&) {
            seen.emplace_back("timed out");
        }
        c.client.send_all("g");
        for (pollfd p{fd, POLLIN, 0}; ::poll(&p, 1, 0) == 0;) sockserv::yield_now();
        sockserv::yield_now();  // the edge is seen: the next read takes it
        seen.emplace_back(buffer, c.server.recv(buffer, sizeof buffer));
        sockserv::yield_now();
        sockserv::yield_now();
        drained_registered = loop.known_drained(fd);  // registered now: drained across rounds, until an edge
    }, fd);
    Connection other;
    const int other_fd = other.server.fd();
    loop.spawn([&] {
        char buffer[100];
        other.client.send_all("xyz");
        (void)other.server.recv(buffer, sizeof buffer);
        sockserv::yield_now();
        sockserv::yield_now();
        // Never registered, and rounds went by: an edge might have come unseen, so it is not
        // known drained (a close now takes the careful path, a read asks the kernel).
        drained_next_round = loop.known_drained(other_fd);
    }, other_fd);
    loop.run_until_idle();
    CHECK(seen == std::vector<std::string>{"abc", "def", "g"});
    CHECK(drained_in_round);
    CHECK_FALSE(drained_next_round);
    CHECK(drained_registered);
}

TEST_CASE("EventLoop: an fd's wait times out at its own deadline, never before, whatever its earlier waits armed",
          "[event]") {
    EventLoop loop(64 * 1024);
    Connection c;
    const int fd = c.server.fd();
    std::vector<bool> woken;
    std::vector<Clock::duration> waited;
    loop.spawn([&] {
        const auto wait = [&](Clock::duration timeout, bool data) {
            // The byte comes from another fiber of this loop: it runs only once this one has
            // parked in its wait (and armed the fd's timer), so the wait is woken by its edge.
            if (data) loop.spawn([&] { c.client.send_all("x"); });
            const auto start = Clock::now();
            woken.push_back(sockserv::wait_readable(fd, start + timeout));
            waited.push_back(Clock::now() - start);
            char byte;
            if (woken.back()) (void)c.server.recv(&byte, 1);
        };
        wait(400ms, true);   // woken by the byte; the fd's timer stays armed for its deadline
        wait(450ms, false);  // a little later than that timer: it fires first, then this deadline
        wait(5s, true);      // woken again, the timer left armed 5 s out
        wait(100ms, false);  // sooner than the armed timer: not kept waiting for it
    }, fd);
    loop.run_until_idle();
    CHECK(woken == std::vector<bool>{true, false, true, false});
    CHECK(waited[1] >= 450ms);
    CHECK(waited[3] >= 100ms);
    CHECK(waited[3] < 2s);
}

TEST_CASE("EventLoop::spawn_when_readable starts a fiber on the first bytes, at the deadline, or when unblocked",
          "[event]") {
    EventLoop loop(64 * 1024);
    Connection talking, silent, unblocked;
    std::vector<std::pair<std::string, bool>> started;  // which, and whether readable
    Clock::time_point sent{}, first_started{};
    loop.spawn_when_readable(talking.server.fd(), std::nullopt, [&](bool readable) {
        first_started = Clock::now();
        char buffer[16];
        started.emplace_back(std::string(buffer, talking.server.recv(buffer, sizeof buffer)), readable);
    });
    const auto deadline_set = Clock::now();
    Clock::time_point timed_out{};
    loop.spawn_when_readable(silent.server.fd(), Clock::now() + 150ms, [&](bool readable) {
        timed_out = Clock::now();
        started.emplace_back("silent", readable);
    });
    loop.spawn_when_readable(unblocked.server.fd(), std::nullopt, [&](bool readable) {
        char buffer[16];
        started.emplace_back("unblocked:" + std::to_string(unblocked.server.recv(buffer, sizeof buffer)), readable);
    });
    CHECK(loop.fibers() == 0);
    CHECK(loop.waiting_connections() == 3);
    std::thread client([&] {
        std::this_thread::sleep_for(50ms);
        sent = Clock::now();
        talking.client.send_all("hello");
    });
    loop.run([&] { return started.size() == 2; });  // the talker, then the silent one's deadline
    client.join();
    CHECK(loop.waiting_connections() == 1);
    loop.post([&] { loop.unblock_connections(); });  // a stopping server: it sees EOF
    loop.run_until_idle();
    REQUIRE(started.size() == 3);
    CHECK(started[0] == std::pair<std::string, bool>{"hello", true});
    CHECK(first_started >= sent);  // nothing ran before the bytes came
    CHECK(started[1] == std::pair<std::string, bool>{"silent", false});
    CHECK(timed_out - deadline_set >= 150ms);
    CHECK(started[2] == std::pair<std::string, bool>{"unblocked:0", true});
    CHECK(loop.idle());
}

TEST_CASE("event mode, start_on_first_bytes: a silent connection is closed at first_bytes_timeout, others are served",
          "[event]") {
    EventMode<TCPServer<StreamEcho>> server{
        loopback4, {.event = {.loops = 2, .start_on_first_bytes = true, .first_bytes_timeout = 200ms}}};
    test::Running running(server);
    auto silent = test::connect_stream(server.server_address());
    const auto begin = Clock::now();
    auto talking = test::connect_stream(server.server_address());
    talking.send_all("hello\n");
    CHECK(test::recv_exactly(talking, 6) == "hello\n");
    CHECK(test::recv_all(silent).empty());  // closed without a word
    CHECK(Clock::now() - begin >= 150ms);
    CHECK(Clock::now() - begin < 5s);
    talking.send_all("again\n");
    CHECK(test::recv_exactly(talking, 6) == "again\n");  // a served connection is not on that clock
}

TEST_CASE("event mode, defer_accept: the kernel holds a connection until its first bytes - a silent client is still served",
          "[event]") {
    EventMode<TCPServer<StreamEcho>> server{loopback4,
                                            {.defer_accept = true, .event = {.loops = 2, .start_on_first_bytes = true}}};
    test::Running running(server);
    int deferred = 0;
    socklen_t size = sizeof deferred;
    REQUIRE(::getsockopt(server.socket().fd(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &deferred, &size) == 0);
    CHECK(deferred > 0);
    // A request that comes with its connection is answered at once.
    auto talking = test::connect_stream(server.server_address());
    talking.send_all("hello\n");
    CHECK(test::recv_exactly(talking, 6) == "hello\n");
    // One that stays silent past the kernel's hold is accepted without bytes and waits in the
    // loop (a peek finds nothing: no fiber yet), then is served when it speaks.
    auto silent = test::connect_stream(server.server_address());
    REQUIRE(test::eventually([&] { return server.active_requests() == 2; }, 10s));
    silent.send_all("late\n");
    CHECK(test::recv_exactly(silent, 5) == "late\n");
}

TEST_CASE("event mode, defer_accept: a Unix stream listener, which cannot defer, is served as before", "[event]") {
    test::TempDir dir;
    EventMode<UnixStreamServer<StreamEcho>> server{
        Address::unix_path((dir.path() / "s").string()),
        {.defer_accept = true, .event = {.loops = 1, .start_on_first_bytes = true}}};
    test::Running running(server);
    auto client = test::connect_stream(server.server_address());
    client.send_all("unix\n");
    CHECK(test::recv_exactly(client, 5) == "unix\n");
}

TEST_CASE("event mode, start_on_first_bytes: shutdown with 1,000 silent connections ends each at once",
          "[event][shutdown]") {
    EventMode<TCPServer<StreamEcho>> server{loopback4, {.event = {.loops = 2, .start_on_first_bytes = true}}};
    std::thread loop([&] { server.serve_forever(); });
    std::vector<Socket> clients;
    for (int i = 0; i < 1000; ++i) clients.push_back(test::connect_stream(server.server_address()));
    REQUIRE(test::eventually([&] { return server.active_requests() == 1000; }));
    const auto begin = Clock::now();
    server.shutdown();
    loop.join();
    server.server_close();
    CHECK(Clock::now() - begin < 2s * test::sanitizer_slowdown);
    CHECK(server.active_requests() == 0);
    for (auto& client : clients) CHECK(test::recv_all(client).empty());
}
