// The room on its own: join, duplicates, leave, capacity, eviction — and one room across fork().

#include "room.hpp"

#include <sockserv/shared_memory.hpp>

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <mutex>

using namespace chat;
using namespace std::chrono_literals;
using sockserv::Address;

namespace {
Address client(std::uint16_t port) { return Address("127.0.0.1", port); }
const auto t0 = Room::Clock::now();
}  // namespace

TEST_CASE("room: join - duplicates - rejoin from the same address", "[chat][room]") {
    Room room(8);
    CHECK(room.join("alice", client(1001), t0) == Room::Join::joined);
    CHECK(room.join("alice", client(1002), t0) == Room::Join::name_taken);
    CHECK(room.join("alice", client(1001), t0) == Room::Join::again);  // its OK got lost
    CHECK(room.join("alice2", client(1001), t0) == Room::Join::address_taken);
    CHECK(room.join("bob", client(1002), t0) == Room::Join::joined);
    CHECK(room.size() == 2);
    CHECK(room.name_at(client(1002)) == "bob");
    CHECK_FALSE(room.name_at(client(1003)));
    CHECK(room.others(client(1001)) == std::vector{client(1002)});
    CHECK(room.everyone() == std::vector{client(1001), client(1002)});
}

TEST_CASE("room: only the member's own address can leave or speak for it", "[chat][room]") {
    Room room(8);
    room.join("alice", client(1001), t0);
    CHECK_FALSE(room.leave("alice", client(6666)));
    CHECK_FALSE(room.touch("alice", client(6666), t0));
    CHECK(room.touch("alice", client(1001), t0));
    CHECK(room.leave("alice", client(1001)));
    CHECK_FALSE(room.has("alice"));
    CHECK(room.join("alice", client(6666), t0) == Room::Join::joined);  // the name is free again
}

TEST_CASE("room: a full room refuses - and has room again after a leave", "[chat][room]") {
    Room room(3);
    for (std::uint16_t i = 0; i < 3; ++i) CHECK(room.join(std::string("m").append(std::to_string(i)), client(2000 + i), t0) == Room::Join::joined);
    CHECK(room.join("late", client(2100), t0) == Room::Join::full);
    CHECK(room.leave("m1", client(2001)));
    CHECK(room.join("late", client(2100), t0) == Room::Join::joined);
    // Joining order is kept across removals.
    CHECK(room.everyone() == std::vector{client(2000), client(2002), client(2100)});
    CHECK_THROWS(Room(0));
    CHECK_THROWS(Room(Room::max_capacity + 1));
}

TEST_CASE("room: evicts members silent for longer than the idle time - touch keeps one", "[chat][room]") {
    Room room(8);
    room.join("quiet", client(1001), t0);
    room.join("chatty", client(1002), t0);
    room.join("late", client(1003), t0 + 50s);
    room.touch("chatty", client(1002), t0 + 40s);
    CHECK(room.evict_idle(t0 + 59s, 60s).empty());
    CHECK(room.evict_idle(t0 + 61s, 60s) == std::vector<std::string>{"quiet"});
    CHECK(room.evict_idle(t0 + 101s, 60s) == std::vector<std::string>{"chatty"});
    CHECK(room.everyone() == std::vector{client(1003)});
}

TEST_CASE("room in shared memory: joins made in forked children are seen by the parent and the next child", "[chat][room][fork]") {
    sockserv::Shared<Room> room(64);
    for (std::uint16_t i = 0; i < 20; ++i) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            std::lock_guard lock(room->order());
            // Each child also sees every earlier child's member.
            const bool saw_all = room->size() == i;
            const bool joined = room->join(std::string("m").append(std::to_string(i)), client(3000 + i), t0) == Room::Join::joined;
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
