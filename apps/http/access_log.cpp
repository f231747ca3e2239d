#include "access_log.hpp"

#include <sockserv/base/text.hpp>

#include <cstdio>
#include <string>

namespace http_app {

namespace {

// Python's log_date_time_string: local time, "23/Nov/2026 06:30:00".
std::string log_date(std::time_t when) {
    // Formatted once a second per thread (localtime_r and snprintf were 4% of a busy server).
    thread_local std::time_t formatted_at = -1;
    thread_local std::string formatted;
    if (when == formatted_at) return formatted;
    std::tm parts{};
    ::localtime_r(&when, &parts);
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char text[48];
    const int n = std::snprintf(text, sizeof text, "%02d/%s/%04d %02d:%02d:%02d", parts.tm_mday, months[parts.tm_mon],
                                parts.tm_year + 1900, parts.tm_hour, parts.tm_min, parts.tm_sec);
    formatted.assign(text, static_cast<std::size_t>(n));
    formatted_at = when;
    return formatted;
}

std::string prefix(std::string_view client, std::time_t when) {
    return std::string(client).append(" - - [").append(log_date(when)).append("] ");
}

}  // namespace

std::string access_line(std::string_view client, std::time_t when, std::string_view request_line, unsigned status,
                        long long size) {
    return prefix(client, when)
        .append("\"")
        .append(sockserv::escape_control_characters(request_line))
        .append("\" ")
        .append(std::to_string(status))
        .append(" ")
        .append(size < 0 ? std::string("-") : std::to_string(size))
        .append("\n");
}

std::string error_line(std::string_view client, std::time_t when, unsigned status, std::string_view message) {
    return prefix(client, when)
        .append("code ")
        .append(std::to_string(status))
        .append(", message ")
        .append(sockserv::escape_control_characters(message))
        .append("\n");
}

}  // namespace http_app
