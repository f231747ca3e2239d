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

TEST_CASE("headless chromium loads a page over HTTPS, trusting the test's own CA", "[http][browser][tls]") {
    // Chromium on Linux trusts the CAs in the user's NSS database ($HOME/.pki/nssdb): the test
    // makes one in a HOME of its own holding only its throwaway CA — no
    // --ignore-certificate-errors, so a certificate chromium could not verify fails the test.
    test::TempDir home;
    const std::string db = "sql:" + (home / ".pki/nssdb").string();
    std::filesystem::create_directories(home / ".pki/nssdb");
    const std::string certificates_dir = (home / "certs").string();
    std::filesystem::create_directories(certificates_dir);
    test::run("cd " + shell_quote(certificates_dir) +
              " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=browser test CA'"
              " -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE"
              " -addext keyUsage=critical,keyCertSign,cRLSign 2>&1"
              " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout server.key"
              " -out server.csr 2>&1"
              " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext"
              " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext"
              " -out server.pem 2>&1");
    test::run("certutil -d " + shell_quote(db) + " -N --empty-password && certutil -d " + shell_quote(db) +
              " -A -t C,, -n sockserv-test-ca -i " + shell_quote(certificates_dir + "/ca.pem"));

    Content content;
    content.write("fetch.html",
                  "<!DOCTYPE html><html><body><p id=\"out\">not yet</p><script>"
                  "fetch('hello.txt').then(r => r.text()).then(t => {"
                  "  document.getElementById('out').textContent = 'fetched: ' + t.trim() + ' securely: ' +"
                  "  window.isSecureContext; });"
                  "</script></body></html>");
    Server server(content.dir.path(), "event-1",
                  {"--tls-cert", certificates_dir + "/server.pem", "--tls-key", certificates_dir + "/server.key"});
    test::TempDir profile;
    const auto result = test::run_command(
        "HOME=" + shell_quote(home.path().string()) +
        " timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions "
        "--user-data-dir=" + shell_quote(profile.path().string()) + " --virtual-time-budget=10000 --dump-dom " +
        shell_quote(server.url("/fetch.html")) + " 2>/dev/null");
    REQUIRE(result.status == 0);
    CHECK(result.output.find("<p id=\"out\">fetched: hello world securely: true</p>") != std::string::npos);
    CHECK_NOTHROW(server.process().wait_for_line(R"("GET /hello\.txt HTTP/1\.1" 200 12$)"));
}
