#pragma once
// The site: what a GET or HEAD of a URL answers. Python's SimpleHTTPRequestHandler.send_head
// (directories, redirects, index files, listings, files), with conditional and range requests.
// No sockets here: it maps a parsed request to a Response, and the handler sends it.

#include "mime.hpp"
#include "ranges.hpp"
#include "request_head.hpp"
#include "response.hpp"
#include "served_directory.hpp"

#include <sockserv/process/metrics.hpp>

#include <array>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <vector>

namespace http_app {

/// What http_server counts beside the framework (--metrics): responses by status class and the
/// body bytes sent. Without a registry, nothing.
struct HttpMetrics {
    HttpMetrics() = default;
    explicit HttpMetrics(sockserv::metrics::Registry* registry);
    /// One response sent: its status and body bytes (-1: none).
    void count(unsigned status, long long body_bytes) const noexcept;

    std::array<sockserv::metrics::Counter, 5> responses;  // 1xx .. 5xx
    sockserv::metrics::Counter body_bytes;
};

struct SiteOptions {
    std::filesystem::path directory = ".";
    /// Serve symlinks that point out of the directory (off: they are 403).
    bool follow_symlinks = false;
    /// Keep hot files open (small ones in memory), refreshed by inotify (open_file_cache.hpp).
    bool file_cache = true;
    /// Keep connections open between requests (off in sync mode, where one idle client would
    /// hold the only worker).
    bool keep_alive = true;
    /// How long a kept-alive (or fresh) connection may wait for its next request.
    std::chrono::milliseconds idle_timeout{5000};
    /// How long the whole head of a request may take once its first byte came.
    std::chrono::milliseconds header_timeout{10000};
    /// How long one send may stall on a client that stopped reading.
    std::chrono::milliseconds send_timeout{60000};
    HeadLimits limits;
    ServedDirectory::Resolver resolver = ServedDirectory::Resolver::automatic;
    HttpMetrics metrics;
};

class Site {
public:
    /// Throws std::system_error when the directory cannot be opened.
    explicit Site(SiteOptions options);

    /// The response to a parsed request. Thread safe; never throws for anything a client sends.
    Response respond(const RequestHead& request) const;

    const SiteOptions& options() const noexcept { return options_; }
    const ServedDirectory& directory() const noexcept { return directory_; }

private:
    Response serve_file(ServedDirectory::Opened file, std::string_view name, const RequestHead& request) const;
    Response serve_parts(ServedDirectory::Opened file, std::string_view content_type, std::vector<ByteRange> ranges,
                         std::time_t modified, const std::string& etag, std::uint64_t size) const;
    Response serve_listing(const ServedDirectory::Opened& directory, std::string_view url_path) const;

    SiteOptions options_;
    ServedDirectory directory_;
    MimeTypes mime_;
};

}  // namespace http_app
