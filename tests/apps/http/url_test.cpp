// URL handling without sockets: decoding, encoding, escaping, and the path translation that keeps
// every request inside the served directory.

#include "url.hpp"

#include <catch2/catch.hpp>

using namespace http_app;

TEST_CASE("percent_decode decodes valid escapes and keeps broken ones", "[http][url]") {
    CHECK(percent_decode("a%20b%2Fc") == "a b/c");
    CHECK(percent_decode("%e2%82%ac") == "\xe2\x82\xac");
    CHECK(percent_decode("100%") == "100%");
    CHECK(percent_decode("%zz%4") == "%zz%4");
    CHECK(percent_decode("%00") == std::string(1, '\0'));
    CHECK(percent_decode("a+b") == "a+b");  // '+' is a space only in forms, not in paths
}

TEST_CASE("percent_encode quotes like Python's urllib.parse.quote", "[http][url]") {
    CHECK(percent_encode("plain-name_1.2~x/y") == "plain-name_1.2~x/y");
    CHECK(percent_encode("with space&<\"'>#?%") == "with%20space%26%3C%22%27%3E%23%3F%25");
    CHECK(percent_encode("caf\xc3\xa9") == "caf%C3%A9");
    CHECK(percent_encode(std::string("\xff\x00", 2)) == "%FF%00");
}

TEST_CASE("html_escape escapes markup and both quotes", "[http][url]") {
    CHECK(html_escape("<script>alert('x') & \"y\"</script>") ==
          "&lt;script&gt;alert(&#x27;x&#x27;) &amp; &quot;y&quot;&lt;/script&gt;");
}

TEST_CASE("split_target separates path and query and drops the fragment", "[http][url]") {
    auto target = split_target("/a/b?x=1&y=2#frag");
    REQUIRE(target);
    CHECK(target->path == "/a/b");
    CHECK(target->query == "x=1&y=2");
    CHECK(target->has_query);
    target = split_target("/plain#only-fragment");
    REQUIRE(target);
    CHECK(target->path == "/plain");
    CHECK_FALSE(target->has_query);
    target = split_target("/empty?");
    REQUIRE(target);
    CHECK(target->has_query);
    CHECK(target->query.empty());
}

TEST_CASE("split_target collapses leading slashes so a redirect never names another host", "[http][url]") {
    CHECK(split_target("//evil.example/dir")->path == "/evil.example/dir");
    CHECK(split_target("////x")->path == "/x");
    CHECK(split_target("/")->path == "/");
}

TEST_CASE("split_target accepts absolute-form and refuses what is not a path", "[http][url]") {
    CHECK(split_target("http://example.com/a/b?q")->path == "/a/b");
    CHECK(split_target("HTTP://example.com")->path == "/");
    CHECK(split_target("http://example.com?q")->path == "/");
    CHECK_FALSE(split_target("*"));
    CHECK_FALSE(split_target("index.html"));
    CHECK_FALSE(split_target(""));
    CHECK_FALSE(split_target("ftp://x/y"));
}

TEST_CASE("translate_path resolves dot segments without ever climbing above the root", "[http][url]") {
    const auto relative = [](std::string_view path) { return translate_path(path)->relative; };
    CHECK(relative("/") == "");
    CHECK(relative("/a/b/c.txt") == "a/b/c.txt");
    CHECK(relative("/a/./b/../c") == "a/c");
    CHECK(relative("/../../../etc/passwd") == "etc/passwd");
    CHECK(relative("/a/../../etc/passwd") == "etc/passwd");
    CHECK(relative("/%2e%2e/%2e%2e/etc/passwd") == "etc/passwd");
    CHECK(relative("/%2E%2E%2f%2E%2E%2fetc%2fpasswd") == "etc/passwd");
    CHECK(relative("/a%2f..%2f..%2f..%2fetc") == "etc");
    CHECK(relative("//a///b//") == "a/b");
    CHECK(relative("/with%20space/caf%C3%A9") == "with space/caf\xc3\xa9");
    // On POSIX a backslash is an ordinary file name character (as in Python): "..\" is a name,
    // not a way up, so it cannot leave the directory either.
    CHECK(relative("/..\\..\\etc\\passwd") == "..\\..\\etc\\passwd");
    CHECK(relative("/%5c..%5c..%5cetc") == "\\..\\..\\etc");
}

TEST_CASE("translate_path keeps the trailing slash and refuses NUL bytes", "[http][url]") {
    CHECK(translate_path("/dir/")->trailing_slash);
    CHECK_FALSE(translate_path("/dir")->trailing_slash);
    CHECK_FALSE(translate_path("/file%00.txt"));
    CHECK_FALSE(translate_path("/%00"));
}

TEST_CASE("translate_path never yields a component that leaves the root for any dot-slash mix", "[http][url]") {
    // Every string of up to 6 characters over an alphabet of the dangerous pieces.
    const std::vector<std::string> pieces = {".", "/", "%2e", "%2f", "\\", "a"};
    std::vector<std::string> paths = {"/"};
    for (int length = 0; length < 6; ++length) {
        std::vector<std::string> longer;
        for (const auto& path : paths)
            for (const auto& piece : pieces) longer.push_back(path + piece);
        paths.insert(paths.end(), longer.begin(), longer.end());
        if (paths.size() > 20000) break;
    }
    for (const auto& path : paths) {
        const auto local = translate_path(path);
        REQUIRE(local);
        const std::string& relative = local->relative;
        INFO(path << " -> " << relative);
        CHECK_FALSE(relative.starts_with("/"));
        CHECK(relative != "..");
        CHECK_FALSE(relative.starts_with("../"));
        CHECK(relative.find("/../") == std::string::npos);
        CHECK_FALSE(relative.ends_with("/.."));
    }
}
