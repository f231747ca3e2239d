// The waiting seam: I/O suspends through whatever Suspender the thread has (the event engine's
// loop, in event mode) and blocks the thread when there is none. A recording Suspender stands in
// for the engine here, below the socket layer; the sockets are real.

#include <sockserv/base/unique_fd.hpp>
#include <sockserv/io/socket.hpp>
#include <sockserv/io/waiting.hpp>

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

using namespace sockserv;

namespace {

// A fiber that can "suspend": a wait for readability writes the peer's bytes first, as if another
// fiber had run meanwhile, and records what was asked.
struct Recording final : detail::Suspender, detail::FdCloseListener {
    Socket* peer = nullptr;
    std::vector<std::string> calls;
    bool can_suspend() const noexcept override { return true; }
    bool wait_fd(int, detail::Readiness readiness, std::optional<WaitClock::time_point>) override {
        calls.push_back(readiness == detail::Readiness::readable ? "wait readable" : "wait writable");
        if (peer) peer->send_all("late");
        return true;
    }
    void sleep_until(WaitClock::time_point) override { calls.push_back("sleep"); }
    void yield() override { calls.push_back("yield"); }
    void set_socket_timeout(int, int, std::optional<std::chrono::milliseconds>) override { calls.push_back("timeout"); }
    std::optional<std::optional<std::chrono::milliseconds>> socket_timeout(int, int) const noexcept override {
        return std::nullopt;
    }
    void note_drained(int) noexcept override { calls.push_back("drained"); }
    bool known_drained(int) const noexcept override { return false; }
    void fd_closing(int) noexcept override { calls.push_back("closing"); }
};

struct Installed {
    explicit Installed(Recording& r)
        : suspender(detail::exchange_suspender(&r)), listener(detail::exchange_fd_close_listener(&r)) {}
    ~Installed() {
        detail::exchange_suspender(suspender);
        detail::exchange_fd_close_listener(listener);
    }
    detail::Suspender* suspender;
    detail::FdCloseListener* listener;
};

}  // namespace

TEST_CASE("a receive that would block suspends through the thread's Suspender", "[io][waiting]") {
    auto [a, b] = Socket::pair();
    Recording recording;
    recording.peer = &b;
    {
        Installed installed(recording);
        CHECK(in_fiber());
        char buffer[16];
        const std::size_t n = a.recv(buffer, sizeof buffer);  // nothing yet: EAGAIN, then the wait
        CHECK(std::string(buffer, n) == "late");
        a.set_receive_timeout(std::chrono::seconds(1));  // kept by the suspender, not the kernel
        sleep_for(std::chrono::milliseconds(1));
        yield_now();
    }
    CHECK(recording.calls == std::vector<std::string>{"wait readable", "timeout", "sleep", "yield"});
}

TEST_CASE("UniqueFd tells the thread's close listener before it closes", "[io][waiting]") {
    Recording recording;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    UniqueFd read_end(fds[0]);
    {
        Installed installed(recording);
        UniqueFd write_end(fds[1]);
    }
    CHECK(recording.calls == std::vector<std::string>{"closing"});
}

TEST_CASE("with no Suspender a wait blocks the thread", "[io][waiting]") {
    CHECK_FALSE(in_fiber());
    auto [a, b] = Socket::pair();
    const auto start = WaitClock::now();
    CHECK_FALSE(wait_readable(a.fd(), start + std::chrono::milliseconds(50)));  // times out
    b.send_all("x");
    CHECK(wait_readable(a.fd(), std::nullopt));
}
