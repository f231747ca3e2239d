// The site's decisions without sockets: what a GET or HEAD of each kind of path answers.

#include "site.hpp"
#include "../../support/test_support.hpp"

#include <boost/beast/http/field.hpp>

#include <catch2/catch.hpp>

#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

using namespace http_app;
namespace http = boost::beast::http;

namespace {

RequestHead get(std::string target, std::string method = "GET") {
    RequestHead request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.request_line = request.method + " " + request.target + " HTTP/1.1";
    return request;
}

std::string field(const Response& response, http::field name) {
    const auto spelled = http::to_string(name);
    return std::string(response.head.find(std::string_view(spelled.data(), spelled.size())).value_or(""));
}

std::string file_bytes(const Response& response) {
    if (response.file->has_contents) return response.file->contents.substr(response.offset, response.length);
    std::string out(response.length, '\0');
    REQUIRE(::pread(response.file->fd.get(), out.data(), out.size(), static_cast<off_t>(response.offset)) ==
            static_cast<ssize_t>(out.size()));
    return out;
}

struct Fixture {
    test::TempDir dir;
    test::TempDir outside;
    Fixture() {
        std::ofstream(dir / "hello.txt") << "hello world\n";
        std::filesystem::create_directories(dir / "docs");
        std::filesystem::create_directories(dir / "site");
        std::ofstream(dir / "site" / "index.html") << "<h1>index</h1>";
        std::filesystem::create_directories(dir / "old");
        std::ofstream(dir / "old" / "index.htm") << "old index";
        std::ofstream(dir / ".hidden") << "hidden";
        std::ofstream(outside / "secret.txt") << "secret";
        std::filesystem::create_symlink(outside / "secret.txt", dir / "leak.txt");
        std::filesystem::create_symlink(outside.path(), dir / "leakdir");
        std::filesystem::create_symlink("hello.txt", dir / "inner-link.txt");
        REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    }
    Site site(bool follow = false, ServedDirectory::Resolver resolver = ServedDirectory::Resolver::automatic) const {
        SiteOptions options;
        options.directory = dir.path();
        options.follow_symlinks = follow;
        options.resolver = resolver;
        return Site(options);
    }
};

}  // namespace

TEST_CASE("a file is served with its type - length - dates and validators", "[http][site]") {
    Fixture fixture;
    const Site site = fixture.site();
    const Response response = site.respond(get("/hello.txt?ignored=1#frag"));
    CHECK(response.status() == 200);
    CHECK(field(response, http::field::content_type) == "text/plain; charset=utf-8");
    CHECK(field(response, http::field::content_length) == "12");
    CHECK(field(response, http::field::accept_ranges) == "bytes");
    CHECK(field(response, http::field::etag).starts_with("W/\""));
    CHECK_FALSE(field(response, http::field::last_modified).empty());
    CHECK_FALSE(field(response, http::field::date).empty());
    CHECK(field(response, http::field::server).starts_with("sockserv"));
    CHECK(file_bytes(response) == "hello world\n");
    CHECK(site.respond(get("/.hidden")).status() == 200);  // hidden files are served, as Python does
    CHECK(site.respond(get("/inner-link.txt")).status() == 200);  // symlinks inside are fine
}

TEST_CASE("a directory without its slash redirects with the query kept", "[http][site]") {
    Fixture fixture;
    const Site site = fixture.site();
    Response response = site.respond(get("/docs?sort=name"));
    CHECK(response.status() == 301);
    CHECK(field(response, http::field::location) == "/docs/?sort=name");
    CHECK(field(response, http::field::content_length) == "0");
    CHECK(field(site.respond(get("//docs")), http::field::location) == "/docs/");  // never "//docs/"
    CHECK(field(site.respond(get("/docs?")), http::field::location) == "/docs/?");
}

TEST_CASE("a directory serves index.html - then index.htm - then a listing", "[http][site]") {
    Fixture fixture;
    const Site site = fixture.site();
    CHECK(file_bytes(site.respond(get("/site/"))) == "<h1>index</h1>");
    CHECK(field(site.respond(get("/site/")), http::field::content_type) == "text/html; charset=utf-8");
    CHECK(file_bytes(site.respond(get("/old/"))) == "old index");
    const Response listing = site.respond(get("/"));
    CHECK(listing.status() == 200);
    CHECK_FALSE(listing.file);
    CHECK(listing.body.find("Directory listing for /") != std::string::npos);
    CHECK(listing.body.find("href=\"docs/\"") != std::string::npos);
    CHECK(listing.body.find(">.hidden</a>") != std::string::npos);
    CHECK(field(listing, http::field::content_length) == std::to_string(listing.body.size()));
}

TEST_CASE("missing files - a file with a slash and bad paths are 404 or 400", "[http][site]") {
    Fixture fixture;
    const Site site = fixture.site();
    Response missing = site.respond(get("/nope.txt"));
    CHECK(missing.status() == 404);
    CHECK(missing.error_message == "File not found");
    CHECK(missing.body.find("Error code: 404") != std::string::npos);
    CHECK(site.respond(get("/hello.txt/")).status() == 404);
    CHECK(site.respond(get("/hello%00.txt")).status() == 400);
    CHECK(site.respond(get("*")).status() == 400);
    CHECK(site.respond(get("relative")).status() == 400);
}

TEST_CASE("traversal never leaves the directory however it is spelled", "[http][site]") {
    Fixture fixture;
    const Site site = fixture.site();
    for (const char* target : {"/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/%2e%2e/etc/passwd",
                               "/docs/../../../../etc/passwd", "/..\\..\\etc\\passwd", "/%5c..%5cetc%5cpasswd",
                               "http://x/../../etc/passwd", "//etc/passwd"}) {
        INFO(target);
        const Response response = site.respond(get(target));
        CHECK(response.status() == 404);
        CHECK_FALSE(response.file);
    }
}

TEST_CASE("symlinks out of the directory are 403 unless followed", "[http][site]") {
    Fixture fixture;
    for (const auto resolver : {ServedDirectory::Resolver::automatic, ServedDirectory::Resolver::proc_fallback}) {
        const Site site = fixture.site(false, resolver);
        CHECK(site.respond(get("/leak.txt")).status() == 403);
        CHECK(site.respond(get("/leakdir/secret.txt")).status() == 403);
        CHECK(site.respond(get("/leakdir/")).status() == 403);
        CHECK(site.respond(get("/hello.txt")).status() == 200);
        CHECK(site.respond(get("/docs/")).status() == 200);
    }
    const Site following = fixture.site(true);
    CHECK(file_bytes(following.respond(get("/leak.txt"))) == "secret");
    CHECK(following.respond(get("/leakdir/secret.txt")).status() == 200);
}

TEST_CASE("a FIFO in the directory is refused instead of hanging the worker", "[http][site]") {
    Fixture fixture;
    const Site site = fixture.site();
    CHECK(site.respond(get("/fifo")).status() == 403);
}

TEST_CASE("conditional requests answer 304 by date or by tag", "[http][site]") {
    Fixture fixture;
    const Site site = fixture.site();
    const Response full = site.respond(get("/hello.txt"));
    const std::string etag = field(full, http::field::etag);
    const std::string modified = field(full, http::field::last_modified);

    RequestHead request = get("/hello.txt");
    request.if_modified_since = modified;
    const Response by_date = site.respond(request);
    CHECK(by_date.status() == 304);
    CHECK(field(by_date, http::field::etag) == etag);
    CHECK_FALSE(by_date.file);
    request.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
    CHECK(site.respond(request).status() == 200);
    request.if_modified_since = "garbage";
    CHECK(site.respond(request).status() == 200);

    request = get("/hello.txt");
    request.has_if_none_match = true;
    request.if_none_match = etag;
    CHECK(site.respond(request).status() == 304);
    request.if_none_match = "\"something-else\"";
    request.if_modified_since = modified;  // ignored when If-None-Match is present
    CHECK(site.respond(request).status() == 200);
}

TEST_CASE("ranges answer 206 with Content-Range or 416", "[http][site]") {
    Fixture fixture;
    const Site site = fixture.site();
    RequestHead request = get("/hello.txt");
    request.range = "bytes=6-10";
    Response part = site.respond(request);
    CHECK(part.status() == 206);
    CHECK(field(part, http::field::content_range) == "bytes 6-10/12");
    CHECK(field(part, http::field::content_length) == "5");
    CHECK(file_bytes(part) == "world");

    request.range = "bytes=-3";
    CHECK(file_bytes(site.respond(request)) == "ld\n");
    request.range = "bytes=12-";
    Response refused = site.respond(request);
    CHECK(refused.status() == 416);
    CHECK(field(refused, http::field::content_range) == "bytes */12");
    // Several ranges: multipart/byteranges, each part with its own Content-Range.
    request.range = "bytes=0-1,3-4";
    const Response several = site.respond(request);
    CHECK(several.status() == 206);
    const std::string type = field(several, http::field::content_type);
    REQUIRE(type.starts_with("multipart/byteranges; boundary="));
    const std::string boundary = type.substr(type.find('=') + 1);
    std::string body;
    for (const auto& piece : several.parts) {
        REQUIRE(several.file->has_contents);  // 12 bytes: held by the open-file cache
        body += piece.head + several.file->contents.substr(piece.offset, piece.length);
    }
    body += several.closing;
    CHECK(body == "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/12\r\n\r\nhe\r\n--" +
                      boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 3-4/12\r\n\r\nlo\r\n--" +
                      boundary + "--\r\n");
    CHECK(field(several, http::field::content_length) == std::to_string(body.size()));
    CHECK_FALSE(field(site.respond(request), http::field::content_type) == field(several, http::field::content_type));

    request.range = "bytes=0-4";
    request.if_range = field(part, http::field::last_modified);
    CHECK(site.respond(request).status() == 206);
    request.if_range = "Sun, 06 Nov 1994 08:49:37 GMT";  // changed since: the whole file
    CHECK(site.respond(request).status() == 200);
    request.if_range = field(part, http::field::etag);  // a weak tag never satisfies If-Range
    CHECK(site.respond(request).status() == 200);
}

TEST_CASE("methods other than GET and HEAD are 501", "[http][site]") {
    Fixture fixture;
    const Site site = fixture.site();
    CHECK(site.respond(get("/hello.txt", "HEAD")).status() == 200);
    for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "TRACE", "BREW", "get"}) {
        INFO(method);
        const Response response = site.respond(get("/hello.txt", method));
        CHECK(response.status() == 501);
        CHECK(response.body.find("Unsupported method") != std::string::npos);
    }
}

TEST_CASE("a site on a directory that does not exist fails to start", "[http][site]") {
    SiteOptions options;
    options.directory = "/nonexistent/sockserv/dir";
    CHECK_THROWS(Site(options));
}
