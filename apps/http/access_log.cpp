#include "access_log.hpp"

#include <sockserv/base/text.hpp>

#include <charconv>
#include <cstdio>
#include <string>

namespace http_app {

namespace {

// Python's log_date_time_string: local time, "23/Nov/2026 06:30:00".
const std::string& log_date(std::time_t when) {
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

// Each line is built in one string, reserved once: a line per request, and its pieces as
// temporaries were a dozen allocations of it.
std::string prefix(std::string_view client, std::time_t when, std::size_t rest) {
    const std::string& date = log_date(when);
    std::string line;
    line.reserve(client.size() + date.size() + rest + 32);
    line.append(client).append(" - - [").append(date).append("] ");
    return line;
}

void append_number(std::string& out, long long number) {
    char digits[24];
    const auto [end, ignored] = std::to_chars(digits, digits + sizeof digits, number);
    out.append(digits, end);
}

}  // namespace

std::string access_line(std::string_view client, std::time_t when, std::string_view request_line, unsigned status,
                        long long size) {
    std::string line = prefix(client, when, request_line.size() + 32);
    line.push_back('"');
    sockserv::append_escaped(line, request_line);
    line.append("\" ");
    append_number(line, status);
    line.push_back(' ');
    if (size < 0) line.push_back('-');
    else append_number(line, size);
    line.push_back('\n');
    return line;
}

std::string error_line(std::string_view client, std::time_t when, unsigned status, std::string_view message) {
    std::string line = prefix(client, when, message.size() + 32);
    line.append("code ");
    append_number(line, status);
    line.append(", message ");
    sockserv::append_escaped(line, message);
    line.push_back('\n');
    return line;
}

}  // namespace http_app
