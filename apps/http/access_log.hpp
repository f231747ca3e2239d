#pragma once
// The access log, in Python's http.server format on stderr:
//   127.0.0.1 - - [23/Nov/2026 06:30:00] "GET / HTTP/1.1" 200 1234
// Whatever the client sent is escaped (sockserv::escape_control_characters), so a request cannot
// write escape sequences to the operator's terminal or forge a log line.

#include <ctime>
#include <string>
#include <string_view>

namespace http_app {

/// One access line, newline included. `size` is the body bytes sent, or -1 for "-".
std::string access_line(std::string_view client, std::time_t when, std::string_view request_line, unsigned status,
                        long long size);
/// Python's error line: `client - - [date] code 404, message File not found`.
std::string error_line(std::string_view client, std::time_t when, unsigned status, std::string_view message);

}  // namespace http_app
