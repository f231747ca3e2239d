// ChildProcesses on its own: pidfd watching, the record growing past its first size, children left
// unwatched when the process is out of fds, the program's own SIGCHLD disposition, and children that
// must not touch their siblings' record.

#include "../../support/test_support.hpp"

#include <sockserv/process/child_processes.hpp>
#include <sockserv/modes/forking.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

using namespace sockserv;

namespace {

// A pipe whose read end each child blocks on until the test closes the write end.
struct Gate {
    int fds[2] = {-1, -1};
    Gate() { REQUIRE(::pipe2(fds, O_CLOEXEC) == 0); }
    ~Gate() {
        release();
        ::close(fds[0]);
    }
    void wait_for_release_in_child() {
        ::close(fds[1]);
        char byte;
        while (::read(fds[0], &byte, 1) > 0) {
        }
    }
    [[noreturn]] void wait_in_child() {
        wait_for_release_in_child();
        ::_exit(0);
    }
    void release() {
        if (fds[1] >= 0) ::close(fds[1]);
        fds[1] = -1;
    }
};

bool exit_fd_readable(const ChildProcesses& children, int timeout_ms) {
    pollfd p{children.exit_fd(), POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
}

bool reaped_all(ChildProcesses& children) {
    return test::eventually([&] {
        children.collect();
        return children.count() == 0;
    });
}

int lowest_free_fd() {
    const int fd = ::dup(0);
    ::close(fd);
    return fd;
}

void on_sigchld(int) {}

// SIGCHLD's disposition for one test, put back even when a REQUIRE ends the test early.
class SigchldDisposition {
public:
    explicit SigchldDisposition(void (*handler)(int)) {
        struct sigaction action {};
        action.sa_handler = handler;
        sigemptyset(&action.sa_mask);
        REQUIRE(::sigaction(SIGCHLD, &action, &before_) == 0);
    }
    ~SigchldDisposition() { ::sigaction(SIGCHLD, &before_, nullptr); }

private:
    struct sigaction before_ {};
};

}  // namespace

TEST_CASE("a child's exit makes exit_fd readable - and collect reaps exactly it", "[fork][children]") {
    ChildProcesses children;
    Gate gate;
    const pid_t waiting = children.fork();
    if (waiting == 0) gate.wait_in_child();
    const pid_t quick = children.fork();
    if (quick == 0) ::_exit(0);
    REQUIRE(exit_fd_readable(children, 5000));
    REQUIRE(test::eventually([&] {
        children.collect();
        return children.count() == 1;
    }));
    CHECK_FALSE(exit_fd_readable(children, 0));  // the waiting child is still there, not reported
    CHECK(::kill(waiting, 0) == 0);
    gate.release();
    CHECK(reaped_all(children));
    CHECK(test::zombie_count() == 0);
}

TEST_CASE("the record of children grows past its first size", "[fork][children]") {
    ChildProcesses children(2);
    Gate gate;
    for (int i = 0; i < 40; ++i)
        if (children.fork() == 0) gate.wait_in_child();
    CHECK(children.count() == 40);
    gate.release();
    CHECK(reaped_all(children));
    CHECK(test::zombie_count() == 0);
}

TEST_CASE("no child is forked that could not be watched - out of fds, fork throws EMFILE first", "[fork][children]") {
    ChildProcesses children;
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    int connection[2];
    REQUIRE(::pipe2(connection, O_CLOEXEC) == 0);
    // Every fd below the limit is taken, then one more is freed: enough for the pidfd, not for the
    // duplicate of the connection too; and with none free, not for the pidfd.
    for (const int spare : {1, 0}) {
        rlimit tight = saved;
        tight.rlim_cur = static_cast<rlim_t>(lowest_free_fd() + spare);
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
        int error = 0;
        try {
            if (children.fork(spare ? connection[0] : -1) == 0) ::_exit(0);
        } catch (const std::system_error& e) {
            error = e.code().value();
        }
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
        CHECK(error == EMFILE);
        CHECK(children.count() == 0);
        CHECK(test::zombie_count() == 0);
    }
    ::close(connection[0]);
    ::close(connection[1]);
    // With fds back, the same call forks and watches.
    if (children.fork() == 0) ::_exit(0);
    CHECK(children.unwatched() == 0);
    CHECK(reaped_all(children));
}

TEST_CASE("a child calling collect leaves its siblings to the parent", "[fork][children]") {
    ChildProcesses children;
    const pid_t first = children.fork();
    if (first == 0) ::_exit(0);
    REQUIRE(exit_fd_readable(children, 5000));  // the first has exited, not yet reaped
    int report[2];
    REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
    Gate recorded;
    const pid_t second = children.fork();
    if (second == 0) {
        // The record is shared memory: the child counts only once the parent has entered it.
        recorded.wait_for_release_in_child();
        // In the child, the epoll set and the record are the parent's too: reaping here would
        // take the first child's exit from the parent.
        children.collect();
        children.wait_all();
        const char seen = static_cast<char>('0' + children.count());
        [[maybe_unused]] ssize_t n = ::write(report[1], &seen, 1);
        ::_exit(0);
    }
    ::close(report[1]);
    recorded.release();
    char seen = 0;
    CHECK(::read(report[0], &seen, 1) == 1);
    ::close(report[0]);
    CHECK(seen == '2');
    CHECK(reaped_all(children));
    CHECK(test::zombie_count() == 0);
}

TEST_CASE("a forking server leaves the program's SIGCHLD handler alone", "[fork][children]") {
    const SigchldDisposition mine(on_sigchld);
    {
        struct Quiet : BaseRequestHandler {
            using BaseRequestHandler::BaseRequestHandler;
            void handle() override {}
        };
        ForkingTCPServer<Quiet> server{Address{"127.0.0.1", 0}};
        test::Running running(server);
        for (int i = 0; i < 5; ++i) {
            Socket client = test::connect_stream(server.server_address());
            test::hang_up(client);
        }
        REQUIRE(test::eventually([&] { return server.active_children() == 0; }));
        struct sigaction now {};
        REQUIRE(::sigaction(SIGCHLD, nullptr, &now) == 0);
        CHECK(now.sa_handler == on_sigchld);
    }
}

TEST_CASE("children reaped by the kernel (SIGCHLD ignored) are forgotten too", "[fork][children]") {
    const SigchldDisposition ignored(SIG_IGN);
    ChildProcesses children;
    for (int i = 0; i < 20; ++i)
        if (children.fork() == 0) ::_exit(0);
    CHECK(reaped_all(children));
}
