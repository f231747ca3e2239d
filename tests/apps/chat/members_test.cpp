// The room on its own: join, duplicates, leave, capacity, eviction — and one room across fork().

#include "members.hpp"

#include <sockserv/process/shared_memory.hpp>

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <mutex>

using namespace chat;
using namespace std::chrono_literals;
using sockserv::Address;

namespace {
Address client(std::uint16_t port) { return Address("127.0.0.1", port); }
const auto t0 = Members::Clock::now();
}  // namespace

TEST_CASE("room: join - duplicates - rejoin from the same address", "[chat][room]") {
    auto owned = std::make_unique<Members>(8);  // megabytes: not on the stack
    Members& room = *owned;
    CHECK(room.join("alice", client(1001), t0) == Members::Join::joined);
    CHECK(room.join("alice", client(1002), t0) == Members::Join::name_taken);
    CHECK(room.join("alice", client(1001), t0) == Members::Join::again);  // its OK got lost
    CHECK(room.join("alice2", client(1001), t0) == Members::Join::address_taken);
    CHECK(room.join("bob", client(1002), t0) == Members::Join::joined);
    CHECK(room.size() == 2);
    CHECK(room.name_at(client(1002)) == "bob");
    CHECK_FALSE(room.name_at(client(1003)));
    CHECK(room.addresses() == std::vector{client(1001), client(1002)});
}

TEST_CASE("room: only the member's own address can leave or speak for it", "[chat][room]") {
    auto owned = std::make_unique<Members>(8);  // megabytes: not on the stack
    Members& room = *owned;
    room.join("alice", client(1001), t0);
    CHECK_FALSE(room.leave("alice", client(6666)));
    CHECK_FALSE(room.touch("alice", client(6666), t0));
    CHECK(room.touch("alice", client(1001), t0));
    CHECK(room.leave("alice", client(1001)));
    CHECK_FALSE(room.has("alice"));
    CHECK(room.join("alice", client(6666), t0) == Members::Join::joined);  // the name is free again
}

TEST_CASE("room: a full room refuses - and has room again after a leave", "[chat][room]") {
    auto owned = std::make_unique<Members>(3);  // megabytes: not on the stack
    Members& room = *owned;
    for (std::uint16_t i = 0; i < 3; ++i) CHECK(room.join(std::string("m").append(std::to_string(i)), client(2000 + i), t0) == Members::Join::joined);
    CHECK(room.join("late", client(2100), t0) == Members::Join::full);
    CHECK(room.leave("m1", client(2001)));
    CHECK(room.join("late", client(2100), t0) == Members::Join::joined);
    // Joining order is kept across removals.
    CHECK(room.addresses() == std::vector{client(2000), client(2002), client(2100)});
    CHECK_THROWS(std::make_unique<Members>(0));
    CHECK_THROWS(std::make_unique<Members>(Members::max_capacity + 1));
}

TEST_CASE("room: evicts members silent for longer than the idle time - touch keeps one", "[chat][room]") {
    auto owned = std::make_unique<Members>(8);  // megabytes: not on the stack
    Members& room = *owned;
    room.join("quiet", client(1001), t0);
    room.join("chatty", client(1002), t0);
    room.join("late", client(1003), t0 + 50s);
    room.touch("chatty", client(1002), t0 + 40s);
    CHECK(room.evict_idle(t0 + 59s, 60s).empty());
    CHECK(room.evict_idle(t0 + 61s, 60s) == std::vector<std::string>{"quiet"});
    CHECK(room.evict_idle(t0 + 101s, 60s) == std::vector<std::string>{"chatty"});
    CHECK(room.addresses() == std::vector{client(1003)});
}

TEST_CASE("room in shared memory: joins made in forked children are seen by the parent and the next child", "[chat][room][fork]") {
    sockserv::Shared<Members> room(64);
    for (std::uint16_t i = 0; i < 20; ++i) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            std::lock_guard lock(room->order());
            // Each child also sees every earlier child's member.
            const bool saw_all = room->size() == i;
            const bool joined = room->join(std::string("m").append(std::to_string(i)), client(3000 + i), t0) == Members::Join::joined;
            ::_exit(saw_all && joined ? 0 : 1);
        }
        REQUIRE(pid > 0);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        CHECK(WEXITSTATUS(status) == 0);
    }
    CHECK(room->size() == 20);
    CHECK(room->name_at(client(3019)) == "m19");
}

TEST_CASE("room: by default an outbox holds one line - each line is its own datagram", "[chat][room]") {
    auto owned = std::make_unique<Members>(8);
    Members& room = *owned;
    room.join("alice", client(1001), t0);
    room.join("bob", client(1002), t0);
    CHECK(room.queue("alice: one\n", client(1001)).empty());
    // bob's outbox holds a line: it goes out now, alone, and the next one waits in its place.
    const auto now = room.queue("alice: two\n", client(1001));
    REQUIRE(now.size() == 1);
    CHECK(now[0].to == client(1002));
    CHECK(now[0].data == "alice: one\n");
    const auto outgoing = room.outgoing();
    REQUIRE(outgoing.size() == 1);
    CHECK(outgoing[0].data == "alice: two\n");
}

TEST_CASE("room: with coalesce, relayed lines wait in outboxes - several to a datagram - never over outbox_bytes", "[chat][room]") {
    auto owned = std::make_unique<Members>(8, true);
    Members& room = *owned;
    room.join("alice", client(1001), t0);
    room.join("bob", client(1002), t0);
    room.join("carol", client(1003), t0);
    CHECK(room.queue("alice: one\n", client(1001)).empty());
    CHECK(room.queue("bob: two\n", client(1002)).empty());
    CHECK(room.queue("admin: all\n", Address{}).empty());
    auto outgoing = room.outgoing();
    REQUIRE(outgoing.size() == 3);
    CHECK(*outgoing[0].to == client(1001));
    CHECK(outgoing[0].data == "bob: two\nadmin: all\n");
    CHECK(outgoing[1].data == "alice: one\nadmin: all\n");
    CHECK(outgoing[2].data == "alice: one\nbob: two\nadmin: all\n");
    room.clear_outboxes();
    CHECK(room.outgoing().empty());

    // A full outbox is handed back to send now, before the line that did not fit.
    const std::string line(600, 'x');
    CHECK(room.queue(line + "\n", client(1001)).empty());
    CHECK(room.queue(line + "\n", client(1001)).empty());
    const auto now = room.queue(line + "\n", client(1001));
    REQUIRE(now.size() == 2);
    CHECK(now[0].to == client(1002));
    CHECK(now[0].data == line + "\n" + line + "\n");
    for (const auto& datagram : room.outgoing()) CHECK(datagram.data.size() <= Members::outbox_bytes);
    // A line longer than any outbox goes out alone, after what waited.
    room.clear_outboxes();
    room.queue("short\n", client(1001));
    const auto big = room.queue(std::string(Members::outbox_bytes + 1, 'y'), client(1001));
    REQUIRE(big.size() == 4);
    CHECK(big[0].data == "short\n");
    CHECK(big[1].data.size() == Members::outbox_bytes + 1);
    CHECK(room.outgoing().empty());
}
