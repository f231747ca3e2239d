#include "framing.hpp"

#include <stdexcept>

namespace tftp::framing {

namespace {
void put(std::string& out, std::uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}
std::uint64_t get(std::string_view in, std::size_t at, int bytes) {
    std::uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
    return value;
}
}  // namespace

std::string encode(const Header& header) {
    std::string out;
    out.reserve(header_size);
    put(out, version, 1);
    put(out, static_cast<std::uint8_t>(header.type), 1);
    put(out, header.code, 2);
    put(out, header.length, 8);
    return out;
}

std::string message(Type type, std::string_view body, std::uint16_t code) {
    std::string out = encode({type, code, body.size()});
    out.append(body);
    return out;
}

std::variant<Header, std::string> decode(std::string_view bytes) {
    if (bytes.size() != header_size) return std::string("short header");
    if (static_cast<std::uint8_t>(bytes[0]) != version)
        return "unsupported protocol version " + std::to_string(static_cast<unsigned char>(bytes[0]));
    const auto type = static_cast<std::uint8_t>(bytes[1]);
    if (type < 1 || type > 8) return "unknown message type " + std::to_string(type);
    Header header;
    header.type = static_cast<Type>(type);
    header.code = static_cast<std::uint16_t>(get(bytes, 2, 2));
    header.length = get(bytes, 4, 8);
    return header;
}

std::string put_body(std::uint64_t size, std::string_view name) {
    std::string out;
    put(out, size, 8);
    out.append(name);
    return out;
}

std::optional<std::pair<std::uint64_t, std::string>> parse_put(std::string_view body) {
    if (body.size() < 8) return std::nullopt;
    return std::make_pair(get(body, 0, 8), std::string(body.substr(8)));
}

std::optional<std::variant<Header, std::string>> read_header(sockserv::SocketReader& in) {
    std::string bytes;
    if (!in.read_exact(bytes, header_size)) {
        if (bytes.empty()) return std::nullopt;
        throw std::runtime_error("connection closed inside a message header");
    }
    return decode(bytes);
}

}  // namespace tftp::framing
