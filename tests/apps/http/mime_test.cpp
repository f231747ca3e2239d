// Content types: the embedded table, the system fallback, and charset on text.

#include "mime.hpp"
#include "../../support/test_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace http_app;

TEST_CASE("the embedded table answers the same on every machine", "[http][mime]") {
    const MimeTypes mime("/nonexistent/mime.types");
    CHECK(mime.content_type("index.html") == "text/html; charset=utf-8");
    CHECK(mime.content_type("style.css") == "text/css; charset=utf-8");
    CHECK(mime.content_type("app.js") == "text/javascript; charset=utf-8");
    CHECK(mime.content_type("data.json") == "application/json; charset=utf-8");
    CHECK(mime.content_type("logo.svg") == "image/svg+xml; charset=utf-8");
    CHECK(mime.content_type("photo.JPG") == "image/jpeg");
    CHECK(mime.content_type("dir/sub.d/archive.tar.gz") == "application/gzip");
    CHECK(mime.content_type("module.wasm") == "application/wasm");
    CHECK(mime.content_type("notes.txt") == "text/plain; charset=utf-8");
}

TEST_CASE("names without a usable extension are application/octet-stream", "[http][mime]") {
    const MimeTypes mime("/nonexistent/mime.types");
    CHECK(mime.content_type("README") == "application/octet-stream");
    CHECK(mime.content_type(".bashrc") == "application/octet-stream");
    CHECK(mime.content_type("trailing.") == "application/octet-stream");
    CHECK(mime.content_type("x.unknownext") == "application/octet-stream");
    CHECK(mime.content_type("") == "application/octet-stream");
}

TEST_CASE("the system table fills the gaps but never overrides the embedded one", "[http][mime]") {
    test::TempDir dir;
    std::ofstream(dir / "mime.types") << "# comment\n"
                                          "application/x-sockserv-test   sst other\n"
                                          "text/x-override               html\n"
                                          "broken-line-without-slash     bad\n"
                                          "text/x-rare                   rare\n";
    const MimeTypes mime(dir / "mime.types");
    CHECK(mime.content_type("a.sst") == "application/x-sockserv-test");
    CHECK(mime.content_type("a.OTHER") == "application/x-sockserv-test");
    CHECK(mime.content_type("a.rare") == "text/x-rare; charset=utf-8");
    CHECK(mime.content_type("a.html") == "text/html; charset=utf-8");
    CHECK(mime.content_type("a.bad") == "application/octet-stream");
}
