// rfile()/wfile() over a socketpair: the stream layer without a server.

#include "../../support/test_support.hpp"

#include <sockserv/base/error.hpp>
#include <sockserv/io/stream.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <linux/tcp.h>  // glibc's tcp_info lacks tcpi_segs_in
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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

TEST_CASE("SocketWriter::send sends what is queued first, then its data at once, and counts both", "[stream]") {
    auto [a, b] = Socket::pair();
    SocketWriter writer(a);
    writer.write("queued ");
    writer.send("sent now");
    CHECK(writer.pending() == 0);
    CHECK(writer.bytes_sent() == 15);
    CHECK(test::recv_exactly(b, 15) == "queued sent now");
    writer.send("");  // nothing to send: nothing sent, nothing queued
    writer.write("later");
    CHECK(writer.pending() == 5);
    writer.send("");
    CHECK(writer.pending() == 0);
    CHECK(test::recv_exactly(b, 5) == "later");
    b.close();
    CHECK_THROWS_AS(([&writer] { for (int i = 0; i < 100; ++i) writer.send(std::string(64 * 1024, 'x')); })(), std::system_error);
}

TEST_CASE("fill_before ends a peer that trickles a byte at a time once the deadline passes", "[stream]") {
    auto [a, b] = Socket::pair();
    a.set_receive_timeout(5s);  // each byte arrives well inside the per-recv timeout...
    std::atomic<bool> stop{false};
    std::thread trickler([&b = b, &stop] {
        while (!stop) {
            b.send_all("x");
            std::this_thread::sleep_for(20ms);
        }
    });
    SocketReader reader(a);
    const auto deadline = std::chrono::steady_clock::now() + 300ms;
    std::size_t received = 0;
    bool timed_out = false;
    try {
        for (;;) received += reader.fill_before(deadline);  // ...but the total is bounded
    } catch (const TimeoutError&) {
        timed_out = true;
    }
    stop = true;
    trickler.join();
    CHECK(timed_out);
    CHECK(received > 0);
    CHECK(std::chrono::steady_clock::now() - deadline < 2s);
}

TEST_CASE("fill_before returns what arrives before the deadline", "[stream]") {
    auto [a, b] = Socket::pair();
    b.send_all("ready");
    SocketReader reader(a);
    CHECK(reader.fill_before(std::chrono::steady_clock::now() + 5s) == 5);
    CHECK(reader.buffered() == "ready");
    CHECK_THROWS_AS(reader.fill_before(std::chrono::steady_clock::now() - 1ms), TimeoutError);
}

TEST_CASE("SocketWriter::sendfile sends what is queued and then the file's range in order", "[stream]") {
    char name[] = "/tmp/sockserv-sendfile-XXXXXX";
    const int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    UniqueFd file(fd);
    ::unlink(name);
    std::string content;
    for (int i = 0; i < 300'000; ++i) content.push_back(static_cast<char>('a' + i % 26));
    REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));

    auto [a, b] = Socket::pair();
    std::string received;
    std::thread reader([&b = b, &received] {
        char buffer[65536];
        for (;;) {
            const std::size_t n = b.recv(buffer, sizeof buffer);
            if (n == 0) break;
            received.append(buffer, n);
        }
    });
    SocketWriter writer(a);
    writer.write("header\n");
    CHECK(writer.sendfile(fd, 1000, 250'000) == 250'000);
    writer.write("|");
    CHECK(writer.sendfile(fd, content.size() - 10, 100) == 10);  // the file ends first: 10 bytes
    writer.flush();
    a.shutdown(SHUT_WR);
    reader.join();
    CHECK(received == "header\n" + content.substr(1000, 250'000) + "|" + content.substr(content.size() - 10));
}

TEST_CASE("a receive time-out and a send time-out are separate", "[stream]") {
    auto [a, b] = Socket::pair();
    a.set_receive_timeout(50ms);
    a.set_send_timeout(std::nullopt);
    char byte;
    CHECK_THROWS_AS(a.recv(&byte, 1), TimeoutError);
    a.set_send_timeout(50ms);
    a.set_receive_timeout(std::nullopt);
    const std::string chunk(1 << 16, 'x');
    const auto fill_until_stuck = [&a = a, &chunk] {
        for (;;) a.send_all(chunk);  // nobody reads b
    };
    CHECK_THROWS_AS(fill_until_stuck(), TimeoutError);
}

namespace {

// Serves `answer` on a fresh loopback TCP connection, sent by `send` and then closed (the server
// end), and returns what the client read to EOF and the segments it received in all (TCP_INFO).
std::pair<std::string, unsigned> answer_and_close(const std::string& answer, void (*send)(SocketWriter&)) {
    auto [client, server] = test::TcpPair();
    {
        SocketWriter writer(server);
        writer.write(answer);
        send(writer);
    }
    server.close();
    std::string received;
    char buffer[4096];
    for (std::size_t n; (n = client.recv(buffer, sizeof buffer)) > 0;) received.append(buffer, n);
    tcp_info info{};
    socklen_t size = sizeof info;
    REQUIRE(::getsockopt(client.fd(), IPPROTO_TCP, TCP_INFO, &info, &size) == 0);
    return {received, info.tcpi_segs_in};
}

}  // namespace

TEST_CASE("flush_before_close: the last bytes and the FIN arrive in one segment, a plain flush takes two", "[stream]") {
    const std::string answer = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(1000, 'x');
    const auto [plain, plain_segments] = answer_and_close(answer, [](SocketWriter& w) { w.flush(); });
    const auto [last, last_segments] = answer_and_close(answer, [](SocketWriter& w) { w.flush_before_close(); });
    CHECK(plain == answer);
    CHECK(last == answer);
    // The handshake's SYN-ACK, then the answer and the FIN: together, or one each.
    CHECK(last_segments + 1 == plain_segments);
}

TEST_CASE("flush_before_close: with no close after it the bytes still arrive", "[stream]") {
    auto [client, server] = test::TcpPair();  // the client times out rather than hang
    SocketWriter writer(server);
    writer.write("held back, not lost\n");
    writer.flush_before_close();
    char buffer[64];
    std::string received;
    while (received.size() < 20) received.append(buffer, client.recv(buffer, sizeof buffer));
    CHECK(received == "held back, not lost\n");
}

TEST_CASE("Socket::input_waiting: bytes, then EOF, are seen without being taken", "[stream]") {
    auto [client, server] = test::TcpPair();
    server.set_nonblocking(true);
    CHECK_FALSE(server.input_waiting());
    client.send_all("x");
    for (pollfd p{server.fd(), POLLIN, 0}; ::poll(&p, 1, 5000) == 0;) {}
    CHECK(server.input_waiting());
    CHECK(server.input_waiting());  // a peek: still there
    char byte = 0;
    CHECK(server.recv(&byte, 1) == 1);
    CHECK(byte == 'x');
    CHECK_FALSE(server.input_waiting());
    client.shutdown(SHUT_WR);
    for (pollfd p{server.fd(), POLLIN, 0}; ::poll(&p, 1, 5000) == 0;) {}
    CHECK(server.input_waiting());  // the EOF: a recv would not block
}
