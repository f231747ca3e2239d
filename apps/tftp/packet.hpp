#pragma once
// TFTP packets (RFC 1350, options RFC 2347): pure encode and decode, so every malformed case is
// tested without a socket.
//
//   RRQ/WRQ  | 01/02 | filename | 0 | mode | 0 | opt1 | 0 | value1 | 0 | ...
//   DATA     | 03 | block | payload (0..blksize bytes)
//   ACK      | 04 | block
//   ERROR    | 05 | code | message | 0
//   OACK     | 06 | opt1 | 0 | value1 | 0 | ...

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tftp {

enum class Opcode : std::uint16_t { rrq = 1, wrq = 2, data = 3, ack = 4, error = 5, oack = 6 };

/// RFC 1350 error codes (8: RFC 2347's option refusal).
enum ErrorCode : std::uint16_t {
    not_defined = 0,
    file_not_found = 1,
    access_violation = 2,
    disk_full = 3,
    illegal_operation = 4,
    unknown_transfer_id = 5,
    file_exists = 6,
    no_such_user = 7,
    option_refused = 8,
};

/// A failure to report to the peer as ERROR `code` (thrown by a transfer's source or sink, by the
/// file policy, and by the TCP service).
struct ProtocolError : std::runtime_error {
    ProtocolError(std::uint16_t error_code, const std::string& message)
        : std::runtime_error(message), code(error_code) {}
    std::uint16_t code;
};

using Options = std::vector<std::pair<std::string, std::string>>;

struct Request {
    bool write = false;  // WRQ, else RRQ
    std::string filename;
    std::string mode;     // as sent; compare case-insensitively
    Options options;      // names lower-cased, in the order sent; values as sent
};
struct Data {
    std::uint16_t block = 0;
    std::string_view payload;  // points into the parsed datagram
};
struct Ack {
    std::uint16_t block = 0;
};
struct Error {
    std::uint16_t code = 0;
    std::string message;
};
struct OptionAck {
    Options options;
};
/// Not a TFTP packet: what is wrong with it, for the ERROR 4 reply.
struct Malformed {
    std::string reason;
};

using Packet = std::variant<Request, Data, Ack, Error, OptionAck, Malformed>;

/// Decodes one datagram. Never throws; anything that is not a well-formed packet is Malformed.
Packet parse(std::string_view datagram);

std::string encode_request(const Request& request);
std::string encode_data(std::uint16_t block, std::string_view payload);
std::string encode_ack(std::uint16_t block);
std::string encode_error(std::uint16_t code, std::string_view message);
std::string encode_oack(const Options& options);

/// "octet" or "netascii" (any case); the obsolete "mail" and anything else are not.
bool is_supported_mode(std::string_view mode) noexcept;
bool is_netascii(std::string_view mode) noexcept;

/// A request as the log shows it: `RRQ "name" octet blksize=1428`, control characters escaped.
std::string describe(const Request& request);

}  // namespace tftp
