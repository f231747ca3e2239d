// What a server does and logs when a request's process or thread fails, or the process runs short
// of fds, seen from outside: probe_server's stderr (sockserv/base/log.hpp's lines), its children in /proc.

#include "../../support/test_support.hpp"

#include <sockserv/io/socket.hpp>

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

test::Process probe(const std::string& mode) {
    std::vector<std::string> args{test::binary("probe_server"), "--port", "0"};
    const auto mode_args = test::mode_arguments(mode);
    args.insert(args.end(), mode_args.begin(), mode_args.end());
    return test::Process(args);
}

std::string recv_line(sockserv::Socket& client) {
    std::string line;
    char c;
    while (client.recv(&c, 1) == 1 && c != '\n') line += c;
    return line;
}

// Closes with a reset (SO_LINGER 0): the server's next send fails with EPIPE or ECONNRESET.
void reset(sockserv::Socket& client) {
    const linger abort_on_close{1, 0};
    ::setsockopt(client.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    client.close();
}

std::ptrdiff_t count_matches(const std::string& text, const std::string& pattern) {
    const std::regex expression(pattern);
    return std::distance(std::sregex_iterator(text.begin(), text.end(), expression), std::sregex_iterator());
}

// The live children of a process (every thread's), from /proc.
std::size_t children_of(pid_t pid) {
    std::size_t count = 0;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream list(task.path() / "children");
        for (pid_t child; list >> child;) ++count;
    }
    return count;
}

// The soft RLIMIT_NOFILE lowered while a program is started (it inherits it), then put back.
class FdLimit {
public:
    explicit FdLimit(rlim_t limit) {
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
        rlimit tight = saved_;
        tight.rlim_cur = limit;
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
    }
    ~FdLimit() { restore(); }
    void restore() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

private:
    rlimit saved_{};
};

std::string escaped(const std::string& text) { return std::regex_replace(text, std::regex(R"([.\[\]])"), R"(\$&)"); }

// The client's address as the server logs it, for a pattern.
std::string client_of(sockserv::Socket& client) { return escaped(client.local_address().to_string()); }

// Sends one probe command and waits for the server to end the connection.
void send_and_wait_for_close(sockserv::Socket& client, const std::string& command) {
    client.send_all(command + "\n");
    (void)test::recv_all(client);
}

// A fork-mode server whose child for one client ends by `command`: the parent's line about it names
// the child's pid and client and ends with `how`; the server goes on serving.
void child_ends_with(test::Process& server, const sockserv::Address& address, const std::string& command,
                     const std::string& how) {
    auto client = test::connect_stream(address);
    client.send_all("pid\n");
    const std::string pid = recv_line(client);
    const std::string who = client_of(client);
    send_and_wait_for_close(client, command);
    server.wait_for_line("child " + pid + " serving " + who + how);
    auto next = test::connect_stream(address);
    next.send_all("echo still here\n");
    CHECK(recv_line(next) == "echo still here");
}

}  // namespace

TEST_CASE("fork mode: a child killed by a signal is logged by the parent - pid, signal, client", "[fork]") {
    test::Process server = probe("fork");
    // Not SIGSEGV: under ASan its handler would take it and exit.
    child_ends_with(server, server.wait_until_serving(), "signal " + std::to_string(SIGKILL), R"( was killed by signal 9 \(SIGKILL\))");

}

TEST_CASE("fork mode: a child exiting non-zero is logged - a client that hangs up is not", "[fork]") {
    test::Process server = probe("fork");
    const auto address = server.wait_until_serving();
    child_ends_with(server, address, "exit 3", " exited with status 3");

    // A handler exception: the child's line says what, the parent's says which child.
    auto failing = test::connect_stream(address);
    failing.send_all("pid\n");
    const std::string failing_pid = recv_line(failing);
    send_and_wait_for_close(failing, "throw the disk caught fire");
    server.wait_for_line("Exception occurred during processing of request from " + client_of(failing) +
                         ": .*the disk caught fire");
    server.wait_for_line("child " + failing_pid + " serving .* exited with status 1");

    // Clients that leave, or reset while their answer is on its way, are routine: no line.
    for (int i = 0; i < 3; ++i) {
        auto leaving = test::connect_stream(address);
        leaving.send_all("pid\n");
        (void)recv_line(leaving);
        test::hang_up(leaving);
        auto resetting = test::connect_stream(address);
        resetting.send_all("block 50\nblock 50\n");
        reset(resetting);
    }
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (children_of(server.pid()) > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    REQUIRE(children_of(server.pid()) == 0);  // all reaped, so all logged if they were to be
    auto last = test::connect_stream(address);
    send_and_wait_for_close(last, "exit 4");
    server.wait_for_line("exited with status 4");
    CHECK(server.stderr_text().find("exited with status 0") == std::string::npos);
    CHECK(count_matches(server.stderr_text(), "child [0-9]+ ") == 3);
}

TEST_CASE("thread mode: a handler's failure is logged with the client it was serving", "[thread]") {
    for (const std::string mode : {"thread", "event-1"}) {
        test::Process server = probe(mode);
        const auto address = server.wait_until_serving();
        auto client = test::connect_stream(address);
        const std::string who = client_of(client);
        send_and_wait_for_close(client, "throw out of cheese");
        server.wait_for_line("Exception occurred during processing of request from " + who + ": .*out of cheese");
        auto next = test::connect_stream(address);
        next.send_all("echo on\n");
        CHECK(recv_line(next) == "echo on");
    }
}

TEST_CASE("fork mode at a small fd limit: no unwatched child, every client served, said once, stop < 1 s, no orphans",
          "[fork]") {
    FdLimit limit(40);  // room for about 14 children: each costs the parent a pidfd and a duplicate
    test::Process server = probe("fork");
    limit.restore();
    const auto address = server.wait_until_serving();

    constexpr int clients = 80;
    std::vector<sockserv::Socket> room;
    for (int i = 0; i < clients; ++i) {
        room.push_back(test::connect_stream(address));
        room.back().send_all("pid\nblock 200\n");
    }
    std::set<std::string> pids;
    for (auto& client : room) {
        pids.insert(recv_line(client));
        CHECK(recv_line(client) == "blocked");  // served, not dropped, though it had to wait
        client.close();                         // its child ends, and its fds are free again
    }
    CHECK(pids.size() == clients);
    const std::string log = server.stderr_text();
    const auto pauses = count_matches(log, "fork mode: cannot start a child for .*: .*Too many open files; accepting paused");
    CHECK(pauses == 1);  // not once a retry, or once a client
    room.clear();

    // Stop while children are busy and clients wait for one: quick, and nothing left behind.
    for (int i = 0; i < 40; ++i) {
        room.push_back(test::connect_stream(address));
        room.back().send_all("pid\nblock 200\n");
    }
    pids.insert(recv_line(room.front()));  // children are at work
    const auto asked = std::chrono::steady_clock::now();
    server.signal(SIGTERM);
    const int status = server.wait(5s);
    CHECK(std::chrono::steady_clock::now() - asked < 1s);
    CHECK(WIFEXITED(status));
    for (auto& client : room) {
        try {
            const std::string pid = recv_line(client);  // "blocked" from the first, whose pid is in
            if (!pid.empty() && pid.find_first_not_of("0123456789") == std::string::npos) pids.insert(pid);
        } catch (const std::system_error&) {
            // Never given a child: closed at the stop with its request unread, so reset.
        }
    }
    const auto deadline = std::chrono::steady_clock::now() + 1s;
    const auto orphans = [&] {
        return std::count_if(pids.begin(), pids.end(), [](const std::string& pid) {
            return test::process_exists(static_cast<pid_t>(std::stol(pid)));
        });
    };
    while (orphans() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    CHECK(orphans() == 0);
}
