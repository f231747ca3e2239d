#pragma once
// Range: bytes=... (RFC 9110 14.2), one range at a time.

#include <cstdint>
#include <string_view>
#include <variant>

namespace http_app {

/// Serve the whole file: no Range, a unit other than bytes, a syntax error, or several ranges
/// (a server may ignore Range, RFC 9110 14.2; multipart/byteranges is not worth its weight here).
struct WholeFile {};
/// Bytes first..last, both included, inside the file.
struct ByteRange {
    std::uint64_t first;
    std::uint64_t last;
    std::uint64_t length() const noexcept { return last - first + 1; }
    friend bool operator==(const ByteRange&, const ByteRange&) = default;
};
/// Well-formed but outside the file: 416 with Content-Range: bytes */SIZE.
struct Unsatisfiable {};

using RangeRequest = std::variant<WholeFile, ByteRange, Unsatisfiable>;

/// "bytes=0-99", "bytes=500-", "bytes=-200" against a file of `size` bytes. The end is clamped to
/// the file; a suffix longer than the file is the whole file as a 206.
RangeRequest parse_range(std::string_view header, std::uint64_t size);

}  // namespace http_app
