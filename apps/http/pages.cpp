#include "pages.hpp"
#include "url.hpp"

#include <sockserv/base/text.hpp>

#include <algorithm>

namespace http_app {

namespace {

// A file name for the page's text: valid UTF-8 as it is, anything else with U+FFFD for each bad
// byte (the link still carries the exact bytes, percent-encoded).
std::string readable(std::string_view name) {
    if (sockserv::is_valid_utf8(name)) return std::string(name);
    std::string out;
    for (const char c : name) {
        if (static_cast<unsigned char>(c) < 0x80) out.push_back(c);
        else out.append("\xEF\xBF\xBD");
    }
    return out;
}

std::string utc_minute(std::time_t time) {
    std::tm parts{};
    ::gmtime_r(&time, &parts);
    char text[32];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%d %H:%M", &parts);
    return {text, n};
}

}  // namespace

std::string directory_listing(std::string_view display_path, std::vector<ListingEntry> entries) {
    std::sort(entries.begin(), entries.end(), [](const ListingEntry& a, const ListingEntry& b) {
        const std::string la = sockserv::ascii_lower(a.name), lb = sockserv::ascii_lower(b.name);
        return la != lb ? la < lb : a.name < b.name;
    });
    const std::string title = "Directory listing for " + html_escape(readable(display_path));
    std::string page;
    page.reserve(512 + entries.size() * 160);
    page.append("<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
        .append(title)
        .append("</title>\n<style>td{padding:0 1em 0 0}td.size{text-align:right}</style>\n</head>\n<body>\n<h1>")
        .append(title)
        .append("</h1>\n<hr>\n<table>\n<tr><th align=\"left\">Name</th><th align=\"right\">Size</th>"
                "<th align=\"left\">Modified (UTC)</th></tr>\n");
    for (const ListingEntry& entry : entries) {
        std::string link = entry.name, shown = readable(entry.name);
        if (entry.is_directory) link.push_back('/'), shown.push_back('/');
        if (entry.is_symlink) shown.push_back('@');
        page.append("<tr><td><a href=\"")
            .append(html_escape(percent_encode(link)))
            .append("\">")
            .append(html_escape(shown))
            .append("</a></td><td class=\"size\">")
            .append(entry.is_directory ? std::string("-") : std::to_string(entry.size))
            .append("</td><td>")
            .append(utc_minute(entry.modified))
            .append("</td></tr>\n");
    }
    page.append("</table>\n<hr>\n</body>\n</html>\n");
    return page;
}

std::string_view status_explanation(unsigned code) noexcept {
    switch (code) {
    case 400: return "Bad request syntax or unsupported method";
    case 403: return "Request forbidden -- authorization will not help";
    case 404: return "Nothing matches the given URI";
    case 408: return "Request timed out; try again later";
    case 414: return "URI is too long";
    case 416: return "Cannot satisfy request range";
    case 431: return "The server refused this request because the request header fields are too large";
    case 500: return "Server got itself in trouble";
    case 501: return "Server does not support this operation";
    case 505: return "Cannot fulfill request";
    default: return "";
    }
}

std::string error_page(unsigned code, std::string_view message) {
    const std::string number = std::to_string(code);
    std::string page;
    page.append("<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <meta charset=\"utf-8\">\n"
                "        <title>Error response</title>\n    </head>\n    <body>\n        <h1>Error response</h1>\n"
                "        <p>Error code: ")
        .append(number)
        .append("</p>\n        <p>Message: ")
        .append(html_escape(readable(message)))
        .append(".</p>\n        <p>Error code explanation: ")
        .append(number)
        .append(" - ")
        .append(status_explanation(code))
        .append(".</p>\n    </body>\n</html>\n");
    return page;
}

}  // namespace http_app
