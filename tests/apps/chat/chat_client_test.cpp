// chat_client as a person uses it: in a real terminal (tmux), typing while messages arrive.

#include "chat_member.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using sockserv::Address;
using sockserv::Socket;
using test::run;
using test::shell_quote;

namespace {

// A terminal with a program in it: a private tmux server (its own socket, no user config).
class Terminal {
public:
    explicit Terminal(const std::string& command) {
        static std::atomic<int> counter{0};
        socket_ = "sockserv-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        // The shell line after the program keeps the pane open and shows how the program ended.
        const std::string line = command + "; echo \"[exited $?]\"; sleep 600";
        run(tmux() + " -f /dev/null new-session -d -s chat -x 100 -y 20 " + shell_quote(line));
    }
    ~Terminal() { std::system((tmux() + " kill-server 2>/dev/null").c_str()); }

    std::string screen() const { return run(tmux() + " capture-pane -p -t chat"); }
    /// Types text as is.
    void type(const std::string& text) const { run(tmux() + " send-keys -t chat -l " + shell_quote(text)); }
    /// Presses keys by tmux name: Enter, BSpace, C-d.
    void press(const std::string& keys) const { run(tmux() + " send-keys -t chat " + keys); }
    /// Waits until the screen shows text; returns the screen.
    std::string wait_for(const std::string& text, std::chrono::milliseconds timeout = 10s) const {
        std::string shown;
        // The screen has no event to wait on: poll it, until it shows what a person would wait for.
        const bool found = test::eventually([&] {
            shown = screen();
            return shown.find(text) != std::string::npos;
        }, timeout);
        INFO("screen:\n" << shown);
        REQUIRE(found);
        return shown;
    }

private:
    std::string tmux() const { return "tmux -u -L " + socket_; }
    std::string socket_;
};

std::vector<std::string> lines_of(const std::string& screen) {
    std::vector<std::string> lines;
    std::istringstream in(screen);
    for (std::string line; std::getline(in, line);) {
        while (!line.empty() && line.back() == ' ') line.pop_back();
        if (!line.empty()) lines.push_back(line);
    }
    return lines;
}

std::string client_command(const Address& server, const std::string& extra) {
    return shell_quote(test::binary("chat_client")) + " --port " + std::to_string(server.port()) + " " + extra;
}

// A chat_server with bob (a plain socket) already in the room.
struct RoomWithBob {
    explicit RoomWithBob(std::vector<std::string> options)
        : server(argv(std::move(options))), address(server.wait_until_serving()), bob(address) {
        bob.join("bob");
    }
    static std::vector<std::string> argv(std::vector<std::string> options) {
        std::vector<std::string> args{test::binary("chat_server"), "--port", "0"};
        args.insert(args.end(), options.begin(), options.end());
        return args;
    }
    test::Process server;
    Address address;
    chat_test::Member bob;
};

}  // namespace

TEST_CASE("chat_client in a terminal: a taken name is asked again - incoming messages never cut the typed line - q leaves",
          "[app][chat][client][thread]") {
    RoomWithBob room({"--mode", "thread", "--idle-timeout", "0.5"});
    const Address& address = room.address;
    chat_test::Member& bob = room.bob;
    // Bob keeps himself in the room the whole time, as a real client would: the terminal steps
    // can take longer than the 0.5 s idle time-out on a loaded machine (sanitizers, parallel tests).
    std::atomic<bool> bob_done{false};
    std::thread bob_heartbeat([&] {
        while (!bob_done) {
            bob.send("H bob");
            std::this_thread::sleep_for(100ms);  // bob's heartbeat pace, not a readiness wait
        }
    });
    struct StopHeartbeat {
        std::atomic<bool>& done;
        std::thread& thread;
        ~StopHeartbeat() {
            done = true;
            thread.join();
        }
    } stop_heartbeat{bob_done, bob_heartbeat};
    Terminal terminal(client_command(address, "--name bob --heartbeat 0.1"));
    terminal.wait_for("name refused: name is taken");
    terminal.wait_for("name:");
    terminal.type("alice");
    terminal.press("Enter");
    terminal.wait_for("joined as alice");
    CHECK(bob.next() == "alice joined\n");

    // Half a line typed, then a message arrives: it is printed above, the typed line stays whole.
    terminal.type("hello wor");
    terminal.wait_for("alice> hello wor");
    bob.say("interrupting you");
    const auto lines = lines_of(terminal.wait_for("bob: interrupting you"));
    REQUIRE(lines.size() >= 2);
    CHECK(lines[lines.size() - 2] == "bob: interrupting you");
    CHECK(lines.back() == "alice> hello wor");
    terminal.type("ld");
    terminal.press("Enter");
    CHECK(bob.next() == "alice: hello world\n");

    // Editing: backspace removes whole characters, UTF-8 included.
    terminal.type("helo");
    terminal.press("BSpace BSpace");
    terminal.type("llo 你好吗");
    terminal.press("BSpace");
    terminal.press("Enter");
    CHECK(bob.next() == "alice: hello 你好\n");

    // Idle for three idle-timeouts: the client's heartbeats keep alice in the room.
    std::this_thread::sleep_for(1500ms);  // the idle time being tested, not a readiness wait
    bob.say("still there?");
    terminal.wait_for("bob: still there?");

    terminal.type("q");
    terminal.press("Enter");
    CHECK(bob.next() == "alice left\n");
    terminal.wait_for("[exited 0]");
}

TEST_CASE("chat_client leaves with Ctrl-D - and reports an unknown command reply", "[app][chat][client][thread]") {
    RoomWithBob room({"--mode", "thread", "--max-message", "10"});
    const Address& address = room.address;
    chat_test::Member& bob = room.bob;
    Terminal terminal(client_command(address, "--name carol"));
    terminal.wait_for("joined as carol");
    CHECK(bob.next() == "carol joined\n");
    terminal.type("this is far too long");
    terminal.press("Enter");
    terminal.wait_for("! message too long (max 10 bytes)");
    terminal.press("C-d");
    CHECK(bob.next() == "carol left\n");
    terminal.wait_for("[exited 0]");
}

TEST_CASE("chat_client reads plain lines from a pipe", "[app][chat][client][thread]") {
    RoomWithBob room({"--mode", "fork"});
    const Address& address = room.address;
    chat_test::Member& bob = room.bob;
    test::Process client({test::binary("chat_client"), "--port", std::to_string(address.port()), "--name", "dave"}, true);
    CHECK(bob.next() == "dave joined\n");
    client.write_stdin("hello from a pipe\nq\n");
    CHECK(bob.next() == "dave: hello from a pipe\n");
    CHECK(bob.next() == "dave left\n");
    CHECK(WEXITSTATUS(client.wait()) == 0);
}

TEST_CASE("chat_client says so when nobody answers", "[app][chat][client][thread]") {
    // A port with nothing behind it: bind one, note it, close it.
    std::uint16_t port = 0;
    {
        Socket probe(AF_INET, SOCK_DGRAM);
        probe.bind(Address("127.0.0.1", 0));
        port = probe.local_address().port();
    }
    test::Process client({test::binary("chat_client"), "--port", std::to_string(port), "--name", "eve"}, true);
    CHECK(WEXITSTATUS(client.wait(30s)) == 1);
    CHECK_THAT(client.stderr_text(), Catch::Contains("chat_client: no answer from 127.0.0.1:" + std::to_string(port)));
}
