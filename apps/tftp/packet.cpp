#include "packet.hpp"

#include <sockserv/base/text.hpp>


namespace tftp {

namespace {

std::uint16_t read16(std::string_view bytes, std::size_t at) {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[at]) << 8) | static_cast<unsigned char>(bytes[at + 1]));
}

void put16(std::string& out, std::uint16_t value) {
    out.push_back(static_cast<char>(value >> 8));
    out.push_back(static_cast<char>(value & 0xFF));
}

// Splits NUL-terminated strings; false if the last one is not terminated.
bool split_strings(std::string_view bytes, std::vector<std::string_view>& out) {
    while (!bytes.empty()) {
        const auto nul = bytes.find('\0');
        if (nul == std::string_view::npos) return false;
        out.push_back(bytes.substr(0, nul));
        bytes.remove_prefix(nul + 1);
    }
    return true;
}

Packet parse_options(std::string_view body, Options& options) {
    std::vector<std::string_view> strings;
    if (!split_strings(body, strings)) return Malformed{"option not NUL-terminated"};
    // A trailing unpaired name is ignored (some clients pad), as are empty names.
    for (std::size_t i = 0; i + 1 < strings.size(); i += 2) {
        if (strings[i].empty()) continue;
        options.emplace_back(sockserv::ascii_lower(strings[i]), std::string(strings[i + 1]));
    }
    return Request{};
}

}  // namespace

Packet parse(std::string_view datagram) {
    if (datagram.size() < 2) return Malformed{"packet too short"};
    const std::uint16_t opcode = read16(datagram, 0);
    const std::string_view body = datagram.substr(2);
    switch (opcode) {
    case 1:
    case 2: {
        Request request;
        request.write = opcode == 2;
        const auto name_end = body.find('\0');
        if (name_end == std::string_view::npos) return Malformed{"filename not NUL-terminated"};
        const auto mode_end = body.find('\0', name_end + 1);
        if (mode_end == std::string_view::npos) return Malformed{"mode not NUL-terminated"};
        request.filename = std::string(body.substr(0, name_end));
        request.mode = std::string(body.substr(name_end + 1, mode_end - name_end - 1));
        if (request.filename.empty()) return Malformed{"empty filename"};
        if (request.mode.empty()) return Malformed{"empty mode"};
        const Packet options = parse_options(body.substr(mode_end + 1), request.options);
        if (std::holds_alternative<Malformed>(options)) return options;
        return request;
    }
    case 3:
        if (body.size() < 2) return Malformed{"DATA without a block number"};
        return Data{read16(body, 0), body.substr(2)};
    case 4:
        if (body.size() != 2) return Malformed{"ACK of the wrong length"};
        return Ack{read16(body, 0)};
    case 5: {
        if (body.size() < 2) return Malformed{"ERROR without a code"};
        std::string_view message = body.substr(2);
        if (const auto nul = message.find('\0'); nul != std::string_view::npos) message = message.substr(0, nul);
        return Error{read16(body, 0), std::string(message)};  // an unterminated message is tolerated
    }
    case 6: {
        OptionAck ack;
        const Packet options = parse_options(body, ack.options);
        if (std::holds_alternative<Malformed>(options)) return options;
        return ack;
    }
    default: return Malformed{"unknown opcode " + std::to_string(opcode)};
    }
}

std::string encode_request(const Request& request) {
    std::string out;
    put16(out, request.write ? 2 : 1);
    out.append(request.filename).push_back('\0');
    out.append(request.mode).push_back('\0');
    for (const auto& [name, value] : request.options) out.append(name).append(1, '\0').append(value).append(1, '\0');
    return out;
}

std::string encode_data(std::uint16_t block, std::string_view payload) {
    std::string out;
    out.reserve(4 + payload.size());
    put16(out, 3);
    put16(out, block);
    out.append(payload);
    return out;
}

std::string encode_ack(std::uint16_t block) {
    std::string out;
    put16(out, 4);
    put16(out, block);
    return out;
}

std::string encode_error(std::uint16_t code, std::string_view message) {
    std::string out;
    put16(out, 5);
    put16(out, code);
    out.append(message.substr(0, 400)).push_back('\0');
    return out;
}

std::string encode_oack(const Options& options) {
    std::string out;
    put16(out, 6);
    for (const auto& [name, value] : options) out.append(name).append(1, '\0').append(value).append(1, '\0');
    return out;
}

bool is_netascii(std::string_view mode) noexcept { return sockserv::ascii_iequal(mode, "netascii"); }

bool is_supported_mode(std::string_view mode) noexcept { return is_netascii(mode) || sockserv::ascii_iequal(mode, "octet"); }

std::string describe(const Request& request) {
    std::string out = std::string(request.write ? "WRQ" : "RRQ") + " \"" +
                      sockserv::escape_control_characters(request.filename) + "\" " +
                      sockserv::escape_control_characters(request.mode);
    for (const auto& [name, value] : request.options)
        out.append(" ").append(sockserv::escape_control_characters(name)).append("=").append(
            sockserv::escape_control_characters(value.substr(0, 32)));
    return out;
}

}  // namespace tftp
