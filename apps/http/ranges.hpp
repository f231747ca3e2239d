#pragma once
// Range: bytes=... (RFC 9110 14.2): one range, or several (multipart/byteranges).

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

namespace http_app {

/// Serve the whole file: no Range, a unit other than bytes, a syntax error anywhere in the set,
/// or more than max_ranges ranges (a server may ignore Range, RFC 9110 14.2).
struct WholeFile {};
/// Bytes first..last, both included, inside the file.
struct ByteRange {
    std::uint64_t first;
    std::uint64_t last;
    std::uint64_t length() const noexcept { return last - first + 1; }
    friend bool operator==(const ByteRange&, const ByteRange&) = default;
};
/// Two or more ranges, in file order, none overlapping or touching another (those are coalesced,
/// as RFC 9110 14.2 suggests): 206 with multipart/byteranges, one part each.
struct ByteRanges {
    std::vector<ByteRange> parts;
};
/// Well-formed but no range inside the file: 416 with Content-Range: bytes */SIZE.
struct Unsatisfiable {};

using RangeRequest = std::variant<WholeFile, ByteRange, ByteRanges, Unsatisfiable>;

/// More ranges than this in one header and the header is ignored (the whole file, 200): a client
/// asking for hundreds of ranges is not a download manager but an attempt to make the server do
/// hundreds of small sends per request (Apache's CVE-2011-3192); a 200 serves whoever really
/// wanted the bytes, where a 416 would fail them. Apache's MaxRanges is 200.
inline constexpr std::size_t max_ranges = 100;

/// "bytes=0-99", "bytes=500-", "bytes=-200", and lists of them ("bytes=0-0,5-9") against a file
/// of `size` bytes. An end is clamped to the file; a suffix longer than the file is the whole file
/// as a 206; ranges outside the file are dropped from a list.
RangeRequest parse_range(std::string_view header, std::uint64_t size);

}  // namespace http_app
