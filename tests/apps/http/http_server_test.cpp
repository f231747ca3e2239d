// http_server as a user runs it: the real binary in each mode, curl as the client (raw sockets for
// what curl will not send), every answer checked as the user would see it.

#include "http_fixture.hpp"
#include "../../support/every_mode.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>

using namespace http_test;
using namespace std::chrono_literals;
using test::shell_quote;

namespace {

std::string q(const std::string& url) { return shell_quote(url); }

// Python's behaviours, through curl, in one mode.
void check_python_behaviour(const std::string& mode) {
    Content content;
    Server server(content.dir.path(), mode);

    CHECK(curl(q(server.url("/hello.txt"))).output == "hello world\n");
    const std::string headers = curl("-D - -o /dev/null " + q(server.url("/hello.txt"))).output;
    CHECK(headers.starts_with("HTTP/1.1 200 OK\r\n"));
    for (const char* field : {"Content-Type: text/plain; charset=utf-8\r\n", "Content-Length: 12\r\n",
                              "Last-Modified: ", "Date: ", "Server: sockserv-http", "ETag: W/\"",
                              "Accept-Ranges: bytes\r\n"})
        CHECK(headers.find(field) != std::string::npos);
    // The access log line, in Python's format.
    CHECK_NOTHROW(server.process().wait_for_line(
        R"(^127\.0\.0\.1 - - \[\d\d/\w\w\w/\d{4} \d\d:\d\d:\d\d\] "GET /hello\.txt HTTP/1\.1" 200 12$)"));

    // HEAD: the same headers, no body.
    const std::string head = curl("-I " + q(server.url("/hello.txt"))).output;
    CHECK(head.find("Content-Length: 12\r\n") != std::string::npos);
    CHECK(head.find("hello world") == std::string::npos);
    const std::string head_raw = exchange(server.address(), "HEAD /hello.txt HTTP/1.0\r\n\r\n");
    CHECK(head_raw.ends_with("\r\n\r\n"));

    // A directory without its slash: 301 to the slash, query kept.
    const std::string redirect = curl("-D - -o /dev/null " + q(server.url("/docs?sort=1"))).output;
    CHECK(redirect.starts_with("HTTP/1.1 301 "));
    CHECK(redirect.find("Location: /docs/?sort=1\r\n") != std::string::npos);
    CHECK(curl("-L " + q(server.url("/site"))).output == "<h1>site index</h1>");
    // Leading slashes collapse: the Location can never name another host.
    const std::string collapsed = exchange(server.address(), "GET //docs HTTP/1.0\r\n\r\n");
    CHECK(collapsed.find("Location: /docs/\r\n") != std::string::npos);

    // The listing.
    const std::string listing = curl(q(server.url("/docs/"))).output;
    CHECK(listing.find("<title>Directory listing for /docs/</title>") != std::string::npos);
    CHECK(listing.find("href=\"sub%20dir/\">sub dir/</a>") != std::string::npos);
    CHECK(listing.find("href=\"%3Cb%3E%26amp.txt\">&lt;b&gt;&amp;amp.txt</a>") != std::string::npos);
    CHECK(listing.find(">a.txt<") < listing.find(">B.txt<"));  // case-insensitive order

    // 404 with a small HTML page; the error is logged as Python does.
    const std::string missing = curl("-D - " + q(server.url("/nope.html"))).output;
    CHECK(missing.starts_with("HTTP/1.1 404 Not Found\r\n"));
    CHECK(missing.find("Content-Type: text/html; charset=utf-8") != std::string::npos);
    CHECK(missing.find("<p>Message: File not found.</p>") != std::string::npos);
    CHECK_NOTHROW(server.process().wait_for_line(R"(code 404, message File not found$)"));

    // 304 by date (curl -z sends If-Modified-Since) and by tag.
    const auto file = content.dir / "hello.txt";
    CHECK(curl("-o /dev/null -w '%{http_code}' -z " + q(file.string()) + " " + q(server.url("/hello.txt"))).output ==
          "304");
    const auto etag_at = headers.find("ETag: ") + 6;
    const std::string etag = headers.substr(etag_at, headers.find("\r\n", etag_at) - etag_at);
    CHECK(curl("-o /dev/null -w '%{http_code}' -H " + q("If-None-Match: " + etag) + " " + q(server.url("/hello.txt")))
              .output == "304");
    CHECK(curl("-o /dev/null -w '%{http_code}' -H 'If-None-Match: \"x\"' -H " +
               q("If-Modified-Since: Mon, 01 Jan 2035 00:00:00 GMT") + " " + q(server.url("/hello.txt")))
              .output == "200");
    // A date in the future, or one that does not parse, is ignored: 200, not 304.
    for (const char* since : {"Mon, 01 Jan 2035 00:00:00 GMT", "yesterday"})
        CHECK(curl("-o /dev/null -w '%{http_code}' -H " + q(std::string("If-Modified-Since: ") + since) + " " +
                   q(server.url("/hello.txt")))
                  .output == "200");

    // Ranges.
    const std::string part = curl("-D - -r 6-10 " + q(server.url("/hello.txt"))).output;
    CHECK(part.starts_with("HTTP/1.1 206 Partial Content\r\n"));
    CHECK(part.find("Content-Range: bytes 6-10/12\r\n") != std::string::npos);
    CHECK(part.ends_with("\r\n\r\nworld"));
    // Several: multipart/byteranges, as nginx answers them (curl -r takes the list as is).
    const std::string several = curl("-D - -r 0-0,6-10 " + q(server.url("/hello.txt"))).output;
    CHECK(several.starts_with("HTTP/1.1 206 Partial Content\r\n"));
    const auto type_at = several.find("Content-Type: multipart/byteranges; boundary=");
    REQUIRE(type_at != std::string::npos);
    const auto boundary_at = several.find('=', type_at) + 1;
    const std::string boundary = several.substr(boundary_at, several.find("\r\n", boundary_at) - boundary_at);
    const std::string body = several.substr(several.find("\r\n\r\n") + 4);
    CHECK(body == "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-0/12\r\n\r\nh" +
                      "\r\n--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 6-10/12\r\n\r\nworld" +
                      "\r\n--" + boundary + "--\r\n");
    CHECK(several.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
    const std::string beyond = curl("-D - -r 100-200 " + q(server.url("/hello.txt"))).output;
    CHECK(beyond.starts_with("HTTP/1.1 416 "));
    CHECK(beyond.find("Content-Range: bytes */12\r\n") != std::string::npos);

    // 501, 505, 400, 414, 431.
    CHECK(curl("-o /dev/null -w '%{http_code}' -X POST -d x=1 " + q(server.url("/hello.txt"))).output == "501");
    CHECK(curl("-o /dev/null -w '%{http_code}' -X DELETE " + q(server.url("/hello.txt"))).output == "501");
    CHECK(status_of(exchange(server.address(), "GET / HTTP/2.0\r\n\r\n")) == 505);
    CHECK(status_of(exchange(server.address(), "GARBAGE\r\n\r\n")) == 400);
    CHECK(status_of(exchange(server.address(), "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n")) == 400);
    // RFC 9112: HTTP/1.1 without Host, two Hosts, obs-fold: 400 (curl sends Host; nc does not).
    CHECK(status_of(exchange(server.address(), "GET /hello.txt HTTP/1.1\r\n\r\n")) == 400);
    CHECK(status_of(exchange(server.address(), "GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")) == 400);
    CHECK(status_of(exchange(server.address(), "GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n")) == 400);
    CHECK(status_of(exchange(server.address(), "GET /hello.txt HTTP/1.0\r\n\r\n")) == 200);
    {
        // A TLS ClientHello on the plain port: 400 and closed at once, while the client still
        // waits (no line end comes, and the header time-out is 10 s): within 3 s here.
        auto client = test::connect_stream(server.address(), 3s);
        client.send_all(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(64, '\x7f'));
        const std::string answer = test::recv_all(client);
        CHECK(status_of(answer) == 400);
        CHECK(answer.find("Bad request syntax") != std::string::npos);
    }
    CHECK(curl("-o /dev/null -w '%{http_code}' " + q(server.url("/" + std::string(9000, 'a')))).output == "414");
    CHECK(curl("-o /dev/null -w '%{http_code}' -H " + q("X-Big: " + std::string(9000, 'b')) + " " +
               q(server.url("/hello.txt")))
              .output == "431");
    std::string many = "GET /hello.txt HTTP/1.1\r\n";
    for (int i = 0; i < 150; ++i) many += std::string("X-H").append(std::to_string(i)).append(": v\r\n");
    CHECK(status_of(exchange(server.address(), many + "\r\n")) == 431);

    // Still serving after all of that.
    CHECK(curl(q(server.url("/hello.txt"))).output == "hello world\n");
}

// Keep-alive: curl reuses one connection for several URLs; pipelined requests come back in order.
void check_keep_alive(const std::string& mode) {
    Content content;
    Server server(content.dir.path(), mode);
    const std::string connects =
        curl("-o /dev/null -o /dev/null -o /dev/null -w '%{num_connects} ' " + q(server.url("/hello.txt")) + " " +
             q(server.url("/docs/")) + " " + q(server.url("/nope")))
            .output;
    if (mode.starts_with("sync")) CHECK(connects == "1 1 1 ");  // sync mode closes after each response
    else CHECK(connects == "1 0 0 ");

    const std::string answer = exchange(server.address(),
                                        "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "GET /docs/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nBODY!"
                                        "HEAD /docs/B.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "GET /site/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if (mode.starts_with("sync")) {
        CHECK(answer.ends_with("\r\n\r\nhello world\n"));
        CHECK(answer.find("Connection: close") != std::string::npos);
        return;
    }
    const auto first = answer.find("hello world\n");
    const auto second = answer.find("\r\n\r\na", first);
    const auto third = answer.find("Content-Length: 2\r\n", second);
    const auto fourth = answer.find("<h1>site index</h1>", third);
    CHECK(first != std::string::npos);
    CHECK(second != std::string::npos);
    CHECK(third != std::string::npos);
    CHECK(fourth != std::string::npos);
    CHECK(answer.find("BODY!") == std::string::npos);
    CHECK(answer.ends_with("<h1>site index</h1>"));  // and then the server closed, as asked
}

void check_big_file(const std::string& mode) {
    Content content;
    const auto big = content.make_file("big.bin", 50 * 1024 * 1024);
    Server server(content.dir.path(), mode);
    const std::string expected = test::run("sha256sum < " + q(big.string()));
    CHECK(test::run("curl -sS --max-time 60 " + q(server.url("/big.bin")) + " | sha256sum") == expected);
    // A range from the middle of it, checked against the same bytes read locally.
    CHECK(test::run("curl -sS --max-time 60 -r 1000000-2999999 " + q(server.url("/big.bin")) + " | sha256sum") ==
          test::run("tail -c +1000001 " + q(big.string()) + " | head -c 2000000 | sha256sum"));
}

void check_concurrent_clients(const std::string& mode) {
    Content content;
    Server server(content.dir.path(), mode);
    constexpr int clients = 200;
    std::vector<sockserv::Socket> sockets;
    for (int i = 0; i < clients; ++i) sockets.push_back(test::connect_stream(server.address(), 30s));
    for (int i = 0; i < clients; ++i)
        sockets[i].send_all("GET /hello.txt?client=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    int served = 0;
    for (auto& socket : sockets) {
        const std::string answer = test::recv_all(socket);
        if (status_of(answer) == 200 && answer.ends_with("\r\n\r\nhello world\n")) ++served;
        test::hang_up(socket);
    }
    CHECK(served == clients);
}

// A client that stalls mid-request holds at most its own worker, and only until the header
// deadline; an idle one only until the idle time-out.
void check_slow_clients(const std::string& mode) {
    Content content;
    Server server(content.dir.path(), mode, {"--header-timeout", "1", "--idle-timeout", "1"});
    auto stalled = test::connect_stream(server.address(), 20s);
    stalled.send_all("GET /hello.txt HT");
    std::atomic<bool> stop{false};
    auto trickler = test::connect_stream(server.address(), 20s);
    std::thread trickle([&] {  // slowloris: a byte every 100 ms, each well inside any per-read time-out
        for (const char c : std::string("GET /hello.txt HTTP/1.1\r\nX-Slow: ") + std::string(200, 'z')) {
            if (stop) break;
            try {
                trickler.send_all(std::string(1, c));
            } catch (const std::exception&) {
                break;  // the server closed on it
            }
            std::this_thread::sleep_for(100ms);
        }
    });
    auto idle = test::connect_stream(server.address(), 20s);

    const auto started = std::chrono::steady_clock::now();
    if (!mode.starts_with("sync")) {  // in sync mode the next client waits for the deadline: that is what sync means
        CHECK(curl("--max-time 0.9 " + q(server.url("/hello.txt"))).output == "hello world\n");
        CHECK(std::chrono::steady_clock::now() - started < 900ms);
    }
    const std::string stalled_answer = test::recv_all(stalled);
    CHECK(status_of(stalled_answer) == 408);
    const std::string trickled_answer = test::recv_all(trickler);
    stop = true;
    trickle.join();
    CHECK(status_of(trickled_answer) == 408);
    CHECK(test::recv_all(idle).empty());  // closed without a word
    CHECK(std::chrono::steady_clock::now() - started < 8s);
    CHECK(curl(q(server.url("/hello.txt"))).output == "hello world\n");
    test::hang_up(stalled);
    test::hang_up(trickler);
    test::hang_up(idle);
}

void check_traversal(const std::string& mode) {
    Content content;
    Server server(content.dir.path(), mode);
    const std::string secret_name = content.outside.path().filename().string();
    for (const std::string& target : std::vector<std::string>
         {"/../" + secret_name + "/secret.txt", "/..%2f" + secret_name + "%2fsecret.txt",
          "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/docs/../../../../../etc/passwd", "/..\\..\\..\\etc\\passwd",
          "/%5c..%5c..%5cetc%5cpasswd", "/leak.txt", "/./.././../" + secret_name + "/secret.txt",
          "/%252e%252e/etc/passwd", "/..;/etc/passwd", "http://127.0.0.1/../../etc/passwd"}) {
        INFO(target);
        const std::string answer = exchange(server.address(), "GET " + target + " HTTP/1.0\r\n\r\n");
        const int status = status_of(answer);
        CHECK((status == 404 || status == 403 || status == 400));
        CHECK(answer.find(Content::secret) == std::string::npos);
        CHECK(answer.find("root:") == std::string::npos);
    }
    CHECK(curl("--path-as-is -o /dev/null -w '%{http_code}' " + q(server.url("/leak.txt"))).output == "403");
}

// One response read off a kept-alive connection: its head, then Content-Length bytes of body.
std::string read_body(const sockserv::Socket& client) {
    std::string head;
    while (!head.ends_with("\r\n\r\n")) head += test::recv_exactly(client, 1);
    REQUIRE(status_of(head) == 200);
    const auto at = head.find("Content-Length: ");
    REQUIRE(at != std::string::npos);
    return test::recv_exactly(client, std::stoul(head.substr(at + 16)));
}

// The open-file cache must never answer with a file as it was: rewritten in place (small: held in
// memory; large: held open), replaced by a rename, or deleted, the very next request sees it — on
// a kept-alive connection and on new ones.
void check_changed_files(const std::string& mode) {
    Content content;
    Server server(content.dir.path(), mode);
    // Sync mode serves one request per connection (no keep-alive): a connection each there.
    const bool keep = !mode.starts_with("sync");
    std::optional<sockserv::Socket> kept;
    const auto client = [&]() -> const sockserv::Socket& {
        if (!kept || !keep) kept.emplace(test::connect_stream(server.address(), 20s));
        return *kept;
    };
    const std::string get = "GET /changing.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 40; ++i) {
        // Sizes on both sides of the cache's in-memory limit (16 KiB).
        const std::string text = std::string(i % 3 == 0 ? 20'000 : 10, static_cast<char>('a' + i % 26)) + std::to_string(i);
        if (i % 2 == 0) {
            content.write("changing.txt", text);
        } else {
            content.write("changing.txt.new", text);
            std::filesystem::rename(content.dir / "changing.txt.new", content.dir / "changing.txt");
        }
        client().send_all(get);
        REQUIRE(read_body(*kept) == text);
        client().send_all(get);
        REQUIRE(read_body(*kept) == text);  // and again, from the cache
        if (i % 10 == 0) REQUIRE(curl(q(server.url("/changing.txt"))).output == text);
    }
    std::filesystem::remove(content.dir / "changing.txt");
    client().send_all(get);
    std::string head;
    while (!head.ends_with("\r\n\r\n")) head += test::recv_exactly(*kept, 1);
    CHECK(status_of(head) == 404);
    test::hang_up(*kept);
}

void check_stop_with_live_connection(const std::string& mode) {
    Content content;
    Server server(content.dir.path(), mode, {"--idle-timeout", "60"});
    auto client = test::connect_stream(server.address(), 20s);
    client.send_all("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(status_of(test::recv_exactly(client, 12)) == 200);  // now idle in keep-alive
    const auto started = std::chrono::steady_clock::now();
    server.process().signal(SIGTERM);
    const int status = server.process().wait(20s);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(std::chrono::steady_clock::now() - started < 5s);  // not the 60 s idle time-out
    test::hang_up(client);
}

}  // namespace

#define HTTP_MODE_TESTS(EVERY)                                                                               \
    EVERY("http_server does what python's http.server does", "[http][app]") { check_python_behaviour(mode); }  \
    EVERY("http_server keeps connections alive and answers pipelined requests in order", "[http][app]") {      \
        check_keep_alive(mode);                                                                                \
    }                                                                                                          \
    EVERY("http_server sends a 50 MB file intact", "[http][app]") { check_big_file(mode); }                     \
    EVERY("http_server serves 200 concurrent clients", "[http][app]") { check_concurrent_clients(mode); }      \
    EVERY("http_server cuts slow and idle clients off", "[http][app]") { check_slow_clients(mode); }           \
    EVERY("http_server never returns a byte from outside its directory", "[http][app]") { check_traversal(mode); } \
    EVERY("http_server stops on SIGTERM with a kept-alive client connected", "[http][app]") {                  \
        check_stop_with_live_connection(mode);                                                                 \
    }                                                                                                          \
    EVERY("http_server serves a file changed between two requests as it is now", "[http][app]") {             \
        check_changed_files(mode);                                                                             \
    }

HTTP_MODE_TESTS(TEST_EVERY_APP_MODE)
// --workers 2: the same behaviour from a master and two workers, in every mode.
HTTP_MODE_TESTS(TEST_EVERY_POOL_MODE)

TEST_EVERY_APP_MODE("behind a proxy (--proxy-protocol) the access log shows the client the PROXY header names",
                    "[http][app][proxy]") {
    Content content;
    Server server(content.dir.path(), mode, {"--proxy-protocol"});
    const std::string reply = exchange(server.address(), "PROXY TCP4 203.0.113.7 192.0.2.1 56324 80\r\n"
                                                         "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(reply.starts_with("HTTP/1.1 200"));
    CHECK_NOTHROW(server.process().wait_for_line(R"(^203\.0\.113\.7 .*"GET /hello\.txt HTTP/1\.1" 200)"));
    // Without a header the connection is closed, and said so once; serving goes on.
    CHECK(exchange(server.address(), "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n").empty());
    CHECK_NOTHROW(server.process().wait_for_line("PROXY header from 127\\.0\\.0\\.1:[0-9]+: not a PROXY protocol header"));
}

TEST_CASE("the access log escapes control characters a client sends", "[http][app]") {
    Content content;
    Server server(content.dir.path(), "thread");
    exchange(server.address(), "GET /\x1b[2J\x1b]0;owned\x07 HTTP/1.1\r\n\r\n");
    const auto line = server.process().wait_for_line(R"(\"GET /.* HTTP/1\.1\" 400)");  // Beast: bad target
    CHECK(line[0].find('\x1b') == std::string::npos);
    CHECK(line[0].find("GET /\\x1b[2J\\x1b]0;owned\\x07 HTTP/1.1") != std::string::npos);
    exchange(server.address(), std::string("GET / HTTP/1.1\r\nX: \x1b[31m\r\n\r\n"));  // 400: bad field
    CHECK(server.process().stderr_text().find('\x1b') == std::string::npos);
}

TEST_CASE("a response the client resets mid-body is logged with the bytes actually sent", "[http][app]") {
    Content content;
    constexpr std::size_t size = 32 << 20;
    content.make_file("big.bin", size);
    for (const std::string mode : {"sync", "thread", "fork", "event-1"}) {
        INFO(mode);
        Server server(content.dir.path(), mode);
        sockserv::Socket client(AF_INET, SOCK_STREAM);
        const int small = 4096;  // before connect, so the window stays small: the server stalls
        ::setsockopt(client.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        client.connect(server.address());
        client.send_all("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
        char some[1024];
        REQUIRE(client.recv(some, sizeof some) > 0);
        const linger reset{1, 0};
        ::setsockopt(client.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        client.close();
        const auto line = server.process().wait_for_line(R"re("GET /big\.bin HTTP/1\.1" 200 (\d+))re", 10s);
        const std::uint64_t sent = std::stoull(line[1]);
        CHECK(sent > 0);
        CHECK(sent < size);
        CHECK(curl(q(server.url("/hello.txt"))).output == "hello world\n");  // and it goes on serving
    }
}

TEST_CASE("http_server answers hostile bytes with an error and keeps serving", "[http][app]") {
    Content content;
    Server server(content.dir.path(), "thread");
    std::string noise;
    for (int i = 0; i < 4096; ++i) noise.push_back(static_cast<char>((i * 7919) % 256));
    for (const std::string& request : std::vector<std::string>{noise + "\r\n\r\n", std::string(70000, 'A'), std::string("\0\0\0\r\n\r\n", 7),
                                       std::string("GET / HTTP/1.1\r\n") + std::string(70000, 'h'),
                                       std::string("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
                                       std::string("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")}) {
        const std::string answer = exchange(server.address(), request);
        const int status = status_of(answer);
        INFO(request.substr(0, 40));
        CHECK((status == 400 || status == 414 || status == 431 || status == 200));
    }
    // The connection that sent a chunked body was closed after its answer; everyone else is fine.
    CHECK(curl(q(server.url("/hello.txt"))).output == "hello world\n");
}

TEST_CASE("a client still sending an oversized request reads its 414 - not a reset", "[http][app]") {
    // Like most clients, this one sends its whole request before reading. The server answers 414
    // after 8 KiB and must neither reset the connection before its answer is out nor stop serving.
    // (On loopback Linux keeps data already received readable after an RST, so this passes even
    // without http_server's lingering close; the linger matters on real networks, where a close
    // with unread input discards the answer still queued to send.)
    Content content;
    Server server(content.dir.path(), "thread");
    for (int round = 0; round < 3; ++round) {
        auto client = test::connect_stream(server.address(), 20s);
        const std::string chunk(64 * 1024, 'a');
        std::string failure;
        try {
            client.send_all("GET /");
            for (int i = 0; i < 32; ++i) client.send_all(chunk);  // 2 MB of request line
            client.send_all(" HTTP/1.1\r\n\r\n");
            client.shutdown(SHUT_WR);
        } catch (const std::exception& error) {
            failure = std::string("send: ") + error.what();
        }
        std::string answer;
        try {
            answer = test::recv_all(client);
        } catch (const std::exception& error) {
            failure += std::string(" recv: ") + error.what();
        }
        INFO(failure);
        CHECK(status_of(answer) == 414);
        CHECK(answer.find("</html>\n") != std::string::npos);
        test::hang_up(client);
    }
    CHECK(curl(q(server.url("/hello.txt"))).output == "hello world\n");
}

TEST_CASE("http_server binds IPv6 and every interface by default - and serves a Unix socket", "[http][app]") {
    Content content;
    {
        test::Process server({test::binary("http_server"), "0", "-d", content.dir.path().string()});
        const auto match = server.wait_for_line(R"(^Serving HTTP on (\S+) port (\d+) \(http://(\S+)/\))");
        const std::string port = match[2];
        if (match[1] == "::") {  // IPv6 available: both families through one dual-stack socket
            CHECK(match[3] == "[::]:" + port);
            CHECK(curl("-g " + q("http://[::1]:" + port + "/hello.txt")).output == "hello world\n");
        }
        CHECK(curl(q("http://127.0.0.1:" + port + "/hello.txt")).output == "hello world\n");
    }
    {
        const std::string path = (content.outside / "http.sock").string();
        test::Process server({test::binary("http_server"), "--unix", path, "-d", content.dir.path().string()});
        server.wait_for_line("^Serving HTTP on ");
        CHECK(curl("--unix-socket " + q(path) + " http://localhost/hello.txt").output == "hello world\n");
    }
}

TEST_CASE("with --follow-symlinks symlinks that lead out of the directory are served", "[http][app]") {
    Content content;
    Server server(content.dir.path(), "thread", {"--follow-symlinks"});
    CHECK(curl(q(server.url("/leak.txt"))).output == Content::secret);
}

TEST_CASE("http_server refuses bad options and a missing directory clearly", "[http][app]") {
    const auto run = [](const std::string& arguments) {
        return test::run_command(shell_quote(test::binary("http_server")) + " " + arguments + " 2>&1");
    };
    auto result = run("--mode bogus");
    CHECK(result.status == 2);
    CHECK(result.output.find("invalid --mode") != std::string::npos);
    result = run("70000");
    CHECK(result.status == 2);
    result = run("0 -b 127.0.0.1 --idle-timeout -1");
    CHECK(result.status == 2);
    result = run("0 -b 127.0.0.1 -d /nonexistent/sockserv");
    CHECK(result.status == 1);
    CHECK(result.output.find("/nonexistent/sockserv") != std::string::npos);
    const std::string help = run("--help").output;
    for (const char* option : {"--bind", "--directory", "--mode", "--follow-symlinks", "[port]"})
        CHECK(help.find(option) != std::string::npos);
}

TEST_CASE("event mode holds 5,000 idle and 1,000 trickling connections while fresh requests get quick answers",
          "[http][app][event-2]") {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    REQUIRE(limit.rlim_cur >= 8000);
    Content content;
    Server server(content.dir.path(), "event-2", {"--idle-timeout", "120", "--header-timeout", "120"});
    std::vector<sockserv::Socket> idle, trickling;
    for (int i = 0; i < 5000; ++i) idle.push_back(test::connect_stream(server.address()));
    for (int i = 0; i < 1000; ++i) trickling.push_back(test::connect_stream(server.address()));
    // Until the server has accepted them all (a connection is an fd there): the fresh requests are
    // timed against a server that holds 6,000 connections, not one still taking them in.
    const std::string fd_dir = "/proc/" + std::to_string(server.process().pid()) + "/fd";
    REQUIRE(test::eventually(
        [&] {
            const auto fds = std::distance(std::filesystem::directory_iterator(fd_dir), std::filesystem::directory_iterator());
            return fds >= 6000;
        },
        120s));

    // The trickle: one more byte of a request head per connection every 2 s (the slowloris), from
    // another thread while the fresh requests are timed. Bounded: three rounds.
    const std::string head = "GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    std::atomic<bool> stop{false};
    std::thread trickle([&] {
        for (std::size_t round = 0; round < 3 && !stop; ++round) {
            for (auto& socket : trickling) socket.send_all(head.substr(round, 1));
            for (int i = 0; i < 200 && !stop; ++i) std::this_thread::sleep_for(10ms);  // the 2 s pace
        }
    });

    std::vector<double> millis;
    const std::string request = "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (int i = 0; i < 50; ++i) {
        const auto begin = std::chrono::steady_clock::now();
        auto fresh = test::connect_stream(server.address());
        fresh.send_all(request);
        const std::string response = test::recv_all(fresh);
        millis.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count());
        CHECK(response.starts_with("HTTP/1.1 200 OK\r\n"));
        CHECK(response.ends_with("hello world\n"));
        std::this_thread::sleep_for(20ms);  // spread over the trickle's rounds
    }
    stop = true;
    trickle.join();
    const double slowest = *std::max_element(millis.begin(), millis.end());
    INFO("slowest fresh request: " << slowest << " ms");
    // 100 ms; a sanitizer build is allowed its slowdown, and ThreadSanitizer twice that: its own
    // bookkeeping for the fibers (shadow memory unmapped as they end, clocks acquired and released)
    // is most of the server's time here. Under TSan on an idle machine the slowest of the 50 took
    // 305-725 ms in ten runs, before the only-loop-0-accepts change as after it, and 1,175 ms once
    // in CI beside another test. The release build's 100 ms is what sees a loop held by the trickle.
#if defined(__SANITIZE_THREAD__)
    constexpr double allowed = 100.0 * test::sanitizer_slowdown * 2;
#else
    constexpr double allowed = 100.0 * test::sanitizer_slowdown;
#endif
    CHECK(slowest < allowed);

    // Every held connection is still open: nothing to read, no EOF.
    std::vector<pollfd> fds;
    for (auto* group : {&idle, &trickling})
        for (auto& socket : *group) fds.push_back({socket.fd(), POLLIN, 0});
    CHECK(::poll(fds.data(), fds.size(), 0) == 0);
}

TEST_CASE("http_server --defer-accept: Connection: close clients get whole answers, a silent one is still served",
          "[http][app]") {
    for (const std::string mode : {"event-2", "thread"}) {
        INFO(mode);
        Content content;
        Server server(content.dir.path(), mode, {"--defer-accept"});
        std::vector<sockserv::Socket> sockets;
        for (int i = 0; i < 100; ++i) sockets.push_back(test::connect_stream(server.address(), 30s));
        for (int i = 0; i < 100; ++i)
            sockets[i].send_all("GET /hello.txt?n=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        int whole = 0;
        for (auto& socket : sockets)
            if (const std::string answer = test::recv_all(socket); status_of(answer) == 200 && answer.ends_with("\r\n\r\nhello world\n"))
                ++whole;
        CHECK(whole == 100);
        // Held by the kernel while silent, passed on after about a second (then the server holds
        // its socket): it is not lost.
        auto silent = test::connect_stream(server.address(), 30s);
        const std::uint16_t port = silent.local_address().port();
        REQUIRE(test::eventually([&] { return test::holds_connection_from(server.process().pid(), port); }, 20s));
        silent.send_all("GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        CHECK(test::recv_all(silent).ends_with("\r\n\r\nhello world\n"));
        CHECK(curl(q(server.url("/hello.txt"))).output == "hello world\n");
    }
}
