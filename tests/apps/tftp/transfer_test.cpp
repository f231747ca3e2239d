// The transfer engine between two real UDP sockets in this process: rollover, the empty last
// block, Sorcerer's Apprentice, foreign transfer IDs, windows, retransmission.

#include "transfer.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <thread>

using namespace tftp;
using namespace std::chrono_literals;
using sockserv::Address;
using sockserv::Socket;

namespace {

class StringSource : public Source {
public:
    explicit StringSource(std::string data) : data_(std::move(data)) {}
    std::size_t read(char* buffer, std::size_t n) override {
        const std::size_t got = std::min(n, data_.size() - at_);
        std::memcpy(buffer, data_.data() + at_, got);
        at_ += got;
        return got;
    }

private:
    std::string data_;
    std::size_t at_ = 0;
};

class StringSink : public Sink {
public:
    void write(std::string_view bytes) override { data.append(bytes); }
    void finish() override { finished = true; }
    std::string data;
    bool finished = false;
};

Socket bound_udp() {
    Socket socket(AF_INET, SOCK_DGRAM);
    socket.bind(Address("127.0.0.1", 0));
    return socket;
}

std::string pattern(std::size_t size) {
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + i / 251) & 0xFF);
    return out;
}

TransferSettings settings(std::size_t blksize, std::uint16_t window = 1) {
    TransferSettings s;
    s.options.blksize = blksize;
    s.options.windowsize = window;
    s.timeout = 200ms;
    s.dally = 0ms;
    return s;
}

// Runs a sender and a receiver against each other; returns what arrived.
std::string transfer_between(const std::string& data, std::size_t blksize, std::uint16_t window = 1) {
    Socket a = bound_udp(), b = bound_udp();
    StringSink sink;
    Outcome received;
    std::thread receiver([&] {
        Transfer transfer(b, a.local_address(), true, settings(blksize, window));
        received = transfer.receive(sink, encode_ack(0));
    });
    Transfer sender(a, b.local_address(), true, settings(blksize, window));
    StringSource source(data);
    const Outcome sent = sender.send(source, encode_oack({{"blksize", std::to_string(blksize)}}));
    receiver.join();
    CHECK(sent.ok);
    CHECK(received.ok);
    CHECK(sink.finished);
    return sink.data;
}

}  // namespace

TEST_CASE("transfers of every awkward size arrive intact", "[tftp][transfer]") {
    for (const std::size_t size : {0, 1, 511, 512, 513, 1024, 5000}) {
        INFO(size);
        CHECK(transfer_between(pattern(size), 512) == pattern(size));
    }
}

TEST_CASE("block numbers roll over past 65535", "[tftp][transfer]") {
    // 8-byte blocks: 70,000 blocks is past 65535 in well under a second.
    const std::string data = pattern(8 * 70000 + 3);
    CHECK(transfer_between(data, 8) == data);
    const std::string exact = pattern(8 * 65536);  // ends exactly on block 65536 (wire 0), then an empty one
    CHECK(transfer_between(exact, 8) == exact);
}

TEST_CASE("windows of blocks arrive intact", "[tftp][transfer]") {
    const std::string data = pattern(300000);
    CHECK(transfer_between(data, 1428, 16) == data);
    CHECK(transfer_between(data, 512, 7) == data);
}

TEST_CASE("a duplicate ACK never makes the sender resend (Sorcerer's Apprentice)", "[tftp][transfer]") {
    Socket sender_socket = bound_udp(), peer = bound_udp();
    peer.set_timeout(2s);
    std::thread sender([&] {
        Transfer transfer(sender_socket, peer.local_address(), true, settings(512));
        StringSource source(pattern(512 * 3 + 10));
        transfer.send(source, "");
    });
    char buffer[1024];
    Address from;
    const auto next_block = [&] {
        const std::size_t n = peer.recvfrom(buffer, sizeof buffer, from);
        return std::get<Data>(parse(std::string_view(buffer, n))).block;
    };
    CHECK(next_block() == 1);
    peer.sendto(encode_ack(1), from);
    peer.sendto(encode_ack(1), from);  // the duplicate
    CHECK(next_block() == 2);
    // Block 2 must come once: the next thing we see, after acknowledging it, is block 3.
    peer.sendto(encode_ack(2), from);
    CHECK(next_block() == 3);
    peer.sendto(encode_ack(3), from);
    CHECK(next_block() == 4);
    peer.sendto(encode_ack(4), from);
    sender.join();
}

TEST_CASE("a packet from a foreign port gets ERROR 5 and the transfer goes on", "[tftp][transfer]") {
    Socket sender_socket = bound_udp(), peer = bound_udp(), stranger = bound_udp();
    peer.set_timeout(2s);
    stranger.set_timeout(2s);
    Outcome outcome;
    std::thread sender([&] {
        Transfer transfer(sender_socket, peer.local_address(), true, settings(512));
        StringSource source("short file");
        outcome = transfer.send(source, "");
    });
    char buffer[1024];
    Address from;
    std::size_t n = peer.recvfrom(buffer, sizeof buffer, from);
    CHECK(std::get<Data>(parse(std::string_view(buffer, n))).block == 1);
    stranger.sendto(encode_ack(1), from);  // someone else acknowledging our block
    n = stranger.recvfrom(buffer, sizeof buffer, from);
    CHECK(std::get<Error>(parse(std::string_view(buffer, n))).code == unknown_transfer_id);
    peer.sendto(encode_ack(1), from);
    sender.join();
    CHECK(outcome.ok);
}

// The server connects its transfer socket to the client: when the client's program is gone, the
// kernel answers our next packet with ICMP port unreachable and the transfer ends on it, in either
// direction, instead of re-sending into the void until the retries run out.
TEST_CASE("a peer whose port closed ends the transfer at its next packet - connected socket", "[tftp][transfer]") {
    for (const bool sending : {true, false}) {
        INFO((sending ? "sending" : "receiving"));
        Socket ours = bound_udp();
        auto peer = std::make_unique<Socket>(bound_udp());
        peer->set_timeout(2s);
        ours.connect(peer->local_address());
        TransferSettings s = settings(512);
        s.timeout = 100ms;
        s.max_retries = 5;  // without the ICMP: 100 + 200 + 400 + 800 + 800 + 800 ms, then "timed out"
        Outcome outcome;
        std::thread transfer_thread([&] {
            Transfer transfer(ours, peer->local_address(), true, s);
            if (sending) {
                StringSource source(pattern(2000));
                outcome = transfer.send(source, "");
            } else {
                StringSink sink;
                outcome = transfer.receive(sink, encode_ack(0));
            }
        });
        char buffer[1024];
        Address from;
        const std::size_t n = peer->recvfrom(buffer, sizeof buffer, from);  // DATA 1, or ACK 0
        CHECK(n == (sending ? 516u : 4u));
        if (!sending) {
            peer->sendto(encode_data(1, std::string(512, 'd')), from);
            peer->recvfrom(buffer, sizeof buffer, from);  // ACK 1
        }
        peer.reset();  // the client's program exits
        transfer_thread.join();
        CHECK_FALSE(outcome.ok);
        CHECK(outcome.error == "the peer's port is closed (ICMP port unreachable)");
        CHECK(outcome.bytes == 512u);  // the first block, sent or received
    }
}

TEST_CASE("a silent peer is retried with back-off and then given up", "[tftp][transfer]") {
    Socket sender_socket = bound_udp(), peer = bound_udp();
    TransferSettings s = settings(512);
    s.timeout = 20ms;
    s.max_retries = 3;
    Transfer transfer(sender_socket, peer.local_address(), true, s);
    StringSource source("data");
    const auto started = std::chrono::steady_clock::now();
    const Outcome outcome = transfer.send(source, "");
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.error.find("timed out") != std::string::npos);
    // 20 + 40 + 80 + 160 ms of waiting: back-off, and bounded.
    CHECK(std::chrono::steady_clock::now() - started >= 250ms);
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    int copies = 0;
    char buffer[1024];
    Address from;
    peer.set_nonblocking(true);
    try {
        while (true) {
            peer.recvfrom(buffer, sizeof buffer, from);
            ++copies;
        }
    } catch (const std::system_error&) {
    }
    CHECK(copies == 4);  // the first send and three retries
}
