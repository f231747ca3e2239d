#include "request_head.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

namespace http_app {

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

// The syntax wants CRLF line ends; the scan accepted bare LF too. Rewrite only when needed.
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

// RFC 9110 5.6.2's tchar, as a table: the parser asks for every byte of a method and a name.
constexpr std::array<bool, 256> token_table = [] {
    std::array<bool, 256> table{};
    for (const char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
    for (int c = '0'; c <= '9'; ++c) table[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) table[c] = table[c - 'a' + 'A'] = true;
    return table;
}();
bool is_token(char c) { return token_table[static_cast<unsigned char>(c)]; }

// A request target's bytes: visible ASCII and obs-text (bytes from 0x80), no space or control.
bool is_target_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// `name` equals `lower` (lower case) but for ASCII case.
bool is_named(std::string_view name, std::string_view lower) {
    if (name.size() != lower.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i] >= 'A' && name[i] <= 'Z' ? static_cast<char>(name[i] + ('a' - 'A')) : name[i];
        if (c != lower[i]) return false;
    }
    return true;
}

// A field's comma-separated list of tokens (RFC 9110 5.6.1), one token per next(): optional
// whitespace around commas and empty elements are allowed; a token right after another without a
// comma, or any other byte (';', a quote), is an error. (Beast's opt_token_list refuses the list
// then; its token_list, which Transfer-Encoding is read with, stops there as if at the end.)
class TokenList {
public:
    enum Step { token, end, error };
    explicit TokenList(std::string_view list) : list_(list) {}
    Step next(std::string_view& out) {
        bool need_comma = started_;
        started_ = true;
        for (;;) {
            while (at_ < list_.size() && (list_[at_] == ' ' || list_[at_] == '\t')) ++at_;
            if (at_ == list_.size()) return end;
            if (is_token(list_[at_])) {
                if (need_comma) return error;
                const std::size_t from = at_;
                while (at_ < list_.size() && is_token(list_[at_])) ++at_;
                out = list_.substr(from, at_ - from);
                return token;
            }
            if (list_[at_] != ',') return error;
            need_comma = false;
            ++at_;
        }
    }

private:
    std::string_view list_;
    std::size_t at_ = 0;
    bool started_ = false;
};

// A decimal with no sign, no space and no overflow.
bool parse_decimal(std::string_view digits, std::uint64_t& value) {
    if (digits.empty()) return false;
    std::uint64_t v = 0;
    for (const char c : digits) {
        if (!is_digit(c) || v > (std::numeric_limits<std::uint64_t>::max() - static_cast<unsigned>(c - '0')) / 10)
            return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    value = v;
    return true;
}

// One pass over the head, request line then fields, each error where Beast's would be found. The
// head is complete (it ends in its blank line), so no check here reads past the end.
class HeadSyntaxParser {
public:
    explicit HeadSyntaxParser(std::string_view head) : p_(head.data()), last_(head.data() + head.size()) {}

    HeadSyntax parse() {
        if (!request_line()) return std::move(out_);
        while (out_.error == HeadSyntax::none) {
            if (last_ - p_ < 2) return fail(HeadSyntax::bad_syntax);
            if (p_[0] == '\r') {
                if (p_[1] != '\n') fail(HeadSyntax::bad_field);  // a bare CR is no line end
                break;
            }
            field();
        }
        RequestHead& head = out_.head;
        head.keep_alive = head.version >= 11 ? !connection_close_ : connection_keep_alive_;
        return std::move(out_);
    }

private:
    HeadSyntax fail(HeadSyntax::Error error) {
        out_.error = error;
        return std::move(out_);
    }

    // method SP request-target SP HTTP-version CRLF (RFC 9112 3)
    bool request_line() {
        const char* first = p_;
        while (p_ < last_ && is_token(*p_)) ++p_;
        if (p_ == last_) return fail(HeadSyntax::bad_syntax), false;
        if (*p_ != ' ' || p_ == first) return fail(HeadSyntax::bad_method), false;
        out_.head.method.assign(first, p_);
        first = ++p_;
        while (p_ < last_ && is_target_char(*p_)) ++p_;
        if (p_ == last_) return fail(HeadSyntax::bad_syntax), false;
        if (*p_ != ' ' || p_ == first) return fail(HeadSyntax::bad_target), false;
        out_.head.target.assign(first, p_);
        ++p_;
        if (last_ - p_ < 8) return fail(HeadSyntax::bad_syntax), false;
        if (std::string_view(p_, 5) != "HTTP/" || !is_digit(p_[5]) || p_[6] != '.' || !is_digit(p_[7]))
            return fail(HeadSyntax::bad_version), false;
        const unsigned version = 10 * static_cast<unsigned>(p_[5] - '0') + static_cast<unsigned>(p_[7] - '0');
        p_ += 8;
        if (version < 10 || version > 11) return fail(HeadSyntax::bad_version), false;
        if (last_ - p_ < 2) return fail(HeadSyntax::bad_syntax), false;
        if (p_[0] != '\r' || p_[1] != '\n') return fail(HeadSyntax::bad_version), false;
        p_ += 2;
        out_.head.version = version;
        return true;
    }

    // The rest of a field line's value from p_, through its CRLF: where the value ends, trailing
    // whitespace excluded; nullptr (and the error set) if a control byte other than HTAB comes first.
    const char* value_line(const char* first) {
        for (; p_ < last_; ++p_) {
            const auto c = static_cast<unsigned char>(*p_);
            if ((c < 0x20 && c != '\t') || c == 0x7f) break;
        }
        if (p_ == last_) return fail(HeadSyntax::bad_syntax), nullptr;
        if (*p_ != '\r') return fail(HeadSyntax::bad_field), nullptr;  // a bare LF or another control
        if (last_ - p_ < 2) return fail(HeadSyntax::bad_syntax), nullptr;
        if (p_[1] != '\n') return fail(HeadSyntax::bad_field), nullptr;
        const char* end = p_;
        p_ += 2;
        while (end > first && (end[-1] == ' ' || end[-1] == '\t')) --end;
        return end;
    }

    void skip_whitespace() {
        while (p_ < last_ && (*p_ == ' ' || *p_ == '\t')) ++p_;
    }

    // field-name ":" OWS field-value OWS CRLF (RFC 9112 5), obs-fold unfolded with a space as
    // Beast does (parse_head refuses it after, but reports what else is wrong first, as before).
    void field() {
        const char* first = p_;
        while (p_ < last_ && *p_ != ':') {
            if (!is_token(*p_)) return void(fail(HeadSyntax::bad_field));
            ++p_;
        }
        if (p_ == last_) return void(fail(HeadSyntax::bad_syntax));
        if (p_ == first) return void(fail(HeadSyntax::bad_field));
        const std::string_view name(first, static_cast<std::size_t>(p_ - first));
        ++p_;
        std::string_view value;
        for (;;) {
            skip_whitespace();
            first = p_;
            const char* end = value_line(first);
            if (!end) return;
            if (p_ == last_) return void(fail(HeadSyntax::bad_syntax));
            if (*p_ != ' ' && *p_ != '\t') {
                value = {first, static_cast<std::size_t>(end - first)};
                break;
            }
            ++p_;
            out_.obs_fold = true;
            if (end == first) continue;  // an empty first line: the fold starts the value
            // Beast unfolds into a 4 KiB buffer; a longer folded value is refused.
            if (end - first > 4096) return void(fail(HeadSyntax::bad_syntax));
            folded_.assign(first, end);
            for (;;) {
                skip_whitespace();
                first = p_;
                end = value_line(first);
                if (!end) return;
                if (p_ == last_) return void(fail(HeadSyntax::bad_syntax));
                if (end != first) {
                    if (folded_.size() + 1 + static_cast<std::size_t>(end - first) > 4096)
                        return void(fail(HeadSyntax::bad_syntax));
                    folded_.push_back(' ');
                    folded_.append(first, end);
                }
                if (*p_ != ' ' && *p_ != '\t') break;
                ++p_;
            }
            value = folded_;
            break;
        }
        act_on(name, value);
    }

    static void keep_first(std::string& kept, bool& seen, std::string_view value) {
        if (seen) return;
        seen = true;
        kept.assign(value);
    }

    void act_on(std::string_view name, std::string_view value) {
        RequestHead& head = out_.head;
        switch (name.size()) {
        case 4:
            if (is_named(name, "host")) ++out_.hosts;
            break;
        case 5:
            if (is_named(name, "range")) keep_first(head.range, seen_range_, value);
            break;
        case 8:
            if (is_named(name, "if-range")) keep_first(head.if_range, seen_if_range_, value);
            break;
        case 10:
            if (is_named(name, "connection")) connection(value);
            break;
        case 13:
            if (is_named(name, "if-none-match")) keep_first(head.if_none_match, head.has_if_none_match, value);
            break;
        case 14:
            if (is_named(name, "content-length")) content_length(value);
            break;
        case 16:
            if (is_named(name, "proxy-connection")) connection(value);
            break;
        case 17:
            if (is_named(name, "transfer-encoding")) transfer_encoding(value);
            else if (is_named(name, "if-modified-since")) keep_first(head.if_modified_since, seen_if_modified_since_, value);
            break;
        default:
            break;
        }
    }

    // Connection (RFC 9110 7.6.1): a list of tokens, checked whole before any is taken.
    void connection(std::string_view value) {
        TokenList check(value);
        std::string_view token;
        TokenList::Step step;
        while ((step = check.next(token)) == TokenList::token) {}
        if (step == TokenList::error) return void(fail(HeadSyntax::bad_field));
        TokenList list(value);
        while (list.next(token) == TokenList::token) {
            if (is_named(token, "close")) connection_close_ = true;
            else if (is_named(token, "keep-alive")) connection_keep_alive_ = true;
        }
    }

    // Content-Length (RFC 9110 8.6): one decimal, or a list of the same one; never beside chunked.
    void content_length(std::string_view value) {
        if (out_.head.chunked) return void(fail(HeadSyntax::bad_framing));
        std::size_t elements = 1 + static_cast<std::size_t>(std::count(value.begin(), value.end(), ','));
        TokenList list(value);
        std::string_view token;
        TokenList::Step step = list.next(token);
        if (step != TokenList::token) return void(fail(HeadSyntax::bad_framing));
        for (; step == TokenList::token; step = list.next(token)) {
            std::uint64_t length;
            if (!parse_decimal(token, length)) return void(fail(HeadSyntax::bad_framing));
            --elements;
            if (has_length_ && length != *out_.head.content_length) return void(fail(HeadSyntax::bad_framing));
            out_.head.content_length = length;
            has_length_ = true;
        }
        if (step == TokenList::error || elements != 0) return void(fail(HeadSyntax::bad_framing));
    }

    // Transfer-Encoding (RFC 9112 6.1): chunked only as the last coding; never twice, never beside
    // Content-Length.
    void transfer_encoding(std::string_view value) {
        if (out_.head.chunked || has_length_) return void(fail(HeadSyntax::bad_framing));
        TokenList list(value);
        std::string_view token;
        bool chunked_seen = false, chunked_last = false;
        while (list.next(token) == TokenList::token) {
            if (chunked_seen) {
                chunked_last = false;
                break;
            }
            if (is_named(token, "chunked")) chunked_seen = chunked_last = true;
        }
        out_.head.chunked = chunked_last;
    }

    const char* p_;
    const char* const last_;
    HeadSyntax out_;
    std::string folded_;
    bool has_length_ = false;
    bool connection_close_ = false, connection_keep_alive_ = false;
    bool seen_if_modified_since_ = false, seen_range_ = false, seen_if_range_ = false;
};

}  // namespace

HeadSyntax parse_head_syntax(std::string_view head) { return HeadSyntaxParser(head).parse(); }

std::variant<RequestHead, BadRequest> parse_head(std::string_view head) {
    const std::string_view line = first_line(head, std::numeric_limits<std::size_t>::max());
    std::string rewritten;
    if (has_bare_lf(head)) {
        rewritten = with_crlf(head);
        head = rewritten;
    }
    while (head.starts_with("\r\n")) head.remove_prefix(2);

    // The syntax knows HTTP/1.0 and 1.1 only. Another major version is a 505 (Python's answer); a newer
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

    HeadSyntax syntax = parse_head_syntax(head);
    if (syntax.error != HeadSyntax::none) {
        std::string message = "Bad request syntax";
        switch (syntax.error) {
        case HeadSyntax::bad_version: message = "Bad request version"; break;
        case HeadSyntax::bad_method: message = "Bad request method"; break;
        case HeadSyntax::bad_target: message = "Bad request target"; break;
        case HeadSyntax::bad_framing: message = "Bad message framing"; break;
        case HeadSyntax::bad_field: message = "Bad header field"; break;
        default: break;
        }
        return BadRequest{400, message + " ('" + std::string(line.substr(0, 200)) + "')", std::string(line)};
    }

    // The syntax unfolds obs-fold into the field's value; RFC 9112 5.2 lets a server refuse it, and
    // a proxy in front may have read the fold differently (request smuggling): refused.
    if (syntax.obs_fold)
        return BadRequest{400, "Bad header field (obs-fold) ('" + std::string(line.substr(0, 200)) + "')", std::string(line)};
    const std::size_t hosts = syntax.hosts;
    if (hosts > 1 || (hosts == 0 && syntax.head.version >= 11))
        return BadRequest{400, std::string(hosts > 1 ? "Bad request: more than one Host field" : "Bad request: no Host field") +
                                   " ('" + std::string(line.substr(0, 200)) + "')",
                          std::string(line)};
    RequestHead& out = syntax.head;
    out.request_line = std::string(line);
    return std::move(out);
}

}  // namespace http_app
