// The chat protocol as pure functions: every command, and every way a datagram can be wrong.

#include "protocol.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace chat;
using namespace std::string_literals;

namespace {

constexpr std::size_t max_message = 1024;

std::string reason(std::string_view datagram) {
    const Command command = parse(datagram, max_message);
    REQUIRE(std::holds_alternative<Malformed>(command));
    return std::get<Malformed>(command).reason;
}

}  // namespace

TEST_CASE("chat protocol parses the four commands", "[chat][protocol]") {
    auto login = std::get<Login>(parse("L alice", max_message));
    CHECK(login.name == "alice");
    auto says = std::get<Say>(parse("C alice hello  there ", max_message));
    CHECK(says.name == "alice");
    CHECK(says.text == "hello  there ");  // the text is kept as typed
    CHECK(std::get<Quit>(parse("Q alice", max_message)).name == "alice");
    CHECK(std::get<Heartbeat>(parse("H alice", max_message)).name == "alice");
    // UTF-8 names and text.
    CHECK(std::get<Login>(parse("L 张三", max_message)).name == "张三");
    CHECK(std::get<Say>(parse("C 张三 你好，世界 👋", max_message)).text == "你好，世界 👋");
}

TEST_CASE("chat protocol ignores one trailing newline - so nc -u works", "[chat][protocol]") {
    CHECK(std::get<Login>(parse("L alice\n", max_message)).name == "alice");
    CHECK(std::get<Say>(parse("C alice hi\r\n", max_message)).text == "hi");
    CHECK(reason("C alice hi\n\n") == "message has control characters");
}

TEST_CASE("chat protocol formats what the server and the client send", "[chat][protocol]") {
    CHECK(ok() == "OK\n");
    CHECK(refusal("name is taken") == "ERR name is taken\n");
    CHECK(joined("bob") == "bob joined\n");
    CHECK(said("bob", "hi all") == "bob: hi all\n");
    CHECK(left("bob") == "bob left\n");
    CHECK(announcement("maintenance at 5") == "admin: maintenance at 5\n");
    CHECK(chat::login("bob") == "L bob");
    CHECK(chat::say("bob", "hi") == "C bob hi");
    CHECK(chat::quit("bob") == "Q bob");
    CHECK(chat::heartbeat("bob") == "H bob");
    // What the client builds, the server parses back.
    CHECK(std::get<Say>(parse(chat::say("bob", "round trip"), max_message)).text == "round trip");
}

TEST_CASE("chat protocol refuses malformed datagrams with a reason", "[chat][protocol]") {
    CHECK(reason("") == "empty datagram");
    CHECK(reason("\n") == "empty command");
    CHECK(reason("X alice") == "unknown command (expected L, C, Q or H)");
    CHECK(reason("LOGIN alice") == "unknown command (expected L, C, Q or H)");
    CHECK(reason("l alice") == "unknown command (expected L, C, Q or H)");
    CHECK(reason("L") == "missing name");
    CHECK(reason("L ") == "missing name");
    CHECK(reason("C") == "missing name");
    CHECK(reason("C  hello") == "missing name");
    CHECK(reason("C alice") == "missing text");
    CHECK(reason("C alice ") == "missing text");
    CHECK(reason("Q") == "missing name");
    CHECK(reason("\xff\xfe\xfd") == "not valid UTF-8");
    CHECK(reason("C alice caf\xc3") == "not valid UTF-8");          // cut mid-character
    CHECK(reason("C alice \xc0\xaf") == "not valid UTF-8");          // overlong '/'
    CHECK(reason("C alice \xed\xa0\x80") == "not valid UTF-8");      // a UTF-16 surrogate
    CHECK(reason("C alice \xf4\x90\x80\x80") == "not valid UTF-8");  // beyond U+10FFFF
    CHECK(reason("C alice a\0b"s) == "message has control characters");
    CHECK(reason("C alice \x1b[2Jcleared") == "message has control characters");
    CHECK(reason("C alice line\nadmin: forged") == "message has control characters");
    CHECK(reason("C alice \xc2\x9b" "31m") == "message has control characters");  // C1 CSI
    CHECK(reason("L al\0ice"s) == "name has control characters");
    CHECK(reason("L al\tice") == "name has control characters");
    CHECK(reason("L alice smith") == "name has spaces");
    CHECK(reason("L admin") == "name is reserved");
    CHECK(reason("L ERR") == "name is reserved");
    CHECK(reason("L " + std::string(5000, 'n')) == "name is too long (max 32 bytes)");
    CHECK(reason("C " + std::string(5000, 'n') + " hi") == "name is too long (max 32 bytes)");
    CHECK(reason("C alice " + std::string(max_message + 1, 'x')) == "message too long (max 1024 bytes)");
    CHECK(reason("C alice " + std::string(64 * 1024, 'x')) == "message too long (max 1024 bytes)");
    CHECK(std::holds_alternative<Say>(parse("C alice " + std::string(max_message, 'x'), max_message)));
    CHECK(std::holds_alternative<Login>(parse("L " + std::string(max_name_bytes, 'n'), max_message)));
}

TEST_CASE("chat protocol: garbage of every byte value never parses as a command by accident", "[chat][protocol]") {
    // Every single byte, and every byte after each command letter: only well-formed input passes.
    for (int byte = 0; byte < 256; ++byte) {
        const std::string one(1, static_cast<char>(byte));
        CHECK(std::holds_alternative<Malformed>(parse(one, max_message)));
        for (const char letter : {'L', 'C', 'Q', 'H'}) {
            const std::string datagram = std::string(1, letter).append(one).append(letter == 'C' ? "name hi" : "name");
            const bool well_formed = byte == ' ';
            CHECK(std::holds_alternative<Malformed>(parse(datagram, max_message)) == !well_formed);
        }
    }
}

TEST_CASE("displayable makes any server datagram safe to print", "[chat][protocol]") {
    CHECK(displayable("bob: hi\n") == "bob: hi");
    CHECK(displayable("bob: \x1b[2J") == "bob: ?[2J");
    CHECK(displayable("bob: \xff") == "bob: ?");
    CHECK(displayable("你好\n") == "你好");
}
