// The PROXY protocol header, v1 and v2: what HAProxy's send-proxy and send-proxy-v2 write, and the
// malformed, truncated, oversized and hostile bytes a parser must refuse.

#include <sockserv/base/proxy_header.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace sockserv;
using proxy::Status;

namespace {

std::string v2(unsigned char ver_cmd, unsigned char family, const std::string& addresses) {
    std::string header("\r\n\r\n\0\r\nQUIT\n", 12);
    header += static_cast<char>(ver_cmd);
    header += static_cast<char>(family);
    header += static_cast<char>(addresses.size() >> 8);
    header += static_cast<char>(addresses.size() & 0xff);
    return header + addresses;
}

std::string bytes(std::initializer_list<int> values) {
    std::string out;
    for (const int v : values) out += static_cast<char>(v);
    return out;
}

}  // namespace

TEST_CASE("PROXY v1: TCP4 and TCP6 give the client's address and port, and the header's size", "[proxy]") {
    const std::string line = "PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n";
    const auto parsed = proxy::parse(line + "GET / HTTP/1.1\r\n");
    REQUIRE(parsed.status == Status::complete);
    CHECK(parsed.header.version == 1);
    CHECK(parsed.header.size == line.size());
    CHECK(parsed.header.proxied);
    CHECK(parsed.header.source.to_string() == "203.0.113.7:56324");
    CHECK(parsed.header.destination.to_string() == "192.0.2.1:443");

    const auto six = proxy::parse("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n");
    REQUIRE(six.status == Status::complete);
    CHECK(six.header.source.to_string() == "[2001:db8::1]:65535");
    CHECK(six.header.destination.port() == 0);

    const auto unknown = proxy::parse("PROXY UNKNOWN ffff:f...f:ffff 65535 65535\r\nrest");
    REQUIRE(unknown.status == Status::complete);
    CHECK_FALSE(unknown.header.proxied);  // the connection's own addresses stand
}

TEST_CASE("PROXY v2: PROXY over TCP4, TCP6 and Unix, LOCAL, and TLVs skipped", "[proxy]") {
    const std::string four = bytes({203, 0, 113, 7, 192, 0, 2, 1, 0xdc, 0x04, 0x01, 0xbb});
    const std::string tlv = bytes({0x01, 0x00, 0x02, 'h', '2'});  // ALPN, skipped
    const std::string header = v2(0x21, 0x11, four + tlv);
    const auto parsed = proxy::parse(header + "payload");
    REQUIRE(parsed.status == Status::complete);
    CHECK(parsed.header.version == 2);
    CHECK(parsed.header.size == header.size());
    CHECK(parsed.header.source.to_string() == "203.0.113.7:56324");
    CHECK(parsed.header.destination.to_string() == "192.0.2.1:443");

    std::string six(36, '\0');
    six[15] = 1;              // ::1
    six[16] = 0x20, six[17] = 0x01, six[18] = 0x0d, six[19] = static_cast<char>(0xb8);  // 2001:db8::
    six[32] = 0x30, six[33] = 0x39;  // 12345
    const auto v6 = proxy::parse(v2(0x21, 0x21, six));
    REQUIRE(v6.status == Status::complete);
    CHECK(v6.header.source.to_string() == "[::1]:12345");
    CHECK(v6.header.destination.host() == "2001:db8::");

    std::string paths(216, '\0');
    paths.replace(0, 9, "/run/a.so");
    paths.replace(108, 9, "/run/b.so");
    const auto unix_header = proxy::parse(v2(0x21, 0x31, paths));
    REQUIRE(unix_header.status == Status::complete);
    CHECK(unix_header.header.source.path() == "/run/a.so");

    const auto local = proxy::parse(v2(0x20, 0x00, ""));  // a health check
    REQUIRE(local.status == Status::complete);
    CHECK_FALSE(local.header.proxied);
    CHECK(local.header.size == 16);
}

TEST_CASE("PROXY: every prefix of a header asks for more, never for a byte past it", "[proxy]") {
    const std::string four = bytes({10, 0, 0, 1, 10, 0, 0, 2, 0, 80, 0, 81});
    for (const std::string& header : {std::string("PROXY TCP4 10.0.0.1 10.0.0.2 80 81\r\n"), v2(0x21, 0x11, four)}) {
        for (std::size_t n = 0; n < header.size(); ++n) {
            INFO(n);
            CHECK(proxy::parse(header.substr(0, n)).status == Status::need_more);
        }
        CHECK(proxy::parse(header).header.size == header.size());
    }
}

TEST_CASE("PROXY: malformed, oversized and foreign bytes are refused with a reason", "[proxy]") {
    const std::string four = bytes({10, 0, 0, 1, 10, 0, 0, 2, 0, 80, 0, 81});
    const std::vector<std::string> bad = {
        "GET / HTTP/1.1\r\n",                                  // no header at all
        "\x16\x03\x01\x02\x00",                                // a TLS ClientHello
        "PROXY TCP4 10.0.0.1 10.0.0.2 80\r\n",                 // a port missing
        "PROXY TCP4 10.0.0.1 10.0.0.2 80 81 82\r\n",           // one word too many
        "PROXY TCP4 10.0.0.1  10.0.0.2 80 81\r\n",             // two spaces
        "PROXY TCP4 ::1 10.0.0.2 80 81\r\n",                   // v6 in TCP4
        "PROXY TCP4 localhost 10.0.0.2 80 81\r\n",             // a name: never looked up
        "PROXY TCP4 10.0.0.1 10.0.0.2 80 65536\r\n",           // port out of range
        "PROXY TCP4 10.0.0.1 10.0.0.2 080 81\r\n",             // leading zero
        "PROXY UDP4 10.0.0.1 10.0.0.2 80 81\r\n",              // not TCP
        "PROXY TCP4 10.0.0.1 10.0.0.2 80 81\n",                // a lone LF: refused at once
        "PROXY TCP4 10.0.0.1\x01",                              // a control byte
        "PROXY " + std::string(110, 'A'),                      // no CRLF within 107 bytes
        v2(0x11, 0x11, four),                                  // version 1 in a v2 signature
        v2(0x22, 0x11, four),                                  // unknown command
        v2(0x21, 0x41, four),                                  // unknown family
        v2(0x21, 0x11, four.substr(0, 8)),                     // too short for its family
        v2(0x21, 0x21, four),                                  // too short for IPv6
        std::string("\r\n\r\n\0\r\nQUIT\n", 12) + bytes({0x21, 0x11, 0xff, 0xff}),  // 65,551 bytes
    };
    for (const std::string& input : bad) {
        INFO(input);
        const auto parsed = proxy::parse(input);
        CHECK(parsed.status == Status::invalid);
        CHECK_FALSE(parsed.error.empty());
    }
}
