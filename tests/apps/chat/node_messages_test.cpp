// What chat nodes tell each other through Redis (node_messages.hpp), and where the room is
// (RedisRoomAddress): encoded, decoded, and hostile payloads refused whole.

#include "node_messages.hpp"
#include "redis_room.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace chat;
using namespace chat::nodes;

TEST_CASE("node messages: every record comes back as it went", "[chat][nodes]") {
    const std::vector<Record> records{
        Joined{"alice"}, Said{"alice", "hello, ünïcode and spaces"}, Announced{"restart at noon"},
        Roster{{{"alice", true}, {"bob", false}}}, Roster{}, Left{"alice"},
    };
    std::string text;
    for (const Record& record : records) text += encode(record);
    const auto decoded = decode(payload(0x00ab'cdef'0123'4567, text));
    REQUIRE(std::holds_alternative<Message>(decoded));
    const Message& message = std::get<Message>(decoded);
    CHECK(message.node == 0x00ab'cdef'0123'4567);
    REQUIRE(message.records.size() == records.size());
    CHECK(std::get<Said>(message.records[1]).text == "hello, ünïcode and spaces");
    CHECK(std::get<Roster>(message.records[3]).members == std::vector<Roster::Entry>{{"alice", true}, {"bob", false}});
    CHECK(std::get<Roster>(message.records[4]).members.empty());
    CHECK(std::get<Left>(message.records[5]).name == "alice");
    CHECK(node_text(1) == "0000000000000001");
}

TEST_CASE("node messages: malformed, truncated, oversized and hostile payloads are refused whole", "[chat][nodes]") {
    const std::string id = node_text(42) + "\n";
    for (const std::string& bad : {
             std::string(),                                     // nothing
             std::string("junk"),                               // no id
             std::string("00000000000000zz\n"),                 // not hex
             std::string("+000000000000001\nJ a\n"),            // a sign is not a digit
             std::string("0000000000000000001\nJ a\n"),         // too long an id
             id + "J\n",                                        // no name
             id + "J two words\n",                              // a name with a space
             id + "J " + std::string(33, 'n') + "\n",           // a name too long
             id + "J admin\n",                                  // a reserved name
             id + "C alice\n",                                  // no text
             id + "C alice hi\x1b[2J\n",                        // control characters in text
             id + "C alice " + std::string(60001, 'x') + "\n",  // text too long
             id + "A \xff\xfe\n",                               // not UTF-8
             id + "R alice\n",                                  // a roster entry without + or ?
             id + "R +\n",                                      // an empty roster name
             id + "X alice\n",                                  // an unknown record
             id + "J alice\nC alice hi\nQ\n",                   // a good start, then junk: nothing used
         }) {
        INFO(bad.substr(0, 60));
        CHECK(std::holds_alternative<std::string>(decode(bad)));
    }
    // A trailing newline is the end of the last record, not an empty one.
    CHECK(std::holds_alternative<Message>(decode(id + "J alice\n")));
    CHECK(std::holds_alternative<Message>(decode(id + "J alice")));
}

TEST_CASE("room URLs: redis://HOST, optionally :PORT, then /NAME", "[chat][nodes]") {
    const auto where = RedisRoomAddress::parse("redis://10.0.0.5:7000/lobby");
    CHECK(where.host == "10.0.0.5");
    CHECK(where.port == 7000);
    CHECK(where.name == "lobby");
    CHECK(where.channel() == "sockserv:chat:lobby");
    CHECK(RedisRoomAddress::parse("redis://redis.internal/x").port == 6379);
    const auto v6 = RedisRoomAddress::parse("redis://[::1]:6380/a-b_c.d");
    CHECK(v6.host == "::1");
    CHECK(v6.url() == "redis://[::1]:6380/a-b_c.d");
    for (const char* bad : {"", "redis://", "rediss://h/x", "redis://h", "redis://h/", "redis://h:/x", "redis://h:0/x",
                            "redis://h:65536/x", "redis://h:12a/x", "redis://:6379/x", "redis://[::1/x", "redis://[::1]x/y",
                            "redis://user:pw@h/x", "redis://h/a/b", "redis://h/sp ace"}) {
        INFO(bad);
        CHECK_THROWS_AS(RedisRoomAddress::parse(bad), std::invalid_argument);
    }
}
