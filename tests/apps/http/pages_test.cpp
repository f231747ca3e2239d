// The HTML the server writes and its log lines, without sockets.

#include "access_log.hpp"
#include "pages.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <regex>

using namespace http_app;

TEST_CASE("a listing sorts case-insensitively and marks directories and symlinks", "[http][listing]") {
    const std::string page = directory_listing("/docs/", {{"b.txt", false, false, 10, 0},
                                                         {"A-dir", true, false, 4096, 0},
                                                         {"c-link", false, true, 3, 0},
                                                         {"a.txt", false, false, 1, 0}});
    CHECK(page.find("<title>Directory listing for /docs/</title>") != std::string::npos);
    CHECK(page.find("<h1>Directory listing for /docs/</h1>") != std::string::npos);
    const auto a_dir = page.find(">A-dir/</a>");
    const auto a_txt = page.find(">a.txt</a>");
    const auto b_txt = page.find(">b.txt</a>");
    const auto c_link = page.find(">c-link@</a>");
    REQUIRE(a_dir != std::string::npos);
    REQUIRE(c_link != std::string::npos);
    CHECK(a_dir < a_txt);
    CHECK(a_txt < b_txt);
    CHECK(b_txt < c_link);
    CHECK(page.find("href=\"A-dir/\"") != std::string::npos);
    CHECK(page.find("href=\"c-link\"") != std::string::npos);
}

TEST_CASE("a listing shows sizes and modification times", "[http][listing]") {
    const std::string page = directory_listing("/", {{"big.bin", false, false, 52428800, 784111777}});
    CHECK(page.find("<td class=\"size\">52428800</td><td>1994-11-06 08:49</td>") != std::string::npos);
}

TEST_CASE("a listing escapes names in the text and percent-encodes them in links", "[http][listing]") {
    const std::string page = directory_listing("/<b>&/", {{"<img src=x onerror=alert(1)>", false, false, 1, 0},
                                                          {"quote\"and'apos", false, false, 1, 0},
                                                          {"space & hash#.txt", false, false, 1, 0},
                                                          {"caf\xc3\xa9", false, false, 1, 0},
                                                          {"bad\xff", false, false, 1, 0}});
    CHECK(page.find("<img") == std::string::npos);
    CHECK(page.find("<b>") == std::string::npos);
    CHECK(page.find("Directory listing for /&lt;b&gt;&amp;/") != std::string::npos);
    CHECK(page.find("href=\"%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E\"") != std::string::npos);
    CHECK(page.find(">&lt;img src=x onerror=alert(1)&gt;</a>") != std::string::npos);
    CHECK(page.find("href=\"quote%22and%27apos\"") != std::string::npos);
    CHECK(page.find(">quote&quot;and&#x27;apos</a>") != std::string::npos);
    CHECK(page.find("href=\"space%20%26%20hash%23.txt\"") != std::string::npos);
    CHECK(page.find("href=\"caf%C3%A9\">caf\xc3\xa9</a>") != std::string::npos);
    CHECK(page.find("href=\"bad%FF\">bad\xef\xbf\xbd</a>") != std::string::npos);  // U+FFFD shown, exact bytes linked
}

TEST_CASE("an empty directory lists nothing but still renders", "[http][listing]") {
    const std::string page = directory_listing("/empty/", {});
    CHECK(page.find("<a href") == std::string::npos);
    CHECK(page.ends_with("</html>\n"));
}

TEST_CASE("error pages carry code - escaped message and explanation", "[http][listing]") {
    const std::string page = error_page(404, "File <script>x</script> not found");
    CHECK(page.find("<p>Error code: 404</p>") != std::string::npos);
    CHECK(page.find("<p>Message: File &lt;script&gt;x&lt;/script&gt; not found.</p>") != std::string::npos);
    CHECK(page.find("Error code explanation: 404 - Nothing matches the given URI.") != std::string::npos);
    CHECK(page.find("<script>") == std::string::npos);
}

TEST_CASE("access lines use Python's format and escape what the client sent", "[http][log]") {
    const std::string line = access_line("127.0.0.1", 784111777, "GET /x HTTP/1.1", 200, 1234);
    CHECK(std::regex_match(line, std::regex(
        R"(127\.0\.0\.1 - - \[\d\d/Nov/1994 \d\d:\d\d:\d\d\] "GET /x HTTP/1\.1" 200 1234\n)")));
    CHECK(access_line("::1", 0, "HEAD / HTTP/1.1", 304, -1).ends_with("\"HEAD / HTTP/1.1\" 304 -\n"));

    const std::string hostile = access_line("127.0.0.1", 0, "GET /\x1b]0;pwned\x07\x1b[2J\r\nforged HTTP/1.1", 404, 1);
    CHECK(hostile.find('\x1b') == std::string::npos);
    CHECK(hostile.find('\r') == std::string::npos);
    CHECK(std::count(hostile.begin(), hostile.end(), '\n') == 1);
    CHECK(hostile.find("GET /\\x1b]0;pwned\\x07\\x1b[2J\\x0d\\x0aforged HTTP/1.1") != std::string::npos);

    const std::string error = error_line("127.0.0.1", 0, 400, "Bad request version ('\x1b[31m')");
    CHECK(error.find("code 400, message Bad request version ('\\x1b[31m')\n") != std::string::npos);
}
