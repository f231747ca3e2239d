#include <sockserv/base/network.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <stdexcept>

namespace sockserv {

Network Network::parse(std::string_view text) {
    const auto bad = [&](const char* why) {
        std::string message = "'";
        message.append(text).append("' is not a network (").append(why).append(")");
        return std::invalid_argument(message);
    };
    const std::size_t slash = text.find('/');
    const std::string host(text.substr(0, slash));
    Network network;
    if (::inet_pton(AF_INET, host.c_str(), network.bytes_.data()) == 1) network.family_ = AF_INET;
    else if (::inet_pton(AF_INET6, host.c_str(), network.bytes_.data()) == 1) network.family_ = AF_INET6;
    else throw bad("expected a numeric IPv4 or IPv6 address, then /BITS");
    const unsigned most = network.family_ == AF_INET ? 32 : 128;
    network.bits_ = most;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3) throw bad("bad prefix length");
        unsigned bits = 0;
        for (const char c : digits) {
            if (c < '0' || c > '9') throw bad("bad prefix length");
            bits = bits * 10 + static_cast<unsigned>(c - '0');
        }
        if (bits > most) throw bad("prefix longer than the address");
        network.bits_ = bits;
    }
    return network;
}

std::vector<Network> Network::parse_list(std::string_view text) {
    std::vector<Network> networks;
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        networks.push_back(parse(text.substr(0, comma)));
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    if (networks.empty()) throw std::invalid_argument("an empty list of networks");
    return networks;
}

std::vector<Network> Network::loopback() { return {parse("127.0.0.0/8"), parse("::1/128")}; }

bool Network::contains(const Address& address) const noexcept {
    const std::uint8_t* bytes = nullptr;
    if (address.family() == AF_INET) {
        if (family_ != AF_INET) return false;
        bytes = reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(address.data())->sin_addr);
    } else if (address.family() == AF_INET6) {
        const auto* in6 = &reinterpret_cast<const sockaddr_in6*>(address.data())->sin6_addr;
        bytes = reinterpret_cast<const std::uint8_t*>(in6);
        if (family_ == AF_INET) {
            if (!IN6_IS_ADDR_V4MAPPED(in6)) return false;
            bytes += 12;
        }
    } else {
        return false;
    }
    const unsigned whole = bits_ / 8, rest = bits_ % 8;
    if (std::memcmp(bytes, bytes_.data(), whole) != 0) return false;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (bytes[whole] & mask) == (bytes_[whole] & mask);
}

std::string Network::to_string() const {
    char text[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(family_, bytes_.data(), text, sizeof text);
    return std::string(text) + "/" + std::to_string(bits_);
}

}  // namespace sockserv
