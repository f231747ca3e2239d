// The TCP list/get/put service's stream as a client sends it, read through a real socket the way
// the file service reads it: header, body, PUT body, file name.

#include "files.hpp"
#include "framing.hpp"
#include "fuzz_check.hpp"

#include <sockserv/io/socket.hpp>
#include <sockserv/io/stream.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view stream(reinterpret_cast<const char*>(data), size);
    // The service's rules on one header at a time.
    if (size >= tftp::framing::header_size) {
        const auto decoded = tftp::framing::decode(stream.substr(0, tftp::framing::header_size));
        if (const auto* header = std::get_if<tftp::framing::Header>(&decoded))
            FUZZ_CHECK(tftp::framing::encode(*header) == stream.substr(0, tftp::framing::header_size));
    }
    if (const auto put = tftp::framing::parse_put(stream))
        FUZZ_CHECK(tftp::framing::put_body(put->first, put->second) == stream);

    // The whole stream through a socket pair (the harness's -max_len keeps it inside the socket
    // buffer, so one write and a shutdown deliver it all).
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return 0;
    sockserv::Socket server(sockserv::UniqueFd{pair[0]});
    const sockserv::UniqueFd client(pair[1]);
    for (std::size_t sent = 0; sent < size;) {
        const ssize_t n = ::send(client.get(), data + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0) return 0;
        sent += static_cast<std::size_t>(n);
    }
    ::shutdown(client.get(), SHUT_WR);
    sockserv::SocketReader in(server);
    try {
        for (;;) {
            const auto next = tftp::framing::read_header(in);
            if (!next || std::holds_alternative<std::string>(*next)) break;
            const auto header = std::get<tftp::framing::Header>(*next);
            if (header.length > tftp::framing::max_control_body) break;
            std::string body;
            if (!in.read_exact(body, static_cast<std::size_t>(header.length))) break;
            FUZZ_CHECK(body.size() == header.length);
            if (header.type == tftp::framing::Type::get) (void)tftp::name_problem(body);
            if (header.type == tftp::framing::Type::put)
                if (const auto put = tftp::framing::parse_put(body)) (void)tftp::name_problem(put->second);
        }
    } catch (const std::runtime_error&) {
        // "connection closed inside a message header": the service's answer to a cut stream.
    }
    return 0;
}
