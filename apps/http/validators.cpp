#include "validators.hpp"

#include <sockserv/base/text.hpp>

#include <chrono>
#include <cstdio>

namespace http_app {

const std::string& format_http_date(std::time_t time) {
    // A hot file's Last-Modified is the same every time: the last one formatted on this thread is
    // kept, and lent rather than copied (a copy was an allocation per request).
    thread_local std::time_t formatted_at = -1;
    thread_local std::string formatted;
    if (time == formatted_at) return formatted;
    std::tm parts{};
    ::gmtime_r(&time, &parts);
    char text[64];
    const std::size_t n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);
    formatted.assign(text, n);
    formatted_at = time;
    return formatted;
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
    const std::string copy(text);
    // strptime is locale-dependent for names; the server never calls setlocale, so it is "C".
    for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
        std::tm parts{};
        const char* end = ::strptime(copy.c_str(), format, &parts);
        if (end != nullptr && *end == '\0') return ::timegm(&parts);
    }
    return std::nullopt;
}

const std::string& current_http_date() {
    thread_local std::time_t formatted_at = -1;
    thread_local std::string date;
    const std::time_t now = std::time(nullptr);
    if (now != formatted_at) {
        date = format_http_date(now);
        formatted_at = now;
    }
    return date;
}

const std::string& weak_etag(const struct stat& file) {
    // The last one made on this thread is kept: a hot file's tag is the same every time.
    thread_local struct stat tagged {};
    thread_local std::string last;
    if (!last.empty() && tagged.st_size == file.st_size && tagged.st_mtim.tv_sec == file.st_mtim.tv_sec &&
        tagged.st_mtim.tv_nsec == file.st_mtim.tv_nsec)
        return last;
    char tag[80];
    const int n = std::snprintf(tag, sizeof tag, "W/\"%llx-%llx.%lx\"", static_cast<unsigned long long>(file.st_size),
                                static_cast<unsigned long long>(file.st_mtim.tv_sec),
                                static_cast<unsigned long>(file.st_mtim.tv_nsec));
    last.assign(tag, static_cast<std::size_t>(n));
    tagged = file;
    return last;
}

namespace {

std::string_view opaque(std::string_view tag) {
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    return tag;
}

}  // namespace

bool none_match_hits(std::string_view if_none_match, std::string_view etag) {
    if (sockserv::trim_blanks(if_none_match) == "*") return true;
    while (!if_none_match.empty()) {
        const auto comma = if_none_match.find(',');
        const std::string_view tag = sockserv::trim_blanks(if_none_match.substr(0, comma));
        if (!tag.empty() && opaque(tag) == opaque(etag)) return true;
        if (comma == std::string_view::npos) break;
        if_none_match.remove_prefix(comma + 1);
    }
    return false;
}

bool if_range_holds(std::string_view if_range, std::time_t last_modified) {
    const auto date = parse_http_date(sockserv::trim_blanks(if_range));
    return date && *date == last_modified;
}

}  // namespace http_app
