#include <sockserv/base/address.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace sockserv {

Address::Address() noexcept { storage_.ss_family = AF_UNSPEC; }

Address::Address(const sockaddr* addr, socklen_t len) {
    if (len > capacity) throw std::invalid_argument("address too long");
    std::memcpy(&storage_, addr, len);
    size_ = len;
}

Address::Address(std::string_view host, std::uint16_t port) {
    const std::string name(host);
    if (name.empty()) {  // Python's "": every IPv4 interface.
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        in.sin_addr.s_addr = htonl(INADDR_ANY);
        *this = Address(reinterpret_cast<const sockaddr*>(&in), sizeof in);
        return;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_NUMERICSERV;
    hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
    addrinfo* result = nullptr;
    const std::string service = std::to_string(port);
    if (int rc = ::getaddrinfo(name.c_str(), service.c_str(), &hints, &result); rc != 0) {
        const std::string reason = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
        throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                "resolve " + name + ": " + reason);
    }
    *this = Address(result->ai_addr, result->ai_addrlen);
    ::freeaddrinfo(result);
}

Address Address::unix_path(std::string_view path) {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof un.sun_path)
        throw std::system_error(std::make_error_code(std::errc::filename_too_long),
                                "unix socket path '" + std::string(path) + "'");
    std::memcpy(un.sun_path, path.data(), path.size());
    return Address(reinterpret_cast<const sockaddr*>(&un),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] ? 1 : 0)));
}

Address Address::parse(std::string_view text) {
    if (text.find('/') != std::string_view::npos) return unix_path(text);
    std::string_view host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            throw std::invalid_argument("bad address '" + std::string(text) + "': expected [host]:port");
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            throw std::invalid_argument("bad address '" + std::string(text) + "': expected host:port");
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
    }
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535)
        throw std::invalid_argument("bad port in '" + std::string(text) + "'");
    return Address(host, static_cast<std::uint16_t>(port));
}

namespace {

// inet_ntop, without its sprintf: glibc formats each IPv4 octet and IPv6 group through the printf
// machinery, a couple of thousand instructions an address — and every accepted connection formats
// its client's once. The same text: dotted quads, RFC 5952 for IPv6 (lowercase, no leading zeros,
// the longest run of two or more zero groups, the first of equals, as "::") and the dotted tail of
// glibc's choice (::ffff:a.b.c.d, and ::a.b.c.d of the old IPv4-compatible form).
char* put_ipv4(char* out, const unsigned char* octets) noexcept {
    for (int i = 0; i < 4; ++i) {
        if (i > 0) *out++ = '.';
        const unsigned value = octets[i];
        if (value >= 100) *out++ = static_cast<char>('0' + value / 100);
        if (value >= 10) *out++ = static_cast<char>('0' + value / 10 % 10);
        *out++ = static_cast<char>('0' + value % 10);
    }
    return out;
}

char* put_ipv6(char* out, const unsigned char* bytes) noexcept {
    unsigned groups[8];
    for (int i = 0; i < 8; ++i) groups[i] = static_cast<unsigned>(bytes[2 * i]) << 8 | bytes[2 * i + 1];
    int best = -1, best_length = 0;
    for (int i = 0; i < 8;) {
        if (groups[i] != 0) {
            ++i;
            continue;
        }
        int end = i;
        while (end < 8 && groups[end] == 0) ++end;
        if (end - i > best_length) {
            best = i;
            best_length = end - i;
        }
        i = end;
    }
    if (best_length < 2) best = -1;
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            *out++ = ':';
            if (i + best_length == 8) *out++ = ':';
            i += best_length - 1;
            continue;
        }
        if (i > 0) *out++ = ':';
        if (i == 6 && best == 0 && (best_length == 6 || (best_length == 5 && groups[5] == 0xffff)))
            return put_ipv4(out, bytes + 12);
        constexpr char hex[] = "0123456789abcdef";
        bool leading = true;
        for (int shift = 12; shift >= 0; shift -= 4) {
            const unsigned digit = groups[i] >> shift & 0xf;
            if (leading && digit == 0 && shift > 0) continue;
            leading = false;
            *out++ = hex[digit];
        }
    }
    return out;
}

}  // namespace

std::string Address::host() const {
    char buffer[INET6_ADDRSTRLEN];
    switch (family()) {
    case AF_INET: {
        const auto* in = &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr;
        return std::string(buffer, put_ipv4(buffer, reinterpret_cast<const unsigned char*>(in)));
    }
    case AF_INET6: {
        const auto* in6 = &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
        return std::string(buffer, put_ipv6(buffer, reinterpret_cast<const unsigned char*>(in6)));
    }
    case AF_UNIX: {
        const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
        const std::size_t offset = offsetof(sockaddr_un, sun_path);
        if (size_ <= offset) return {};  // unnamed (a client that did not bind)
        std::size_t len = size_ - offset;
        if (un->sun_path[0] != '\0') len = ::strnlen(un->sun_path, len);
        return std::string(un->sun_path, len);
    }
    default:
        return {};
    }
}

std::uint16_t Address::port() const noexcept {
    switch (family()) {
    case AF_INET: return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    case AF_INET6: return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    default: return 0;
    }
}

std::string Address::to_string() const {
    switch (family()) {
    case AF_INET:
    case AF_INET6: {
        // Built by appending: GCC 12 warns falsely (-Wrestrict) on chains of operator+ here.
        std::string text;
        if (family() == AF_INET6) text += '[';
        text += host();
        if (family() == AF_INET6) text += ']';
        text += ':';
        text += std::to_string(port());
        return text;
    }
    case AF_UNIX: {
        std::string path = host();
        if (path.empty()) return "unix:(unnamed)";
        if (path[0] == '\0') path[0] = '@';  // abstract namespace, as ss(8) prints it
        return path;
    }
    default:
        return "(no address)";
    }
}

bool operator==(const Address& a, const Address& b) noexcept {
    if (a.family() != b.family()) return false;
    switch (a.family()) {
    case AF_INET: {
        const auto* x = reinterpret_cast<const sockaddr_in*>(a.data());
        const auto* y = reinterpret_cast<const sockaddr_in*>(b.data());
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    case AF_INET6: {
        const auto* x = reinterpret_cast<const sockaddr_in6*>(a.data());
        const auto* y = reinterpret_cast<const sockaddr_in6*>(b.data());
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    default:
        return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
    }
}

}  // namespace sockserv
