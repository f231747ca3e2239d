// rfile()/wfile() over a socketpair: the stream layer without a server.

#include <sockserv/error.hpp>
#include <sockserv/stream.hpp>

#include <catch2/catch.hpp>

#include <thread>

#include <sys/socket.h>

using namespace sockserv;
using namespace std::chrono_literals;

TEST_CASE("readline returns whole lines - a cut line at the limit - and the tail at EOF", "[stream]") {
    auto [a, b] = Socket::pair();
    b.send_all("one\ntwo\n" + std::string(100, 'x') + "\ntail");
    b.shutdown(SHUT_WR);
    SocketReader reader(a);
    std::string line;
    REQUIRE(reader.readline(line));
    CHECK(line == "one\n");
    REQUIRE(reader.readline(line));
    CHECK(line == "two\n");
    REQUIRE(reader.readline(line, 40));  // over the limit: cut, without '\n'
    CHECK(line == std::string(40, 'x'));
    REQUIRE(reader.readline(line));
    CHECK(line == std::string(60, 'x') + "\n");
    REQUIRE(reader.readline(line));
    CHECK(line == "tail");  // unterminated tail before EOF
    CHECK_FALSE(reader.readline(line));
    CHECK(line.empty());
}

TEST_CASE("readline finds lines split across many small sends", "[stream]") {
    auto [a, b] = Socket::pair();
    std::thread writer([&b = b] {
        for (char c : std::string("split across sends\nsecond\n")) b.send_all(std::string(1, c));
        b.shutdown(SHUT_WR);
    });
    SocketReader reader(a);
    std::string line;
    REQUIRE(reader.readline(line));
    CHECK(line == "split across sends\n");
    REQUIRE(reader.readline(line));
    CHECK(line == "second\n");
    writer.join();
}

TEST_CASE("read_exact reads exactly n bytes or reports EOF", "[stream]") {
    auto [a, b] = Socket::pair();
    b.send_all("0123456789");
    b.shutdown(SHUT_WR);
    SocketReader reader(a);
    std::string out;
    REQUIRE(reader.read_exact(out, 4));
    CHECK(out == "0123");
    CHECK_FALSE(reader.read_exact(out, 10));  // only 6 left
    CHECK(out == "456789");
}

TEST_CASE("the writer buffers - and the tied reader flushes it before blocking", "[stream]") {
    auto [a, b] = Socket::pair();
    SocketWriter writer(a);
    SocketReader reader(a, &writer);
    writer.write("question\n");
    CHECK(writer.pending() == 9);  // not sent yet
    std::thread peer([&b = b] {
        SocketReader peer_reader(b);
        std::string line;
        peer_reader.readline(line);  // would hang forever if the question were never flushed
        b.send_all("answer to " + line);
    });
    std::string line;
    REQUIRE(reader.readline(line));
    CHECK(line == "answer to question\n");
    CHECK(writer.pending() == 0);
    peer.join();
}

TEST_CASE("a read past the socket timeout throws TimeoutError", "[stream]") {
    auto [a, b] = Socket::pair();
    a.set_timeout(50ms);
    SocketReader reader(a);
    std::string line;
    CHECK_THROWS_AS(reader.readline(line), TimeoutError);
}

TEST_CASE("large writes go straight out - in order with buffered ones", "[stream]") {
    auto [a, b] = Socket::pair();
    std::string big(200 * 1024, 'b');
    std::thread reader_thread([&b = b, &big] {
        SocketReader reader(b);
        std::string out;
        REQUIRE(reader.read_exact(out, 5 + big.size() + 3));
        CHECK(out == "small" + big + "end");
    });
    SocketWriter writer(a, 1024);
    writer.write("small");
    writer.write(big);
    writer.write("end");
    writer.flush();
    reader_thread.join();
}
