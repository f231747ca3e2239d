// chat_server as users run it: the real binary in every mode, members on real UDP sockets.

#include "chat_member.hpp"
#include "../../support/every_mode.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include <poll.h>
#include <sys/wait.h>

#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using sockserv::Address;
using sockserv::Socket;

namespace {

using chat_test::Member;

struct ChatServer {
    explicit ChatServer(const std::string& mode, std::vector<std::string> extra = {})
        : process(argv(mode, std::move(extra)), true), address(process.wait_until_serving()) {}
    static std::vector<std::string> argv(const std::string& mode, std::vector<std::string> extra) {
        std::vector<std::string> args{test::binary("chat_server"), "--port", "0"};
        const auto mode_args = test::mode_arguments(mode);
        args.insert(args.end(), mode_args.begin(), mode_args.end());
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    // Stops it as a user would and checks it was alive and well to the end.
    void stop() {
        process.signal(SIGTERM);
        const int status = process.wait();
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    test::Process process;
    Address address;
};

// Proves that nothing was relayed to `to` before: `from` says a marker, and the very next datagram
// `to` gets is that marker (one sender's messages reach a member in order).
void check_next_is_marker(const Member& from, Member& to, const std::string& marker) {
    from.say(marker);
    CHECK(to.next() == from.name() + ": " + marker + "\n");
}

void check_join_talk_leave(const std::string& mode) {
    ChatServer server(mode);
    Member alice(server.address), bob(server.address), carol(server.address), impostor(server.address);
    alice.join("alice");
    bob.join("bob");
    CHECK(alice.next() == "bob joined\n");
    carol.join("carol");
    CHECK(alice.next() == "carol joined\n");
    CHECK(bob.next() == "carol joined\n");

    // Fan-out to everyone but the sender.
    bob.say("hi all");
    CHECK(alice.next() == "bob: hi all\n");
    CHECK(carol.next() == "bob: hi all\n");
    check_next_is_marker(alice, bob, "bob got no echo of his own");
    CHECK(carol.next() == "alice: bob got no echo of his own\n");

    // A taken name is refused with the reason; the refused address is not a member.
    impostor.send("L alice");
    CHECK(impostor.next() == "ERR name is taken\n");
    // Speaking or quitting for someone else from another address is ignored.
    impostor.send("C alice I am alice");
    impostor.send("Q alice");
    impostor.send("H alice");
    check_next_is_marker(carol, alice, "alice is still in");
    CHECK(bob.next() == "carol: alice is still in\n");
    check_next_is_marker(alice, carol, "nobody spoke for me");
    CHECK(bob.next() == "alice: nobody spoke for me\n");

    // Leaving is announced to the others, and frees the name.
    bob.send("Q bob");
    CHECK(alice.next() == "bob left\n");
    CHECK(carol.next() == "bob left\n");
    impostor.join("bob");
    CHECK(alice.next() == "bob joined\n");
    server.stop();
}

void check_hostile_input(const std::string& mode) {
    ChatServer server(mode, {"--max-message", "100"});
    Member alice(server.address), bob(server.address), attacker(server.address);
    alice.join("alice");
    bob.join("bob");
    CHECK(alice.next() == "bob joined\n");

    const std::vector<std::pair<std::string, std::string>> hostile = {
        {"", "ERR empty datagram\n"},
        {"\x01\x02\xff\xfe garbage \x80\x81", "ERR not valid UTF-8\n"},
        {"C bob caf\xc3", "ERR not valid UTF-8\n"},
        {"Z bob hello", "ERR unknown command (expected L, C, Q or H)\n"},
        {"C", "ERR missing name\n"},
        {"C bob", "ERR missing text\n"},
        {"L", "ERR missing name\n"},
        {std::string(65000, 'A'), "ERR unknown command (expected L, C, Q or H)\n"},
        {"C bob " + std::string(65000, 'x'), "ERR message too long (max 100 bytes)\n"},
        {"C bob " + std::string(101, 'x'), "ERR message too long (max 100 bytes)\n"},
        {std::string("C bob nul\0inside", 16), "ERR message has control characters\n"},
        {std::string("L nul\0name", 10), "ERR name has control characters\n"},
        {"C bob line\nadmin: forged", "ERR message has control characters\n"},
        {"C bob \x1b]0;pwned\x07", "ERR message has control characters\n"},
        {"L " + std::string(5000, 'n'), "ERR name is too long (max 32 bytes)\n"},
        {"L admin", "ERR name is reserved\n"},
        {"L two words", "ERR name has spaces\n"},
    };
    // From a stranger, and from a member: each gets the reason back, nothing is relayed.
    for (Member* sender : {&attacker, &bob}) {
        for (const auto& [datagram, answer] : hostile) {
            sender->send(datagram);
            CHECK(sender->next() == answer);
        }
    }
    // A stranger that is not in the room is told so; it cannot talk.
    attacker.send("C mallory hello");
    CHECK(attacker.next() == "ERR not in the room (send L NAME to join)\n");
    // Exactly 100 bytes is still a message.
    bob.say(std::string(100, 'y'));
    CHECK(alice.next() == "bob: " + std::string(100, 'y') + "\n");
    check_next_is_marker(bob, alice, "after the garbage");
    check_next_is_marker(alice, bob, "still serving");
    server.stop();
}

void check_admin_broadcast(const std::string& mode) {
    ChatServer server(mode);
    Member alice(server.address), bob(server.address);
    alice.join("alice");
    bob.join("bob");
    CHECK(alice.next() == "bob joined\n");
    server.process.write_stdin("the server restarts at noon\n");
    CHECK(alice.next() == "admin: the server restarts at noon\n");
    CHECK(bob.next() == "admin: the server restarts at noon\n");
    // A line arriving in pieces is sent once whole; an over-long line is refused on stderr.
    server.process.write_stdin("in two ");
    server.process.write_stdin(std::string(2000, 'z') + "\n");
    server.process.wait_for_line("announcement not sent: message too long");
    server.process.write_stdin("in ");
    server.process.write_stdin("pieces\n");
    CHECK(alice.next() == "admin: in pieces\n");
    server.process.close_stdin();  // EOF on the console: the room goes on
    check_next_is_marker(bob, alice, "after the console closed");
    server.stop();
}

void check_idle_members_dropped(const std::string& mode) {
    ChatServer server(mode, {"--idle-timeout", "0.5"});
    Member quiet(server.address), alive(server.address), watcher(server.address);
    quiet.join("quiet");
    alive.join("alive");
    CHECK(quiet.next() == "alive joined\n");
    watcher.join("watcher");
    // alive and watcher send heartbeats; quiet vanishes without Q.
    const auto start = std::chrono::steady_clock::now();
    std::string seen;
    pollfd entry{watcher.socket().fd(), POLLIN, 0};
    while (seen.empty() && std::chrono::steady_clock::now() - start < 5s) {
        alive.send("H alive");
        watcher.send("H watcher");
        if (watcher.has_buffered_lines() || ::poll(&entry, 1, 100) > 0) seen = watcher.next();
    }
    CHECK(seen == "quiet left\n");
    CHECK(std::chrono::steady_clock::now() - start >= 400ms);
    check_next_is_marker(alive, watcher, "heartbeats kept me in");
    Member again(server.address);
    again.join("quiet");  // the name is free again
    CHECK(watcher.next() == "quiet joined\n");
    server.stop();
}

// 50 members each say 20 messages, 2 per sender per burst: every other member must get every
// message exactly once, and each sender's in the order sent.
void check_many_members(const std::string& mode) {
    constexpr int members = 50, messages = 20, per_burst = 2;
    ChatServer server(mode);
    std::vector<std::unique_ptr<Member>> room;
    for (int i = 0; i < members; ++i) {
        room.push_back(std::make_unique<Member>(server.address));
        room.back()->join(std::string("m").append(std::to_string(i)));
    }
    for (int i = 0; i < members; ++i)  // member i saw the joins of everyone after it
        for (int j = i + 1; j < members; ++j) REQUIRE(room[i]->next() == std::string("m").append(std::to_string(j)) + " joined\n");

    // next_expected[receiver][sender]: the next message number the receiver must get from sender.
    std::vector<std::vector<int>> next_expected(members, std::vector<int>(members, 0));
    std::vector<pollfd> fds;
    for (const auto& member : room) fds.push_back({member->socket().fd(), POLLIN, 0});
    int problems = 0;
    for (int burst = 0; burst < messages / per_burst; ++burst) {
        for (int k = 0; k < per_burst; ++k)
            for (int i = 0; i < members; ++i) room[i]->say(std::to_string(burst * per_burst + k));
        const long expected = static_cast<long>(members) * (members - 1) * per_burst;
        long received = 0;
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (received < expected && std::chrono::steady_clock::now() < deadline) {
            if (::poll(fds.data(), fds.size(), 1000) <= 0) continue;
            for (int r = 0; r < members; ++r) {
                if (!(fds[r].revents & POLLIN)) continue;
                for (const std::string& line : room[r]->receive()) {
                    ++received;
                    // "mS: N\n"
                    const auto colon = line.find(": ");
                    const int sender = std::stoi(line.substr(1, colon - 1));
                    const int number = std::stoi(line.substr(colon + 2));
                    if (sender == r || number != next_expected[r][sender]) ++problems;
                    next_expected[r][sender] = number + 1;
                }
            }
        }
        REQUIRE(received == expected);
    }
    CHECK(problems == 0);
    for (int r = 0; r < members; ++r)
        for (int s = 0; s < members; ++s)
            if (s != r) CHECK(next_expected[r][s] == messages);
    server.stop();
}

// 3 members chat while a flood of 100,000 junk datagrams hits the server: each member must get most
// of the others' lines sent during the flood, and every line sent after it. With --coalesce a line
// costs the server a fraction of a send and the mark is 90%; one datagram per line (the default)
// costs it two sends a line, and the loss is the server's receive queue overflowing with junk while
// it sends, which depends on the machine's UDP path: event-2 got 83% to 100% on one machine and
// 53% to 74% on another (the same code). So the default is held only to a third, which a starved
// room misses by far; how many lines a second each setting sustains is scripts/bench/chat.sh's job.
struct FloodResult {
    long sent_during = 0, received_during = 0, sent_after = 0, received_after = 0;
};
FloodResult chat_through_flood(const std::string& mode, bool coalesce) {
    ChatServer server(mode, coalesce ? std::vector<std::string>{"--coalesce"} : std::vector<std::string>{});
    std::vector<std::unique_ptr<Member>> room;
    for (const char* name : {"ann", "bob", "cy"}) {
        room.push_back(std::make_unique<Member>(server.address));
        room.back()->join(name);
    }
    for (int i = 0; i < 3; ++i)
        for (int j = i + 1; j < 3; ++j) REQUIRE(room[i]->next().ends_with(" joined\n"));

    std::atomic<bool> flooding{true};
    std::thread flood([&] {
        Socket junk(AF_INET, SOCK_DGRAM);
        std::mt19937 random(7);
        std::string datagram;
        // Bursts of 64 every half millisecond: ~100,000 datagrams a second, 30 times what the
        // members send, far past what a thread or a process per datagram keeps up with — yet not
        // a race between this thread and the server for the CPU (the suite runs tests in parallel).
        for (int i = 0; i < 100000; ++i) {
            datagram.assign(8 + random() % 64, '\0');
            for (char& c : datagram) c = static_cast<char>(random());
            junk.sendto(datagram, server.address);
            if (i % 64 == 63) std::this_thread::sleep_for(500us);
        }
        flooding = false;
    });
    // Lines are counted by what each says: "N" from sender s, "during" while the flood runs.
    std::vector<pollfd> fds;
    for (const auto& member : room) fds.push_back({member->socket().fd(), POLLIN, 0});
    FloodResult result;
    std::set<std::string> during_lines;  // "sender:N" sent during the flood
    int number = 0;
    const auto receive_ready = [&](int wait_ms) {
        if (::poll(fds.data(), fds.size(), wait_ms) <= 0) return;
        // Every datagram that is there (one line each, by default): reading fewer than arrive
        // would lose lines in the members' own receive buffers, not in the server.
        for (int r = 0; r < 3; ++r) {
            if (!(fds[r].revents & POLLIN)) continue;
            pollfd more{fds[r].fd, POLLIN, 0};
            do {
                for (const std::string& line : room[r]->receive()) {
                    const auto colon = line.find(": ");
                    if (colon == std::string::npos) continue;
                    const std::string key = line.substr(0, colon) + ":" + line.substr(colon + 2, line.size() - colon - 3);
                    if (during_lines.count(key)) ++result.received_during;
                    else ++result.received_after;
                }
            } while (::poll(&more, 1, 0) == 1);
        }
    };
    while (flooding && number < 2000) {
        for (int s = 0; s < 3; ++s) {
            room[s]->say(std::to_string(number));
            during_lines.insert(room[s]->name() + ":" + std::to_string(number));
            result.sent_during += 2;  // each line goes to the two others
        }
        ++number;
        receive_ready(2);
    }
    flood.join();
    for (int i = 0; i < 100; ++i) receive_ready(5);  // what is still on its way
    for (int k = 0; k < 20; ++k, ++number) {
        for (int s = 0; s < 3; ++s) room[s]->say(std::to_string(number));
        result.sent_after += 6;
        receive_ready(1);
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (result.received_after < result.sent_after && std::chrono::steady_clock::now() < deadline) receive_ready(100);
    server.stop();
    return result;
}

void check_flood(const std::string& mode, bool coalesce) {
    const FloodResult result = chat_through_flood(mode, coalesce);
    INFO("during the flood " << result.received_during << " of " << result.sent_during << " lines, after it "
                             << result.received_after << " of " << result.sent_after);
    REQUIRE(result.sent_during > 0);
    CHECK(result.received_after == result.sent_after);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // What gets through during the flood is a race between the flooder and the server's speed; a
    // sanitizer slows the server's every step (even sync mode got 19% under ASan), so the share
    // is only held to its mark in the plain build.
    WARN("sanitizer build: the mark during the flood is checked in the plain build only");
#else
    CHECK(result.received_during >= result.sent_during * (coalesce ? 90 : 33) / 100);
#endif
}

// The chat protocol: one message, one datagram. A burst of 100 lines from alice, sent before
// the server can read them (the burst in which --coalesce would pack lines), reaches bob as 100
// datagrams of one line each, in order. With --coalesce the same lines arrive, in order, in
// datagrams that may carry several.
void burst_to_bob(const std::string& mode, bool coalesce) {
    ChatServer server(mode, coalesce ? std::vector<std::string>{"--coalesce"} : std::vector<std::string>{});
    Member alice(server.address), bob(server.address);
    alice.join("alice");
    bob.join("bob");
    REQUIRE(alice.next() == "bob joined\n");
    constexpr int lines = 100;  // within the sockets' default buffers: none is dropped
    for (int i = 0; i < lines; ++i) alice.say("line " + std::to_string(i));
    int received = 0;
    while (received < lines) {
        const auto datagram = bob.receive();
        if (!coalesce) REQUIRE(datagram.size() == 1);
        for (const std::string& line : datagram) CHECK(line == "alice: line " + std::to_string(received++) + "\n");
    }
    server.stop();
}

void check_one_line_per_datagram(const std::string& mode) { burst_to_bob(mode, false); }
void check_coalesced_lines_in_order(const std::string& mode) { burst_to_bob(mode, true); }

}  // namespace

TEST_CASE("chat_server in event mode: members keep talking through a flood of 100,000 junk datagrams - event-2",
          "[app][chat][event-2]") {
    check_flood("event-2", false);
}

TEST_CASE("chat_server --coalesce in event mode: members keep talking through a flood of 100,000 junk datagrams - event-2",
          "[app][chat][event-2]") {
    check_flood("event-2", true);
}

#define CHAT_MODES(title, check) \
    TEST_EVERY_APP_MODE("chat_server " title, "[app][chat]") { check(mode); }

// --workers 2: members hashed onto two workers' sockets share one room; stdin is worker 0's.
#define CHAT_POOL_MODES(title, check) \
    TEST_EVERY_POOL_MODE("chat_server " title, "[app][chat]") { check(mode); }

CHAT_POOL_MODES("announces joins and leaves - relays to all but the sender - refuses duplicates and spoofs", check_join_talk_leave)
CHAT_POOL_MODES("broadcasts lines typed on its stdin as admin", check_admin_broadcast)
CHAT_POOL_MODES("delivers 50 members x 20 messages exactly once and in order per sender", check_many_members)

CHAT_MODES("announces joins and leaves - relays to all but the sender - refuses duplicates and spoofs", check_join_talk_leave)
CHAT_MODES("answers every malformed datagram with ERR and relays none of it", check_hostile_input)
CHAT_MODES("broadcasts lines typed on its stdin as admin", check_admin_broadcast)
CHAT_MODES("drops members silent past --idle-timeout", check_idle_members_dropped)
CHAT_MODES("delivers 50 members x 20 messages exactly once and in order per sender", check_many_members)
CHAT_MODES("sends each line as a datagram of its own - a burst of 100 too", check_one_line_per_datagram)
CHAT_MODES("--coalesce packs lines - all of them - in order", check_coalesced_lines_in_order)

TEST_CASE("chat_server refuses a join when the room is full - in fork mode the room is shared", "[app][chat][fork]") {
    ChatServer server("fork", {"--capacity", "2"});
    Member a(server.address), b(server.address), c(server.address);
    a.join("a");
    b.join("b");
    c.send("L c");
    CHECK(c.next() == "ERR room is full (2 members)\n");
    b.send("Q b");
    CHECK(a.next() == "b joined\n");
    CHECK(a.next() == "b left\n");
    c.join("c");
    server.stop();
}

TEST_CASE("chat_server bad options are one line and exit status 2", "[app][chat][cli]") {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"--capacity", "0"}, {"--capacity", "5000"}, {"--max-message", "0"}, {"--idle-timeout", "-1"},
             {"--idle-timeout", "soon"}, {"--mode", "bogus"}, {"--unix", "/tmp/chat.sock"}}) {
        std::vector<std::string> argv{test::binary("chat_server")};
        argv.insert(argv.end(), args.begin(), args.end());
        test::Process process(argv);
        CHECK(WEXITSTATUS(process.wait()) == 2);
        CHECK_THAT(process.stderr_text(), Catch::StartsWith("chat_server: error: "));
    }
    // Seconds are checked by the framework's Options::seconds, with the bounds in the message.
    test::Process process({test::binary("chat_server"), "--idle-timeout", "0"});
    CHECK(WEXITSTATUS(process.wait()) == 2);
    CHECK(process.stderr_text() == "chat_server: error: --idle-timeout must be between 0.001 and 31536000 seconds (try --help)\n");
}
