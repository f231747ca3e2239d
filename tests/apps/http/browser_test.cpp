// A real browser: Debian's chromium, headless, loads pages from the running http_server and the
// test reads the DOM it rendered (after scripts ran), as a user would see the page.

#include "http_fixture.hpp"

using namespace http_test;
using test::shell_quote;

namespace {

std::string rendered_dom(const std::string& url, const test::TempDir& profile) {
    // --no-sandbox: the tests may run as root in a container, where chromium's sandbox cannot start.
    // --virtual-time-budget: the dump waits for the page's own fetches to settle.
    const auto result = test::run_command(
        "timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions "
        "--user-data-dir=" + shell_quote(profile.path().string()) + " --virtual-time-budget=10000 --dump-dom " +
        shell_quote(url) + " 2>/dev/null");
    INFO("chromium exit status " << result.status);
    REQUIRE(result.status == 0);
    return result.output;
}

}  // namespace

TEST_CASE("headless chromium renders a directory listing and a page whose script fetches a file", "[http][browser]") {
    Content content;
    content.write("fetch.html",
                  "<!DOCTYPE html><html><body><p id=\"out\">not yet</p><script>"
                  "fetch('hello.txt').then(r => r.text()).then(t => {"
                  "  document.getElementById('out').textContent = 'fetched: ' + t.trim() + ' as ' +"
                  "  document.contentType; });"
                  "</script></body></html>");
    Server server(content.dir.path(), "thread");
    test::TempDir profile;

    const std::string listing = rendered_dom(server.url("/docs/"), profile);
    CHECK(listing.find("<title>Directory listing for /docs/</title>") != std::string::npos);
    CHECK(listing.find("<a href=\"sub%20dir/\">sub dir/</a>") != std::string::npos);
    // The hostile name is text in the page, not markup: the browser kept it escaped.
    CHECK(listing.find("&lt;b&gt;&amp;amp.txt</a>") != std::string::npos);
    CHECK(listing.find("<b>&amp") == std::string::npos);

    const std::string page = rendered_dom(server.url("/fetch.html"), profile);
    CHECK(page.find("<p id=\"out\">fetched: hello world as text/html</p>") != std::string::npos);
    CHECK_NOTHROW(server.process().wait_for_line(R"("GET /hello\.txt HTTP/1\.1" 200 12$)"));
}
