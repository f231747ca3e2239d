#include <sockserv/base/address.hpp>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <random>
#include <string>
#include <system_error>

using sockserv::Address;

TEST_CASE("Address formats and parses IPv4 - IPv6 and Unix paths", "[address]") {
    const Address v4("127.0.0.1", 8000);
    CHECK(v4.family() == AF_INET);
    CHECK(v4.to_string() == "127.0.0.1:8000");
    CHECK(v4.port() == 8000);

    const Address v6("::1", 443);
    CHECK(v6.family() == AF_INET6);
    CHECK(v6.to_string() == "[::1]:443");

    CHECK(Address::parse("[::1]:443") == v6);
    CHECK(Address::parse("127.0.0.1:8000") == v4);
    CHECK(Address::parse("/run/x.sock").to_string() == "/run/x.sock");
    CHECK(Address::parse("/run/x.sock").is_unix());

    CHECK(Address("", 80).to_string() == "0.0.0.0:80");  // Python's "": every IPv4 interface
    CHECK(Address("localhost", 1).is_inet());
}

TEST_CASE("Address refuses bad input with a clear message", "[address]") {
    CHECK_THROWS_AS(Address::parse("127.0.0.1"), std::invalid_argument);
    CHECK_THROWS_AS(Address::parse("127.0.0.1:99999"), std::invalid_argument);
    CHECK_THROWS_AS(Address::parse("127.0.0.1:12ab"), std::invalid_argument);
    CHECK_THROWS_AS(Address::parse("[::1]80"), std::invalid_argument);
    CHECK_THROWS_WITH(Address("no-such-host.invalid", 1), Catch::StartsWith("resolve no-such-host.invalid"));
    CHECK_THROWS_AS(Address::unix_path(std::string(200, 'x')), std::system_error);
    CHECK_THROWS_AS(Address::unix_path(""), std::system_error);
}

TEST_CASE("abstract Unix addresses print with @", "[address]") {
    const Address abstract = Address::unix_path(std::string("\0sockserv", 9));
    CHECK(abstract.to_string() == "@sockserv");
}

namespace {
// What the C library's inet_ntop makes of the same address: host() writes its own digits (no
// sprintf per octet and group), and must say exactly what inet_ntop says.
std::string ntop(int family, const void* bytes) {
    char text[INET6_ADDRSTRLEN];
    REQUIRE(::inet_ntop(family, bytes, text, sizeof text) != nullptr);
    return text;
}
}  // namespace

TEST_CASE("host() says what inet_ntop says, for every shape of IPv4 and IPv6 address", "[address]") {
    std::mt19937 random(20261207);
    for (int round = 0; round < 20000; ++round) {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        const std::uint32_t word = random();
        // Octets of one, two and three digits, and zeros.
        in.sin_addr.s_addr = round % 4 == 0 ? word & 0x0f00ff09u : word;
        const Address v4(reinterpret_cast<const sockaddr*>(&in), sizeof in);
        REQUIRE(v4.host() == ntop(AF_INET, &in.sin_addr));

        sockaddr_in6 in6{};
        in6.sin6_family = AF_INET6;
        // Mostly zero groups, so runs of every length and position (ties, a lone zero, the
        // ends, ::ffff:a.b.c.d and ::a.b.c.d) all come up.
        for (int group = 0; group < 8; ++group) {
            const unsigned pick = random() % 8;
            const unsigned value = pick < 4 ? 0 : pick == 4 ? 0xffff : pick == 5 ? random() % 16 : random() % 0x10000;
            in6.sin6_addr.s6_addr[2 * group] = static_cast<unsigned char>(value >> 8);
            in6.sin6_addr.s6_addr[2 * group + 1] = static_cast<unsigned char>(value);
        }
        const Address v6(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
        REQUIRE(v6.host() == ntop(AF_INET6, &in6.sin6_addr));
    }
    for (const char* text : {"::", "::1", "1::", "::ffff:127.0.0.1", "::ffff:0.0.0.0", "::1.2.3.4", "::ffff:0:1.2.3.4",
                             "1:0:0:2::3", "1::2:0:0:3", "2001:db8:0:1:1:1:1:1", "fe80::1:0:0:0", "0:1:0:1:0:1:0:1",
                             "::fffe:1.2.3.4", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
        in6_addr bytes{};
        REQUIRE(::inet_pton(AF_INET6, text, &bytes) == 1);
        CHECK(Address::parse(std::string("[") + text + "]:1").host() == ntop(AF_INET6, &bytes));
    }
    CHECK(Address::parse("[::ffff:127.0.0.1]:1").host() == "::ffff:127.0.0.1");
    CHECK(Address::parse("[2001:db8::1]:1").host() == "2001:db8::1");
    CHECK(Address::parse("255.255.255.255:1").host() == "255.255.255.255");
}
