#include "response.hpp"
#include "pages.hpp"
#include "validators.hpp"

#include <sockserv/base/text.hpp>

#include <boost/beast/http/status.hpp>

#include <charconv>

namespace http_app {

namespace http = boost::beast::http;

namespace {

// Where the line of field `name` starts in fields, from `from` on; npos when there is none.
std::size_t find_line(std::string_view fields, std::string_view name, std::size_t from = 0) {
    for (std::size_t at = from; at < fields.size();) {
        const std::size_t end = fields.find("\r\n", at);
        if (end == std::string_view::npos) break;
        const std::string_view line = fields.substr(at, end - at);
        if (line.size() > name.size() && line[name.size()] == ':' &&
            sockserv::ascii_iequal(line.substr(0, name.size()), name))
            return at;
        at = end + 2;
    }
    return std::string_view::npos;
}

}  // namespace

std::string_view ResponseHead::reason() const noexcept {
    if (!reason_.empty()) return reason_;
    const auto standard = http::obsolete_reason(static_cast<http::status>(status_));
    return {standard.data(), standard.size()};
}

void ResponseHead::keep_alive(bool keep) {
    if (version_ >= 11) {
        if (keep) erase("Connection");
        else set("Connection", "close");
    } else {
        if (keep) set("Connection", "keep-alive");
        else erase("Connection");
    }
}

std::uint64_t ResponseHead::name_bit(std::string_view name) noexcept {
    if (name.empty()) return 1;
    // Any case. The last letter too: by first letter and length alone Last-Modified shared
    // Content-Type's bit, and every file's answer scanned its fields once for nothing.
    const unsigned first = static_cast<unsigned char>(name.front()) | 0x20u;
    const unsigned last = static_cast<unsigned char>(name.back()) | 0x20u;
    return std::uint64_t{1} << ((first * 7 + last * 3 + name.size()) % 64);
}

void ResponseHead::erase(std::string_view name) {
    if (may_have(name)) erase_lines(name);
}

void ResponseHead::erase_lines(std::string_view name) {
    for (std::size_t at = find_line(fields_, name); at != std::string::npos; at = find_line(fields_, name, at))
        fields_.erase(at, fields_.find("\r\n", at) + 2 - at);
}

void ResponseHead::set(std::string_view name, std::string_view value) {
    const std::uint64_t bit = name_bit(name);
    if (names_ & bit) erase_lines(name);
    names_ |= bit;
    if (fields_.empty()) fields_.reserve(256);  // a file's fields, with room to spare
    fields_.append(name).append(": ").append(value).append("\r\n");
}

std::optional<std::string_view> ResponseHead::find(std::string_view name) const {
    if (!may_have(name)) return std::nullopt;
    const std::size_t at = find_line(fields_, name);
    if (at == std::string::npos) return std::nullopt;
    const std::size_t end = fields_.find("\r\n", at);
    return std::string_view(fields_).substr(at + name.size() + 2, end - at - name.size() - 2);
}

Response make_response(unsigned status) {
    Response response;
    response.head.result(status);
    response.head.set("Server", "sockserv-http/0.1");
    response.head.set("Date", current_http_date());
    return response;
}

Response error_response(unsigned status, std::string_view message) {
    Response response = make_response(status);
    response.error_message = std::string(message);
    response.body = error_page(status, message);
    response.head.set("Content-Type", "text/html; charset=utf-8");
    response.head.set("Content-Length", std::to_string(response.body.size()));
    return response;
}

// By hand, not with Beast's serializer: its generic buffer sequences took 7% of the server's CPU
// (perf, 1 KiB keep-alive), for what is a status line and the fields as they are kept (tests
// check that Beast writes the same bytes for the same header).
std::string serialize_head(Response& response) {
    const auto& head = response.head;
    std::string out;
    out.reserve(head.fields().size() + 64);
    const unsigned version = head.version();
    char number[16];
    out.append("HTTP/");
    out.push_back(static_cast<char>('0' + version / 10));
    out.push_back('.');
    out.push_back(static_cast<char>('0' + version % 10));
    out.push_back(' ');
    const auto [end, ignored] = std::to_chars(number, number + sizeof number, head.result_int());
    out.append(number, end);
    out.push_back(' ');
    const auto reason = head.reason();
    out.append(reason.data(), reason.size());
    out.append("\r\n");
    out.append(head.fields());
    out.append("\r\n");
    return out;
}

}  // namespace http_app
