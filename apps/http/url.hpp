#pragma once
// Request targets and the escaping a web page needs: percent-decoding and -encoding of URL paths,
// HTML escaping, and turning a URL path into a path under the served directory.

#include <optional>
#include <string>
#include <string_view>

namespace http_app {

/// "%41" -> "A". A '%' not followed by two hex digits is kept as it is (as Python's unquote does).
std::string percent_decode(std::string_view text);
/// Every byte but A-Z a-z 0-9 _ . - ~ and '/' as %XX (Python's urllib.parse.quote).
std::string percent_encode(std::string_view text);
/// & < > " ' as entities: safe inside element text and quoted attributes.
std::string html_escape(std::string_view text);

/// A request target split at '?' and '#' (the fragment is dropped).
struct Target {
    std::string_view path;
    std::string_view query;  // without the '?'
    bool has_query = false;
};

/// The origin-form path of a request target. An absolute-form target ("http://host/path") is cut
/// to its path (RFC 9112 3.2.2); leading slashes collapse to one ("//evil.example/" must not be a
/// host when it comes back in a Location). nullopt for anything else ("*", "index.html").
std::optional<Target> split_target(std::string_view target);

/// A URL path as a path relative to the served directory.
struct LocalPath {
    /// "" for the directory itself, else components joined by '/': never absolute, never "." or
    /// ".." components, so it cannot leave the directory however the URL was spelled.
    std::string relative;
    /// The URL path ended in '/' (a file asked for as a directory is a 404).
    bool trailing_slash = false;
};

/// Python's translate_path: percent-decodes, then resolves "." and ".." without ever climbing
/// above the root ("/a/../../etc" is "etc"; "%2e%2e%2f" decodes first, so it is ".." too). nullopt
/// when the path holds a NUL byte (no file name can, and C APIs would cut it short).
std::optional<LocalPath> translate_path(std::string_view url_path);

}  // namespace http_app
