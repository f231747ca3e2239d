#pragma once
// Address: an IPv4, IPv6 or Unix socket address, with its length, as the kernel wants it.

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sockserv {

class Address {
public:
    /// An empty address (family AF_UNSPEC).
    Address() noexcept;
    /// host:port. host is a numeric IPv4/IPv6 address or a name resolved forward (never reverse).
    /// "" means every IPv4 interface (as in Python), "::" every IPv6 one. Throws std::system_error
    /// ("resolve nohost: Name or service not known").
    Address(std::string_view host, std::uint16_t port);
    /// Copies a kernel-filled address.
    Address(const sockaddr* addr, socklen_t len);

    /// A Unix socket path (filesystem, or abstract when it starts with '\0'). Throws when too long.
    static Address unix_path(std::string_view path);
    /// "host:port", "[v6]:port" or a path containing '/' (a Unix socket). Throws on bad input.
    static Address parse(std::string_view text);

    int family() const noexcept { return storage_.ss_family; }
    bool is_inet() const noexcept { return family() == AF_INET || family() == AF_INET6; }
    bool is_unix() const noexcept { return family() == AF_UNIX; }
    /// Numeric host ("127.0.0.1", "::1") or the Unix path.
    std::string host() const;
    /// 0 for Unix addresses.
    std::uint16_t port() const noexcept;
    std::string path() const { return is_unix() ? host() : std::string{}; }
    /// "127.0.0.1:8000", "[::1]:8000", "/run/x.sock"; what log lines and error messages print.
    std::string to_string() const;

    const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
    sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
    socklen_t size() const noexcept { return size_; }
    /// For calls that fill the address in (accept, recvfrom): capacity in, actual length out.
    socklen_t* size_ptr() noexcept { return &size_; }
    static constexpr socklen_t capacity = sizeof(sockaddr_storage);

    friend bool operator==(const Address& a, const Address& b) noexcept;

private:
    sockaddr_storage storage_{};
    socklen_t size_ = 0;
};

}  // namespace sockserv
