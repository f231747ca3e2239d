#pragma once
// The HTML the server writes itself: directory listings and error pages.

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace http_app {

struct ListingEntry {
    std::string name;  // raw bytes of the file name
    bool is_directory = false;
    bool is_symlink = false;
    std::uint64_t size = 0;
    std::time_t modified = 0;
};

/// Python's list_directory, plus size and modification time (UTC) columns: entries sorted
/// case-insensitively, directories with a trailing '/', symlinks with '@', names HTML-escaped in
/// the text (invalid UTF-8 shown as U+FFFD) and percent-encoded in the links. `display_path` is
/// the decoded URL path ("/docs/"); the title is "Directory listing for /docs/".
std::string directory_listing(std::string_view display_path, std::vector<ListingEntry> entries);

/// Python's error page: code, message and explanation, the message HTML-escaped.
std::string error_page(unsigned code, std::string_view message);

/// Python's explanation of a status ("Nothing matches the given URI" for 404).
std::string_view status_explanation(unsigned code) noexcept;

}  // namespace http_app
