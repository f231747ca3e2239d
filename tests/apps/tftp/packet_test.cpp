// TFTP packets, options, netascii and the TCP framing, without sockets (framing's stream reading
// over a socketpair).

#include "framing.hpp"
#include "netascii.hpp"
#include "options.hpp"
#include "packet.hpp"
#include "progress.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <thread>

#include <sys/socket.h>

using namespace tftp;
using namespace std::string_literals;

TEST_CASE("every packet type encodes and decodes to itself", "[tftp][packet]") {
    Request rrq{false, "dir/file.bin", "octet", {{"blksize", "1428"}, {"tsize", "0"}}};
    const auto decoded = std::get<Request>(parse(encode_request(rrq)));
    CHECK_FALSE(decoded.write);
    CHECK(decoded.filename == "dir/file.bin");
    CHECK(decoded.mode == "octet");
    CHECK(decoded.options == rrq.options);
    rrq.write = true;
    CHECK(std::get<Request>(parse(encode_request(rrq))).write);

    const std::string data = encode_data(65535, "payload");
    CHECK(data == "\x00\x03\xff\xffpayload"s);
    CHECK(std::get<Data>(parse(data)).block == 65535);
    CHECK(std::get<Data>(parse(data)).payload == "payload");
    CHECK(std::get<Data>(parse(encode_data(7, ""))).payload.empty());  // the empty final block
    CHECK(encode_ack(258) == "\x00\x04\x01\x02"s);
    CHECK(std::get<Ack>(parse(encode_ack(258))).block == 258);
    const auto error = std::get<Error>(parse(encode_error(1, "File not found")));
    CHECK(error.code == 1);
    CHECK(error.message == "File not found");
    const auto oack = std::get<OptionAck>(parse(encode_oack({{"blksize", "512"}})));
    CHECK(oack.options == Options{{"blksize", "512"}});
}

TEST_CASE("option names are case-insensitive and modes are checked", "[tftp][packet]") {
    const auto request = std::get<Request>(parse("\x00\x01" "f\0NetASCII\0BLKSIZE\0" "1024\0"s));
    CHECK(request.options == Options{{"blksize", "1024"}});
    CHECK(is_supported_mode(request.mode));
    CHECK(is_netascii(request.mode));
    CHECK(is_supported_mode("OCTET"));
    CHECK_FALSE(is_supported_mode("mail"));
    CHECK_FALSE(is_supported_mode("binary"));
}

TEST_CASE("malformed packets are reported - never thrown", "[tftp][packet]") {
    for (const std::string& bad : std::vector<std::string>{
             ""s, "\x00"s, "\x00\x00"s, "\x00\x07"s, "\xff\xff"s, "\x00\x01"s, "\x00\x01" "file"s,
             "\x00\x01" "file\0octet"s, "\x00\x01\0octet\0"s, "\x00\x01" "file\0\0"s, "\x00\x01" "f\0octet\0blksize"s,
             "\x00\x03\x00"s, "\x00\x04\x00"s, "\x00\x04\x00\x01\x00"s, "\x00\x05\x00"s, "\x00\x06" "blksize"s}) {
        INFO(bad.size());
        CHECK(std::holds_alternative<Malformed>(parse(bad)));
    }
    CHECK(std::get<Malformed>(parse("\x00\x09"s)).reason == "unknown opcode 9");
    // Tolerated: an ERROR without its NUL, an unpaired trailing option name.
    CHECK(std::get<Error>(parse("\x00\x05\x00\x02oops"s)).message == "oops");
    CHECK(std::get<Request>(parse("\x00\x01" "f\0octet\0blksize\0" "512\0tsize\0"s)).options.size() == 1);
}

TEST_CASE("random datagrams never crash the parser", "[tftp][packet]") {
    std::mt19937 random(4242);
    for (int round = 0; round < 20000; ++round) {
        std::string datagram(random() % 40, '\0');
        for (char& c : datagram) c = static_cast<char>(random() % 8 == 0 ? 0 : random() % 256);
        if (datagram.size() >= 2 && random() % 2) datagram[0] = 0, datagram[1] = static_cast<char>(random() % 8);
        const Packet packet = parse(datagram);
        CHECK(packet.index() < std::variant_size_v<Packet>);
    }
}

TEST_CASE("negotiation clamps - refuses and ignores as the RFCs say", "[tftp][options]") {
    const auto negotiated = [](Options options, bool write = false, std::uint64_t size = 1000) {
        return negotiate(Request{write, "f", "octet", std::move(options)}, size);
    };
    auto n = negotiated({{"blksize", "1428"}, {"tsize", "0"}, {"timeout", "3"}, {"windowsize", "8"}});
    CHECK(n.options.blksize == 1428);
    CHECK(n.options.windowsize == 8);
    CHECK(n.options.timeout_seconds == 3u);
    CHECK(n.oack == Options{{"blksize", "1428"}, {"tsize", "1000"}, {"timeout", "3"}, {"windowsize", "8"}});
    CHECK(negotiated({{"blksize", "100000"}}).options.blksize == 65464);  // clamped
    CHECK(negotiated({{"blksize", "100000"}}).oack == Options{{"blksize", "65464"}});
    CHECK(negotiated({{"blksize", "7"}}).refusal);  // below 8: ERROR 8
    CHECK(negotiated({{"blksize", "abc"}}).oack.empty());  // garbage: ignored
    CHECK(negotiated({{"timeout", "0"}, {"timeout", "9"}}).oack.empty());  // out of range; only the first counts
    CHECK(negotiated({{"timeout", "256"}}).oack.empty());
    CHECK(negotiated({{"frobnicate", "1"}, {"multicast", ""}}).oack.empty());  // unknown: ignored
    CHECK(negotiated({{"tsize", "0"}}, false, 0).oack.empty());  // empty file: no tsize (curl refuses "0")
    CHECK(negotiated({{"tsize", "12345"}}, true).oack == Options{{"tsize", "12345"}});  // WRQ: echoed
    CHECK(negotiate(Request{false, "f", "netascii", {{"tsize", "0"}}}, 1000).oack.empty());
    // The window is capped so one burst fits a socket buffer.
    CHECK(negotiated({{"windowsize", "1000"}, {"blksize", "65464"}}).options.windowsize == 2);
    CHECK(negotiated({{"windowsize", "1000"}}).options.windowsize == max_window_bytes / 512);
    CHECK(negotiated({{"windowsize", "0"}}).oack.empty());
}

TEST_CASE("a client accepts only the options it asked for", "[tftp][options]") {
    const Options asked{{"blksize", "1428"}, {"tsize", "0"}};
    TransferOptions options;
    CHECK_FALSE(apply_oack(asked, {{"blksize", "1024"}, {"tsize", "99"}}, options));
    CHECK(options.blksize == 1024);
    CHECK(options.tsize == 99u);
    CHECK(apply_oack(asked, {{"windowsize", "4"}}, options));  // not asked
    CHECK(apply_oack(asked, {{"blksize", "2000"}}, options));  // larger than asked
    CHECK(apply_oack(asked, {{"blksize", "x"}}, options));
}

TEST_CASE("netascii converts line ends both ways and across every block boundary", "[tftp][netascii]") {
    const std::string text = "line one\nline two\r\nbare cr\r\0not nul\rx\n\n\r\r\nend\r";
    std::string wire;
    netascii_encode(text, wire);
    CHECK(wire.find('\n') == wire.find("\r\n") + 1);
    std::string expected_wire;
    for (const char c : text) {
        if (c == '\n') expected_wire += "\r\n";
        else if (c == '\r') expected_wire += "\r\0"s;
        else expected_wire += c;
    }
    CHECK(wire == expected_wire);
    for (std::size_t cut = 0; cut <= wire.size(); ++cut) {  // the wire split into two "blocks" anywhere
        NetasciiDecoder decoder;
        std::string back;
        decoder.decode(std::string_view(wire).substr(0, cut), back);
        decoder.decode(std::string_view(wire).substr(cut), back);
        decoder.finish(back);
        INFO("cut at " << cut);
        CHECK(back == text);
    }
    NetasciiDecoder lenient;
    std::string out;
    lenient.decode("a\rb", out);  // a bare CR from a sloppy client is kept
    CHECK(out == "a\rb");
}

TEST_CASE("framing headers pack in network byte order and refuse what is not ours", "[tftp][framing]") {
    const std::string bytes = framing::encode({framing::Type::put, 0x0102, 0x0102030405060708ULL});
    CHECK(bytes == "\x01\x03\x01\x02\x01\x02\x03\x04\x05\x06\x07\x08"s);
    const auto header = std::get<framing::Header>(framing::decode(bytes));
    CHECK(header.type == framing::Type::put);
    CHECK(header.code == 0x0102);
    CHECK(header.length == 0x0102030405060708ULL);
    const auto replaced = [&bytes](std::string prefix) {
        prefix.append(bytes, prefix.size());
        return prefix;
    };
    CHECK(std::get<std::string>(framing::decode(replaced("\x02"))).find("version 2") != std::string::npos);
    CHECK(std::holds_alternative<std::string>(framing::decode(replaced("\x01\x09"))));
    CHECK(std::holds_alternative<std::string>(framing::decode(replaced(std::string("\x01\x00", 2)))));
    CHECK(std::holds_alternative<std::string>(framing::decode(bytes.substr(1))));
    const auto put = framing::parse_put(framing::put_body(123456789, "name.bin"));
    REQUIRE(put);
    CHECK(put->first == 123456789u);
    CHECK(put->second == "name.bin");
    CHECK_FALSE(framing::parse_put("short"));
}

TEST_CASE("framed messages survive split and coalesced reads", "[tftp][framing]") {
    auto [a, b] = sockserv::Socket::pair();
    const std::string stream = framing::message(framing::Type::get, "first.bin") + framing::message(framing::Type::list) +
                               framing::message(framing::Type::get, "third.bin");
    std::thread writer([&b = b, stream] {
        for (const char c : stream.substr(0, 15)) b.send_all(std::string(1, c));  // byte by byte
        b.send_all(stream.substr(15));                                            // then the rest at once
        b.shutdown(SHUT_WR);
    });
    sockserv::SocketReader in(a);
    std::vector<std::string> seen;
    while (auto header = framing::read_header(in)) {
        const auto h = std::get<framing::Header>(*header);
        std::string body;
        REQUIRE(in.read_exact(body, h.length));
        seen.push_back(std::to_string(static_cast<int>(h.type)) + ":" + body);
    }
    writer.join();
    CHECK(seen == std::vector<std::string>{"2:first.bin", "1:", "2:third.bin"});

    auto [c, d] = sockserv::Socket::pair();
    d.send_all(framing::encode({framing::Type::get, 0, 5}).substr(0, 7));  // EOF inside a header
    d.shutdown(SHUT_WR);
    sockserv::SocketReader cut(c);
    CHECK_THROWS(framing::read_header(cut));
}

TEST_CASE("the progress line shows bar - percent - rate and ETA", "[tftp][progress]") {
    const std::string line = Progress::render("big.iso", 50 * 1024 * 1024, 100 * 1024 * 1024, 5.0, 10);
    CHECK(line.find("big.iso") == 0);
    CHECK(line.find("[#####     ]") != std::string::npos);
    CHECK(line.find(" 50%") != std::string::npos);
    CHECK(line.find("10.0 MiB/s") != std::string::npos);
    CHECK(line.find("ETA 0:05") != std::string::npos);
    CHECK(Progress::render("x", 1024 * 1024, std::nullopt, 1.0).find("1.0 MiB") != std::string::npos);
}
