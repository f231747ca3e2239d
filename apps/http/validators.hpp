#pragma once
// What lets a client skip a download: HTTP dates (Last-Modified, If-Modified-Since), weak entity
// tags (ETag, If-None-Match) and If-Range.

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include <sys/stat.h>

namespace http_app {

/// IMF-fixdate, RFC 9110 5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT". This thread's copy, until its
/// next call here: copy it to keep it (a fiber across a wait, too).
const std::string& format_http_date(std::time_t time);
/// The three forms a server must accept: IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT")
/// and asctime ("Sun Nov  6 08:49:37 1994"). nullopt for anything else.
std::optional<std::time_t> parse_http_date(std::string_view text);
/// format_http_date(now), formatted at most once a second per thread.
const std::string& current_http_date();

/// W/"size-mtime": weak, because the same size and modification time do not prove the same bytes.
/// This thread's copy, as format_http_date's.
const std::string& weak_etag(const struct stat& file);
/// If-None-Match against a current tag, by weak comparison (RFC 9110 13.1.2): "*" matches any
/// existing file, else any listed tag with the same opaque part.
bool none_match_hits(std::string_view if_none_match, std::string_view etag);
/// If-Range (RFC 9110 13.1.5): the range stands only when the validator is the exact current
/// Last-Modified date. A weak tag never satisfies If-Range, and ours are weak.
bool if_range_holds(std::string_view if_range, std::time_t last_modified);

}  // namespace http_app
