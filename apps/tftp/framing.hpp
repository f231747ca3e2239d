#pragma once
// The list/get/put service's framing over TCP: every message starts with a fixed 12-byte header,
// packed and unpacked byte by byte in network order, so messages never run together on the stream
// and no struct layout or host byte order leaks onto the wire:
//
//   0      1      2      4                      12
//   | ver  | type | code | length (u64)         | body (length bytes)
//
// Conversation (the client speaks first, several commands per connection):
//   LIST                      -> LISTING  body: "SIZE NAME\n" per regular file
//   GET   body: name          -> FILE     body: the file's bytes        | ERROR
//   PUT   body: u64 size, name -> READY, then the client sends `size` raw bytes -> DONE | ERROR
//   anything malformed        -> ERROR (code 4) and the connection is closed
// ERROR: code = a TFTP error code, body = the message.

#include <sockserv/io/stream.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace tftp::framing {

constexpr std::uint8_t version = 1;
constexpr std::size_t header_size = 12;
/// Bodies of everything but FILE and the bytes after READY.
constexpr std::uint64_t max_control_body = 64 * 1024;

enum class Type : std::uint8_t { list = 1, get = 2, put = 3, listing = 4, file = 5, ready = 6, done = 7, error = 8 };

struct Header {
    Type type = Type::error;
    std::uint16_t code = 0;
    std::uint64_t length = 0;
};

std::string encode(const Header& header);
/// A message with a small body.
std::string message(Type type, std::string_view body = {}, std::uint16_t code = 0);
/// Exactly header_size bytes in; the header, or what is wrong with it (bad version, unknown type).
std::variant<Header, std::string> decode(std::string_view bytes);

/// PUT's body: the size of what follows READY, then the name.
std::string put_body(std::uint64_t size, std::string_view name);
/// Splits a PUT body; nullopt when it is too short.
std::optional<std::pair<std::uint64_t, std::string>> parse_put(std::string_view body);

/// Reads one header from a stream: nullopt at a clean EOF between messages; throws
/// std::runtime_error for EOF inside a header.
std::optional<std::variant<Header, std::string>> read_header(sockserv::SocketReader& in);

}  // namespace tftp::framing
