#include <sockserv/base/address.hpp>

#include <catch2/catch.hpp>

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
