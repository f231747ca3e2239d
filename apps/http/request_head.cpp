#include "request_head.hpp"

#include <boost/beast/http/basic_parser.hpp>

#include <cctype>
#include <limits>

namespace http_app {

namespace http = boost::beast::http;

std::string_view first_line(std::string_view received, std::size_t limit) {
    while (received.starts_with("\r\n") || received.starts_with("\n"))
        received.remove_prefix(received.front() == '\r' ? 2 : 1);
    std::string_view line = received.substr(0, std::min(received.find('\n'), limit));
    if (line.ends_with('\r')) line.remove_suffix(1);
    return line;
}

namespace {

// RFC 9110 5.6.2: the characters of a token (a method is one).
bool is_token_char(unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// Whether `line` (a request line, or the start of one) can still become one: a token, then a
// space; and nowhere a control character or DEL (a target is visible characters; bytes of 0x80
// and above are let through, as Python does, for clients that send UTF-8 unencoded).
bool could_be_request_line(std::string_view line) {
    bool in_method = true;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const auto c = static_cast<unsigned char>(line[i]);
        if (c < 0x20 || c == 0x7f) return c == '\r' && i + 1 == line.size();  // CR only as the CRLF's start
        if (in_method && c == ' ') in_method = false;
        else if (in_method && !is_token_char(c)) return false;
    }
    return true;
}

}  // namespace

HeadScan scan_head(std::string_view received, const HeadLimits& limits) {
    std::size_t position = 0;
    // Empty lines before the request line are skipped (RFC 9112 2.2: "SHOULD ignore at least one").
    while (position < received.size() && (received[position] == '\n' || received.substr(position, 2) == "\r\n"))
        position += received[position] == '\n' ? 1 : 2;
    if (position > 64) return {HeadScan::head_too_large, 0};  // a stream of blank lines is not a request

    std::size_t lines = 0;
    for (;;) {
        const std::size_t limit = lines == 0 ? limits.request_line : limits.header_line;
        const auto newline = received.find('\n', position);
        const std::size_t end = newline == std::string_view::npos ? received.size() : newline;
        if (lines == 0 && !could_be_request_line(received.substr(position, end - position)))
            return {HeadScan::not_a_request, 0};
        std::size_t length = end - position;
        if (newline != std::string_view::npos && length > 0 && received[end - 1] == '\r') --length;
        // Unterminated bytes count against the limit too (minus a CR that may start the CRLF).
        if (newline == std::string_view::npos && length > 0 && received.back() == '\r') --length;
        if (length > limit) {
            if (lines == 0) return {HeadScan::request_line_too_long, 0};
            return {HeadScan::header_line_too_long, 0};
        }
        if (newline == std::string_view::npos) {
            if (received.size() > limits.head) return {HeadScan::head_too_large, 0};
            return {HeadScan::incomplete, 0};
        }
        position = newline + 1;
        if (position > limits.head) return {HeadScan::head_too_large, 0};
        if (length == 0 && lines > 0) return {HeadScan::complete, position};
        if (length == 0) continue;  // only reachable for a bare "\r\n" after the skipped ones
        if (++lines > limits.header_count + 1) return {HeadScan::too_many_headers, 0};
    }
}

namespace {

// Beast wants CRLF line ends; the scan accepted bare LF too. Rewrite only when needed.
std::string with_crlf(std::string_view head) {
    std::string out;
    out.reserve(head.size() + 16);
    for (std::size_t i = 0; i < head.size(); ++i) {
        if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) out.push_back('\r');
        out.push_back(head[i]);
    }
    return out;
}

bool has_bare_lf(std::string_view head) {
    for (std::size_t at = head.find('\n'); at != std::string_view::npos; at = head.find('\n', at + 1))
        if (at == 0 || head[at - 1] != '\r') return true;
    return false;
}

// Beast's request parser, minus the header container: its checks, and only the fields the server
// acts on, copied out as they come. (http::request_parser stored every field in a basic_fields, an
// allocation each, for a server that reads five of them: 3% of a keep-alive request's CPU.)
class HeadParser final : public http::basic_parser<true> {
public:
    RequestHead head;
    std::size_t hosts = 0;

private:
    using string_view = boost::beast::string_view;
    using error_code = boost::beast::error_code;

    // The first of each, as basic_fields::find gave it.
    static void keep_first(std::string& kept, bool& seen, string_view value) {
        if (seen) return;
        seen = true;
        kept.assign(value.data(), value.size());
    }

    void on_request_impl(http::verb, string_view method, string_view target, int version, error_code&) override {
        head.method.assign(method.data(), method.size());
        head.target.assign(target.data(), target.size());
        head.version = static_cast<unsigned>(version);
    }
    void on_response_impl(int, string_view, int, error_code&) override {}
    void on_field_impl(http::field name, string_view, string_view value, error_code&) override {
        switch (name) {
        case http::field::host: ++hosts; break;
        case http::field::if_modified_since: keep_first(head.if_modified_since, seen_if_modified_since_, value); break;
        case http::field::if_none_match: keep_first(head.if_none_match, head.has_if_none_match, value); break;
        case http::field::range: keep_first(head.range, seen_range_, value); break;
        case http::field::if_range: keep_first(head.if_range, seen_if_range_, value); break;
        default: break;
        }
    }
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
    std::size_t on_body_impl(string_view body, error_code&) override { return body.size(); }
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override { return body.size(); }
    void on_finish_impl(error_code&) override {}

    bool seen_if_modified_since_ = false, seen_range_ = false, seen_if_range_ = false;
};

}  // namespace

std::variant<RequestHead, BadRequest> parse_head(std::string_view head) {
    const std::string_view line = first_line(head, std::numeric_limits<std::size_t>::max());
    std::string rewritten;
    if (has_bare_lf(head)) {
        rewritten = with_crlf(head);
        head = rewritten;
    }
    while (head.starts_with("\r\n")) head.remove_prefix(2);

    // Beast knows HTTP/1.0 and 1.1 only. Another major version is a 505 (Python's answer); a newer
    // 1.x is answered as 1.1 (RFC 9110 2.5), so its version is read as 1.1.
    const std::size_t line_end = head.find("\r\n");
    const std::size_t space = head.substr(0, line_end).rfind(' ');
    if (space != std::string_view::npos && line_end - space == 9 && head.substr(space + 1, 5) == "HTTP/" &&
        std::isdigit(static_cast<unsigned char>(head[space + 6])) && head[space + 7] == '.' &&
        std::isdigit(static_cast<unsigned char>(head[space + 8]))) {
        const char major = head[space + 6], minor = head[space + 8];
        if (major != '1')
            return BadRequest{505, std::string("Invalid HTTP version (") + major + "." + minor + ")", std::string(line)};
        if (minor > '1') {
            if (rewritten.empty()) rewritten.assign(head);
            else rewritten.erase(0, rewritten.size() - head.size());
            rewritten[space + 8] = '1';
            head = rewritten;
        }
    }

    HeadParser parser;
    parser.eager(false);
    parser.header_limit(static_cast<std::uint32_t>(head.size() + 1));
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    boost::beast::error_code error;
    parser.put(boost::asio::buffer(head.data(), head.size()), error);
    if (!error && !parser.is_header_done()) error = http::error::partial_message;
    if (error) {
        std::string message = "Bad request syntax";
        if (error == http::error::bad_version) {
            message = "Bad request version";
        } else if (error == http::error::bad_method) {
            message = "Bad request method";
        } else if (error == http::error::bad_target) {
            message = "Bad request target";
        } else if (error == http::error::bad_content_length || error == http::error::bad_transfer_encoding) {
            message = "Bad message framing";
        } else if (error == http::error::bad_field || error == http::error::bad_value ||
                   error == http::error::bad_line_ending) {
            message = "Bad header field";
        }
        return BadRequest{400, message + " ('" + std::string(line.substr(0, 200)) + "')", std::string(line)};
    }

    // Beast unfolds obs-fold into the field's value; RFC 9112 5.2 lets a server refuse it, and a
    // proxy in front may have read the fold differently (request smuggling): refused.
    for (std::size_t at = head.find("\r\n"); at != std::string_view::npos && at + 2 < head.size();
         at = head.find("\r\n", at + 2)) {
        if (head[at + 2] == ' ' || head[at + 2] == '\t')
            return BadRequest{400, "Bad header field (obs-fold) ('" + std::string(line.substr(0, 200)) + "')",
                              std::string(line)};
    }
    const std::size_t hosts = parser.hosts;
    if (hosts > 1 || (hosts == 0 && parser.head.version >= 11))
        return BadRequest{400, std::string(hosts > 1 ? "Bad request: more than one Host field" : "Bad request: no Host field") +
                                   " ('" + std::string(line.substr(0, 200)) + "')",
                          std::string(line)};
    RequestHead& out = parser.head;
    out.request_line = std::string(line);
    out.keep_alive = parser.keep_alive();
    if (const auto length = parser.content_length()) out.content_length = *length;
    out.chunked = parser.chunked();
    return std::move(out);
}

}  // namespace http_app
