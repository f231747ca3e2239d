#include "site.hpp"
#include "pages.hpp"
#include "ranges.hpp"
#include "url.hpp"
#include "validators.hpp"

#include <cstdio>
#include <random>
#include <string>

namespace http_app {

HttpMetrics::HttpMetrics(sockserv::metrics::Registry* registry) {
    if (!registry) return;
    for (std::size_t i = 0; i < responses.size(); ++i)
        responses[i] = registry->counter("http_responses_total", "HTTP responses sent, by status class.",
                                         {.labels = "class=\"" + std::to_string(i + 1) + "xx\""});
    body_bytes = registry->counter("http_response_body_bytes_total", "Bytes of response bodies sent (files, listings, errors).");
}

void HttpMetrics::count(unsigned status, long long bytes) const noexcept {
    if (status >= 100 && status < 600) responses[status / 100 - 1].add();
    if (bytes > 0) body_bytes.add(static_cast<std::uint64_t>(bytes));
}

Site::Site(SiteOptions options)
    : options_(std::move(options)), directory_(options_.directory, options_.follow_symlinks, options_.resolver, options_.file_cache) {}

Response Site::respond(const RequestHead& request) const {
    if (request.method != "GET" && request.method != "HEAD")
        return error_response(501, "Unsupported method ('" + request.method.substr(0, 64) + "')");
    const auto target = split_target(request.target);
    if (!target) return error_response(400, "Bad request path");
    const auto local = translate_path(target->path);
    if (!local) return error_response(400, "Bad request path (NUL byte)");

    auto opened = directory_.open(local->relative);
    if (const auto* refused = std::get_if<ServedDirectory::Refused>(&opened)) {
        switch (*refused) {
        case ServedDirectory::Refused::outside: return error_response(403, "Symlink leads out of the served directory");
        case ServedDirectory::Refused::forbidden: return error_response(403, "Access denied");
        case ServedDirectory::Refused::not_found: return error_response(404, "File not found");
        }
    }
    auto& found = std::get<ServedDirectory::Opened>(opened);

    if (S_ISDIR(found.status().st_mode)) {
        if (!target->path.ends_with('/')) {
            // Relative links in the listing or index.html only work under the slash-ended URL.
            Response response = make_response(301);
            std::string location = std::string(target->path) + "/";
            if (target->has_query) location.append("?").append(target->query);
            response.head.set("Location", location);
            response.head.set("Content-Length", "0");
            return response;
        }
        for (const char* index : {"index.html", "index.htm"}) {
            const std::string path = local->relative.empty() ? index : local->relative + "/" + index;
            auto index_file = directory_.open(path);
            if (auto* file = std::get_if<ServedDirectory::Opened>(&index_file); file && S_ISREG(file->status().st_mode))
                return serve_file(std::move(*file), index, request);
        }
        return serve_listing(found, target->path);
    }
    if (local->trailing_slash) return error_response(404, "File not found");  // "/file.txt/"
    return serve_file(std::move(found), local->relative, request);
}

Response Site::serve_file(ServedDirectory::Opened file, std::string_view name, const RequestHead& request) const {
    const std::uint64_t size = static_cast<std::uint64_t>(file.status().st_size);
    const std::time_t modified = file.status().st_mtim.tv_sec;
    const std::string& etag = weak_etag(file.status());  // nothing below waits, or makes another

    // If-None-Match wins over If-Modified-Since when both are present (RFC 9110 13.2.2).
    bool not_modified = false;
    if (request.has_if_none_match) {
        not_modified = none_match_hits(request.if_none_match, etag);
    } else if (!request.if_modified_since.empty()) {
        // A date in the future (or unparsable) is ignored, RFC 9110 13.1.3: the file may yet
        // change before that moment, and a 304 then would keep a stale copy in caches.
        const auto since = parse_http_date(request.if_modified_since);
        not_modified = since && *since <= std::time(nullptr) && modified <= *since;
    }
    if (not_modified) {
        Response response = make_response(304);
        response.head.set("ETag", etag);
        response.head.set("Last-Modified", format_http_date(modified));
        return response;
    }

    RangeRequest range = WholeFile{};
    if (!request.range.empty() && (request.if_range.empty() || if_range_holds(request.if_range, modified)))
        range = parse_range(request.range, size);
    if (std::holds_alternative<Unsatisfiable>(range)) {
        Response response = error_response(416, "Requested Range Not Satisfiable");
        response.head.set("Content-Range", "bytes */" + std::to_string(size));
        return response;
    }

    if (auto* several = std::get_if<ByteRanges>(&range))
        return serve_parts(std::move(file), mime_.content_type(name), std::move(several->parts), modified, etag, size);

    const auto* part = std::get_if<ByteRange>(&range);
    Response response = make_response(part ? 206 : 200);
    response.head.set("Content-Type", mime_.content_type(name));
    response.head.set("Last-Modified", format_http_date(modified));
    response.head.set("ETag", etag);
    response.head.set("Accept-Ranges", "bytes");
    response.offset = part ? part->first : 0;
    response.length = part ? part->length() : size;
    if (part)
        response.head.set("Content-Range", "bytes " + std::to_string(part->first) + "-" +
                                                          std::to_string(part->last) + "/" + std::to_string(size));
    response.head.set("Content-Length", std::to_string(response.length));
    response.file = std::move(file.file);
    return response;
}

Response Site::serve_parts(ServedDirectory::Opened file, std::string_view content_type, std::vector<ByteRange> ranges,
                           std::time_t modified, const std::string& etag, std::uint64_t size) const {
    // RFC 9110 14.6: each part has its Content-Type and Content-Range; the boundary must not occur
    // in the parts, which 64 random bits make as good as certain.
    thread_local std::mt19937_64 random{std::random_device{}()};
    char boundary[17];
    std::snprintf(boundary, sizeof boundary, "%016llx", static_cast<unsigned long long>(random()));
    Response response = make_response(206);
    response.head.set("Content-Type", std::string("multipart/byteranges; boundary=") + boundary);
    response.head.set("Last-Modified", format_http_date(modified));
    response.head.set("ETag", etag);
    response.head.set("Accept-Ranges", "bytes");
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        const ByteRange& range = ranges[i];
        std::string head = i == 0 ? "--" : "\r\n--";
        head.append(boundary).append("\r\nContent-Type: ").append(content_type);
        head.append("\r\nContent-Range: bytes ").append(std::to_string(range.first)).append("-");
        head.append(std::to_string(range.last)).append("/").append(std::to_string(size)).append("\r\n\r\n");
        response.parts.push_back({std::move(head), range.first, range.length()});
    }
    response.closing = std::string("\r\n--") + boundary + "--\r\n";
    response.file = std::move(file.file);
    response.head.set("Content-Length", std::to_string(response.body_size()));
    return response;
}

Response Site::serve_listing(const ServedDirectory::Opened& directory, std::string_view url_path) const {
    std::vector<ListingEntry> entries;
    try {
        entries = directory_.list(directory.file->fd.get());
    } catch (const std::system_error&) {
        return error_response(404, "No permission to list directory");  // Python's words
    }
    Response response = make_response(200);
    response.body = directory_listing(percent_decode(url_path), std::move(entries));
    response.head.set("Content-Type", "text/html; charset=utf-8");
    response.head.set("Content-Length", std::to_string(response.body.size()));
    return response;
}

}  // namespace http_app
