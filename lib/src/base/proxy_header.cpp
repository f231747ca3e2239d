#include <sockserv/base/proxy_header.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace sockserv::proxy {

namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr char v2_signature[12] = {'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'};
constexpr std::size_t v2_fixed = 16;

Parsed invalid(std::string error) {
    Parsed parsed;
    parsed.status = Status::invalid;
    parsed.error = std::move(error);
    return parsed;
}

// ---- v1 ----

bool parse_port(std::string_view text, std::uint16_t& port) {
    if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
    unsigned value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 65535) return false;
    port = static_cast<std::uint16_t>(value);
    return true;
}

// An IPv4 or IPv6 address from its bytes in network order (4 or 16 of them) and its port.
Address inet_address(int family, const void* bytes, std::uint16_t port) {
    if (family == AF_INET) {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        std::memcpy(&in.sin_addr, bytes, sizeof in.sin_addr);
        return Address(reinterpret_cast<const sockaddr*>(&in), sizeof in);
    }
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    std::memcpy(&in6.sin6_addr, bytes, sizeof in6.sin6_addr);
    return Address(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
}

// A numeric address of the family (no name lookup: these bytes come from the network).
bool parse_inet(std::string_view text, int family, std::uint16_t port, Address& out) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
    char buffer[INET6_ADDRSTRLEN] = {};
    std::memcpy(buffer, text.data(), text.size());
    unsigned char bytes[16];
    if (::inet_pton(family, buffer, bytes) != 1) return false;
    out = inet_address(family, bytes, port);
    return true;
}

Parsed parse_v1(std::string_view bytes) {
    const std::size_t end = bytes.substr(0, max_v1_size).find("\r\n");
    if (end == std::string_view::npos) {
        // A lone '\n' or any byte a header cannot hold: give up now, not at 107 bytes.
        const std::string_view seen = bytes.substr(0, max_v1_size);
        for (const char c : seen)
            if (c != '\r' && (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e))
                return invalid("PROXY v1: a byte no header holds");
        if (bytes.size() >= max_v1_size) return invalid("PROXY v1: longer than 107 bytes");
        return {};
    }
    Parsed parsed;
    parsed.header.version = 1;
    parsed.header.size = end + 2;
    std::string_view line = bytes.substr(v1_prefix.size(), end - v1_prefix.size());
    std::string_view words[6];
    std::size_t count = 0;
    while (!line.empty() && count < 6) {
        const std::size_t space = line.find(' ');
        words[count++] = line.substr(0, space);
        line = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    }
    if (count >= 1 && words[0] == "UNKNOWN") {  // whatever follows is ignored, as the spec says
        parsed.status = Status::complete;
        return parsed;
    }
    if (count != 5 || !line.empty()) return invalid("PROXY v1: expected 'PROXY TCP4|TCP6 SOURCE DESTINATION SPORT DPORT'");
    int family;
    if (words[0] == "TCP4") family = AF_INET;
    else if (words[0] == "TCP6") family = AF_INET6;
    else return invalid("PROXY v1: unknown protocol '" + std::string(words[0]) + "'");
    std::uint16_t source_port = 0, destination_port = 0;
    if (!parse_port(words[3], source_port) || !parse_port(words[4], destination_port))
        return invalid("PROXY v1: a port is not a number from 0 to 65535");
    if (!parse_inet(words[1], family, source_port, parsed.header.source) ||
        !parse_inet(words[2], family, destination_port, parsed.header.destination))
        return invalid("PROXY v1: an address is not a numeric " + std::string(words[0] == "TCP4" ? "IPv4" : "IPv6") + " one");
    parsed.header.proxied = true;
    parsed.status = Status::complete;
    return parsed;
}

// ---- v2 ----

std::uint16_t big_endian16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

Parsed parse_v2(std::string_view bytes) {
    if (bytes.size() < v2_fixed) return {};
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const unsigned version = p[12] >> 4, command = p[12] & 0x0f;
    const unsigned family = p[13] >> 4, transport = p[13] & 0x0f;
    const std::size_t length = big_endian16(p + 14);
    if (version != 2) return invalid("PROXY v2: version " + std::to_string(version));
    if (command > 1) return invalid("PROXY v2: unknown command " + std::to_string(command));
    if (family > 3 || transport > 2) return invalid("PROXY v2: unknown address family or transport");
    if (v2_fixed + length > max_size) return invalid("PROXY v2: " + std::to_string(v2_fixed + length) + " bytes, more than " + std::to_string(max_size));
    if (bytes.size() < v2_fixed + length) return {};
    Parsed parsed;
    parsed.header.version = 2;
    parsed.header.size = v2_fixed + length;
    parsed.status = Status::complete;
    if (command == 0 || family == 0) return parsed;  // LOCAL, or UNSPEC: the connection's own addresses
    const unsigned char* a = p + v2_fixed;
    if (family == 1 || family == 2) {
        // Source and destination addresses, then source and destination ports.
        const std::size_t n = family == 1 ? 4 : 16;
        if (length < 2 * n + 4) return invalid(std::string("PROXY v2: too short for ") + (n == 4 ? "IPv4" : "IPv6") + " addresses");
        const int af = family == 1 ? AF_INET : AF_INET6;
        parsed.header.source = inet_address(af, a, big_endian16(a + 2 * n));
        parsed.header.destination = inet_address(af, a + n, big_endian16(a + 2 * n + 2));
    } else {
        if (length < 216) return invalid("PROXY v2: too short for Unix addresses");
        for (int i = 0; i < 2; ++i) {
            sockaddr_un un{};
            un.sun_family = AF_UNIX;
            const auto* path = reinterpret_cast<const char*>(a + 108 * i);
            // A path is NUL-terminated within its 108 bytes; an abstract one starts with NUL.
            std::size_t n = path[0] == '\0' ? 108 : ::strnlen(path, 108);
            if (path[0] == '\0') while (n > 1 && path[n - 1] == '\0') --n;
            std::memcpy(un.sun_path, path, std::min(n, sizeof un.sun_path));
            const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::min(n, sizeof un.sun_path));
            (i == 0 ? parsed.header.source : parsed.header.destination) = Address(reinterpret_cast<const sockaddr*>(&un), size);
        }
    }
    parsed.header.proxied = true;
    return parsed;
}

}  // namespace

Parsed parse(std::string_view bytes) {
    if (bytes.empty()) return {};
    // Which version: decided by the first bytes, as soon as they can be told apart.
    const std::size_t v1_seen = std::min(bytes.size(), v1_prefix.size());
    const std::size_t v2_seen = std::min(bytes.size(), sizeof v2_signature);
    const bool may_be_v1 = bytes.substr(0, v1_seen) == v1_prefix.substr(0, v1_seen);
    const bool may_be_v2 = std::memcmp(bytes.data(), v2_signature, v2_seen) == 0;
    if (!may_be_v1 && !may_be_v2) return invalid("not a PROXY protocol header");
    if (may_be_v1 && bytes.size() >= v1_prefix.size()) return parse_v1(bytes);
    if (may_be_v2 && bytes.size() >= sizeof v2_signature) return parse_v2(bytes);
    return {};
}

}  // namespace sockserv::proxy
