#pragma once
// Reading a request's head (request line and header fields): where it ends and whether it is
// within limits, then its syntax. Pure functions over bytes, so every malformed, truncated and
// oversized case is tested without a socket.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace http_app {

struct HeadLimits {
    /// Request line, CRLF excluded. Longer: 414 (Apache's and nginx's 8 KiB).
    std::size_t request_line = 8190;
    /// One header line. Longer: 431.
    std::size_t header_line = 8190;
    /// Header fields (Python's 100). More: 431.
    std::size_t header_count = 100;
    /// The whole head. More: 431.
    std::size_t head = 64 * 1024;
};

/// The outcome of looking for the end of a head in the bytes received so far.
struct HeadScan {
    enum State {
        incomplete,
        complete,
        request_line_too_long,
        header_line_too_long,
        too_many_headers,
        head_too_large,
        /// The bytes so far cannot begin a request line (binary junk, a TLS ClientHello on the
        /// plain port): answered 400 at once instead of waiting for a line end that never comes.
        not_a_request,
    };
    State state = incomplete;
    /// complete: bytes of the head, through its blank line (empty lines before the request line
    /// included, RFC 9112 2.2).
    std::size_t size = 0;
};

/// Finds the blank line that ends the head. Lines may end in CRLF or a bare LF (RFC 9112 2.2
/// allows it, and `printf 'GET / HTTP/1.0\n\n' | nc` is how people test). Limits are checked as the
/// bytes come, so an endless request line is refused without waiting for its end.
HeadScan scan_head(std::string_view received, const HeadLimits& limits = {});

/// The fields the server acts on, copied out of the parser.
struct RequestHead {
    std::string method;
    std::string target;
    unsigned version = 11;  // 10 * major + minor
    bool keep_alive = true;
    std::optional<std::uint64_t> content_length;
    bool chunked = false;
    std::string if_modified_since, if_none_match, range, if_range;
    bool has_if_none_match = false;
    /// The request line as received, for the access log.
    std::string request_line;
};

/// A request the server answers with an error instead.
struct BadRequest {
    unsigned status;      // 400, 505
    std::string message;  // for the error page and log ("Bad request version ('HTTP/9.9')")
    std::string request_line;
};

/// What the syntax of a head says: the request, or the first thing wrong with it.
struct HeadSyntax {
    enum Error {
        none,
        bad_method,
        bad_target,
        bad_version,
        bad_framing,  // Content-Length and Transfer-Encoding (RFC 9112 6.3: request smuggling)
        bad_field,
        bad_syntax,   // anything else
    };
    Error error = none;
    RequestHead head;  // all but request_line
    std::size_t hosts = 0;
    /// A field value was continued on a line starting with whitespace (obs-fold), and unfolded.
    bool obs_fold = false;
};

/// The syntax of a head of CRLF lines, request line first (HTTP/1.0 or 1.1), through its blank
/// line. Boost.Beast's request parser reads heads the same way — its verdicts and fields, checked
/// by the http_head fuzzer against Beast itself — but is general (responses, bodies, a 4 KiB
/// buffer for obs-fold in its stack frame: a cold page per request at 10,000 connections); this
/// reads a request head in one pass and keeps only the fields the server acts on.
HeadSyntax parse_head_syntax(std::string_view head);

/// Parses a complete head (as scan_head() measured it), and refuses with 400 what the syntax lets
/// through but RFC 9112 does not: obs-fold (a field line starting with whitespace, 5.2), and an
/// HTTP/1.1 request without a Host field or any request with two (3.2). Bare LF line ends and
/// HTTP/1.x versions past 1.1 are read as CRLF and 1.1; another major version is a 505.
std::variant<RequestHead, BadRequest> parse_head(std::string_view head);

/// The first line of what was received, without its line end, at most `limit` bytes (for logging
/// a request that never parsed).
std::string_view first_line(std::string_view received, std::size_t limit = 1024);

}  // namespace http_app
