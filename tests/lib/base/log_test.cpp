// sockserv::log: each line whole, in one write, whatever its length (a short line from a small
// buffer, a longer one from a page on the stack, a longer still from the heap); errno untouched.
// log_gathered: lines that wait in a thread's LogBatch (an event loop's) and are written together,
// whole, in order with the thread's other lines, and soon.

#include <sockserv/base/log.hpp>
#include <sockserv/engine/event_loop.hpp>
#include <sockserv/io/waiting.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// What log() writes while stderr is the write end of a datagram socket pair: each write(2) is one
// datagram, so the test sees the writes themselves, not just the bytes.
std::vector<std::string> writes_of(const std::vector<std::string>& lines) {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) == 0);
    const int saved = ::dup(STDERR_FILENO);
    REQUIRE(::dup2(pair[1], STDERR_FILENO) == STDERR_FILENO);
    for (const std::string& line : lines) {
        errno = EAGAIN;
        sockserv::log("start ", line, " end");
        CHECK(errno == EAGAIN);
    }
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(pair[1]);
    std::vector<std::string> writes;
    std::string buffer(1 << 16, '\0');
    for (ssize_t n; (n = ::recv(pair[0], buffer.data(), buffer.size(), 0)) > 0;)
        writes.emplace_back(buffer.data(), static_cast<std::size_t>(n));
    ::close(pair[0]);
    return writes;
}

// Stderr as the write end of a datagram socket pair while it lives: writes() are the write(2)s
// made so far, each one datagram.
class CapturedStderr {
public:
    CapturedStderr() {
        int pair[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) == 0);
        reader_ = pair[0];
        saved_ = ::dup(STDERR_FILENO);
        REQUIRE(::dup2(pair[1], STDERR_FILENO) == STDERR_FILENO);
        ::close(pair[1]);
    }
    ~CapturedStderr() {
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
        ::close(reader_);
    }
    CapturedStderr(const CapturedStderr&) = delete;
    CapturedStderr& operator=(const CapturedStderr&) = delete;

    std::vector<std::string> writes() {
        std::string buffer(1 << 16, '\0');
        for (ssize_t n; (n = ::recv(reader_, buffer.data(), buffer.size(), MSG_DONTWAIT)) > 0;)
            writes_.emplace_back(buffer.data(), static_cast<std::size_t>(n));
        return writes_;
    }
    int reader() const noexcept { return reader_; }
    std::string text() {
        std::string all;
        for (const std::string& write : writes()) all += write;
        return all;
    }

private:
    int reader_ = -1;
    int saved_ = -1;
    std::vector<std::string> writes_;
};

}  // namespace

TEST_CASE("log writes each line whole in one write, short, page-sized or longer", "[log]") {
    const std::vector<std::string> lines{"", "x", std::string(490, 'a'), std::string(501, 'b'), std::string(3000, 'c'),
                                         std::string(sockserv::log_inline_bytes, 'd'), std::string(20000, 'e')};
    const auto writes = writes_of(lines);
    REQUIRE(writes.size() == lines.size());
    for (std::size_t i = 0; i < lines.size(); ++i) CHECK(writes[i] == "start " + lines[i] + " end\n");
}

TEST_CASE("log_gathered: without a LogBatch each line is written at once", "[log]") {
    CapturedStderr stderr_;
    sockserv::log_gathered("one ", "line");
    CHECK(stderr_.writes() == std::vector<std::string>{"one line\n"});
}

TEST_CASE("log_gathered: lines wait in a LogBatch and are written together, whole, at most 4 KiB a write", "[log]") {
    CapturedStderr stderr_;
    std::string expected;
    {
        sockserv::LogBatch batch;
        sockserv::log_gathered("first");
        sockserv::log_gathered("second\n");
        CHECK(stderr_.writes().empty());
        CHECK(batch.pending());
        batch.flush();
        CHECK(stderr_.writes() == std::vector<std::string>{"first\nsecond\n"});
        CHECK_FALSE(batch.pending());
        // 100 lines of 97 bytes: more than a batch holds, so some go while others are added.
        for (int i = 0; i < 100; ++i) {
            std::string line = std::to_string(1000 + i) + std::string(92, 'x');
            errno = EAGAIN;
            sockserv::log_gathered(line);
            CHECK(errno == EAGAIN);
            expected += line + "\n";
        }
    }  // the rest are written when the batch ends
    const auto writes = stderr_.writes();
    REQUIRE(writes.size() >= 4);
    std::string joined;
    for (std::size_t i = 1; i < writes.size(); ++i) {
        CHECK(writes[i].size() <= sockserv::LogBatch::batch_bytes);
        CHECK(writes[i].ends_with('\n'));
        joined += writes[i];
    }
    CHECK(joined == expected);
    // With the batch gone, the thread writes at once again.
    sockserv::log_gathered("after");
    CHECK(stderr_.writes().back() == "after\n");
}

TEST_CASE("log_gathered: a log() line writes the waiting lines first - a line longer than a batch goes alone", "[log]") {
    CapturedStderr stderr_;
    const std::string long_line(sockserv::LogBatch::batch_bytes + 10, 'L');
    sockserv::LogBatch batch;
    sockserv::log_gathered("a");
    sockserv::log_gathered("b");
    sockserv::log("an error");
    sockserv::log_gathered("c");
    sockserv::log_gathered(long_line);
    sockserv::log_gathered("d");
    batch.flush();
    CHECK(stderr_.writes() == std::vector<std::string>{"a\nb\n", "an error\n", "c\n", long_line + "\n", "d\n"});
}

TEST_CASE("log_gathered: a process forked while lines wait leaves them to its parent", "[log]") {
    CapturedStderr stderr_;
    sockserv::LogBatch batch;
    sockserv::log_gathered("the parent's line");
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        sockserv::log("the child's line");  // would write the parent's first, were they still there
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    batch.flush();
    CHECK(stderr_.writes() == std::vector<std::string>{"the child's line\n", "the parent's line\n"});
}

TEST_CASE("EventLoop: an access line is written once the loop is idle, and soon under load too", "[event][log]") {
    using namespace std::chrono_literals;
    CapturedStderr stderr_;
    sockserv::EventLoop loop(64 * 1024);
    std::optional<std::string> seen_idle, seen_busy;
    loop.spawn([&] {
        sockserv::log_gathered("served while idle");
        // The fiber waits for the line itself: no other event will come, so only the loop's own
        // timing writes it. (After 1 ms idle; this cannot tell that from the 50 ms limit, a figure.)
        if (sockserv::wait_readable(stderr_.reader(), sockserv::EventLoop::Clock::now() + 5s)) seen_idle = stderr_.text();
        // Busy: a ready fiber all along, so the loop never waits; the line goes once it has waited long.
        sockserv::log_gathered("served while busy");
        const auto until = sockserv::EventLoop::Clock::now() + 5s;
        while (stderr_.text().find("busy") == std::string::npos && sockserv::EventLoop::Clock::now() < until)
            loop.yield();
        seen_busy = stderr_.text();
    });
    loop.run_until_idle();
    REQUIRE(seen_idle);
    CHECK(*seen_idle == "served while idle\n");
    REQUIRE(seen_busy);
    CHECK(*seen_busy == "served while idle\nserved while busy\n");
}
