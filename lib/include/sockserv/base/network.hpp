#pragma once
// Network: an IPv4 or IPv6 network in CIDR notation ("10.0.0.0/8", "::1/128", "192.0.2.7"), and
// whether an address lies in it: who may send a PROXY protocol header, say.

#include <sockserv/base/address.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sockserv {

class Network {
public:
    /// "ADDRESS/BITS" or a lone address (all its bits). Numeric only, never looked up. Throws
    /// std::invalid_argument naming the text.
    static Network parse(std::string_view text);
    /// A comma-separated list of them.
    static std::vector<Network> parse_list(std::string_view text);
    /// 127.0.0.0/8 and ::1/128.
    static std::vector<Network> loopback();

    /// An IPv4 address in an IPv4 network, an IPv6 one in an IPv6 network (an IPv4-mapped IPv6
    /// address, ::ffff:a.b.c.d, counts as the IPv4 one).
    bool contains(const Address& address) const noexcept;
    std::string to_string() const;

private:
    int family_ = 0;
    std::array<std::uint8_t, 16> bytes_{};
    unsigned bits_ = 0;
};

}  // namespace sockserv
