#pragma once
// The PROXY protocol header (HAProxy's doc/proxy-protocol.txt), versions 1 and 2: what a load
// balancer puts in front of a connection's own bytes to say whom the connection is really from.
// A pure parser over a bounded buffer: it never asks for a byte past the header, so a reader can
// take exactly the header and leave the stream's own bytes where they are.
//
//   v1  "PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n"   text, at most 107 bytes
//       "PROXY UNKNOWN ...\r\n"                               the connection's own addresses stand
//   v2  "\r\n\r\n\0\r\nQUIT\n" ver/cmd fam len(2, big-endian) addresses [TLVs]   binary
//       LOCAL (health checks): the connection's own addresses stand; TLVs are skipped

#include <sockserv/base/address.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace sockserv::proxy {

/// What a header said.
struct Header {
    /// 1 or 2.
    int version = 0;
    /// The header's own bytes: what to consume before the stream's.
    std::size_t size = 0;
    /// False: LOCAL (v2), UNKNOWN (v1) or an unspecified family: the connection's own addresses
    /// stand. True: source and destination are the client's and the one it connected to.
    bool proxied = false;
    Address source;
    Address destination;
};

enum class Status {
    complete,   ///< header holds it; size bytes are the header
    need_more,  ///< a prefix of a valid header: read more (up to max_size in all)
    invalid,    ///< not a PROXY header, or a malformed one: error says why
};

struct Parsed {
    Status status = Status::need_more;
    Header header;
    std::string error;
};

/// v1's limit (107) and the most a v2 header may take here: its 16 fixed bytes and up to 2,032
/// bytes of addresses and TLVs (HAProxy sends well under that; a larger one is refused).
inline constexpr std::size_t max_v1_size = 107;
inline constexpr std::size_t max_size = 2048;

/// Parses the header at the start of bytes (what was read so far). Looks at no byte past the
/// header's end, and decides invalid as soon as the bytes cannot begin a header.
Parsed parse(std::string_view bytes);

}  // namespace sockserv::proxy
