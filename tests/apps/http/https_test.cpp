// http_server --tls-cert: HTTPS with real clients — curl, openssl s_client, sslscan — in every
// mode and with --workers; mutual TLS; certificates that cannot serve refused at start; hostile
// handshakes logged once while serving goes on; slow handshakes that starve nobody in event mode.

#include "../../support/every_mode.hpp"
#include "../../support/tls_support.hpp"
#include "http_fixture.hpp"

#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

using namespace http_test;
using test::shell_quote;

namespace {

const test::Certificates& certificates() {
    static const test::Certificates made;
    return made;
}

std::string cacert() { return "--cacert " + shell_quote(certificates().ca()) + " "; }

std::vector<std::string> tls_options(std::vector<std::string> more = {}) {
    auto options = certificates().server_options();
    options.insert(options.end(), more.begin(), more.end());
    return options;
}

// openssl s_client against the server, with `input` on its stdin; its whole output.
std::string s_client(const Server& server, const std::string& arguments, const std::string& input = "") {
    return test::run_command("printf %s " + shell_quote(input) + " | timeout 20 openssl s_client -connect 127.0.0.1:" +
                             std::to_string(server.port()) + " -servername localhost " + arguments + " 2>&1")
        .output;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void check_https(const std::string& mode) {
    Content content;
    constexpr std::size_t big_size = 50u << 20;
    content.make_file("big.bin", big_size);
    Server server(content.dir.path(), mode, tls_options());
    CHECK_NOTHROW(server.process().wait_for_line(R"(^http_server: TLS 1\.2-1\.3, kTLS: (on|off \(.+\))$)"));

    auto r = curl(cacert() + shell_quote(server.url("/hello.txt")));
    CHECK(r.status == 0);
    CHECK(r.output == "hello world\n");

    r = curl(cacert() + "-I " + shell_quote(server.url("/hello.txt")));
    CHECK(r.output.starts_with("HTTP/1.1 200"));
    CHECK(contains(r.output, "Content-Length: 12\r\n"));

    test::TempDir downloads;
    r = curl(cacert() + "-o " + shell_quote((downloads / "big.bin").string()) + " " + shell_quote(server.url("/big.bin")));
    CHECK(r.status == 0);
    CHECK(test::run_command("cmp " + shell_quote((downloads / "big.bin").string()) + " " +
                            shell_quote((content.dir / "big.bin").string()))
              .status == 0);

    r = curl(cacert() + "-r 0-4 " + shell_quote(server.url("/hello.txt")));
    CHECK(r.output == "hello");
    r = curl(cacert() + "-i -r 0-1,6-7 " + shell_quote(server.url("/hello.txt")));
    CHECK(r.output.starts_with("HTTP/1.1 206"));
    CHECK(contains(r.output, "Content-Type: multipart/byteranges; boundary="));
    CHECK(contains(r.output, "Content-Range: bytes 6-7/12\r\n\r\nwo\r\n"));

    r = curl(cacert() + "-D - -o /dev/null " + shell_quote(server.url("/hello.txt")));
    const auto at = r.output.find("ETag: ");
    REQUIRE(at != std::string::npos);
    const std::string etag = r.output.substr(at + 6, r.output.find("\r\n", at) - at - 6);
    r = curl(cacert() + "-o /dev/null -w '%{http_code}' -H " + shell_quote("If-None-Match: " + etag) + " " +
             shell_quote(server.url("/hello.txt")));
    CHECK(r.output == "304");

    // Several requests on one connection (sync mode answers one request per connection).
    const std::string url = shell_quote(server.url("/hello.txt"));
    r = curl(cacert() + "-o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}' " + url + " " + url + " " + url);
    CHECK(r.output == (mode.starts_with("sync") ? "111" : "100"));

    // Pipelining: two requests in one write, both answered in order over the one TLS connection.
    auto client_context = certificates().client_context();
    test::TlsClient pipelined(server.address(), *client_context, "localhost");
    pipelined.send("GET /docs/a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /docs/B.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const std::string answers = pipelined.receive_all();
    const auto second = answers.find("HTTP/1.1 200", 1);
    if (!mode.starts_with("sync")) {
        REQUIRE(second != std::string::npos);
        CHECK(answers.substr(0, second).ends_with("\r\n\r\na"));
        CHECK(answers.ends_with("\r\n\r\nbb"));
    } else {
        CHECK(answers.starts_with("HTTP/1.1 200"));
        CHECK(answers.ends_with("\r\n\r\na"));  // sync closes after the first
    }
    CHECK_NOTHROW(server.process().wait_for_line(R"("GET /docs/a\.txt HTTP/1\.1" 200 1$)"));
}

// The first record a real client sends: our TLS client's ClientHello, caught by a plain listener.
std::string real_client_hello() {
    sockserv::Socket listener(AF_INET, SOCK_STREAM);
    listener.bind(sockserv::Address("127.0.0.1", 0));
    listener.listen(1);
    const sockserv::Address at = listener.local_address();
    std::thread client([&] {
        try {
            sockserv::Socket socket = test::connect_stream(at);
            sockserv::tls::TlsStream::connect(*certificates().client_context(), socket, "localhost",
                                              sockserv::WaitClock::now() + 2s);
        } catch (const std::exception&) {
            // It gives up when the listener closes: only its first flight mattered.
        }
    });
    sockserv::Socket accepted = listener.accept();
    accepted.set_timeout(10s);
    std::string hello = test::recv_exactly(accepted, 5);
    const std::size_t length = (static_cast<unsigned char>(hello[3]) << 8) | static_cast<unsigned char>(hello[4]);
    hello += test::recv_exactly(accepted, length);
    accepted.close();
    client.join();
    return hello;
}

void reset(sockserv::Socket& socket) {
    const linger abort{1, 0};
    socket.set_option(SOL_SOCKET, SO_LINGER, abort);
    socket.close();
}

}  // namespace

TEST_EVERY_APP_MODE("HTTPS: curl gets files, HEAD, 50 MB intact, ranges, 304, keep-alive, pipelining",
                    "[http][app][tls]") {
    check_https(mode);
}

TEST_CASE("HTTPS with --workers 2: curl's requests served by both workers", "[http][app][tls][pool]") {
    check_https("event-1/w2");
}

TEST_CASE("HTTPS protocol policy, seen by openssl s_client and sslscan", "[http][app][tls][thread]") {
    Content content;
    Server server(content.dir.path(), "thread", tls_options());
    const std::string ca = "-CAfile " + shell_quote(certificates().ca()) + " ";

    // Old protocols are refused even to a client willing to use them.
    for (const std::string old : {"-tls1", "-tls1_1"}) {
        const std::string out = s_client(server, old + " -cipher DEFAULT@SECLEVEL=0", "");
        INFO(out);
        CHECK((contains(out, "alert protocol version") || contains(out, "no protocols available")));
        CHECK_FALSE(contains(out, "Cipher is ECDHE"));
    }
    for (const std::string version : {"-tls1_2", "-tls1_3"}) {
        const std::string out = s_client(server, ca + version + " -alpn http/1.1", "");
        INFO(out);
        CHECK(contains(out, version == "-tls1_2" ? "New, TLSv1.2" : "New, TLSv1.3"));
        CHECK(contains(out, "Verify return code: 0 (ok)"));
        CHECK(contains(out, "ALPN protocol: http/1.1"));
    }
    // A client that asks to renegotiate (s_client's "R" command) is refused.
    const std::string renegotiated = s_client(server, ca + "-tls1_2", "R\n");
    INFO(renegotiated);
    CHECK(contains(renegotiated, "RENEGOTIATING"));
    CHECK(contains(renegotiated, "no renegotiation"));

    // sslscan offers every protocol and cipher: only TLS 1.2/1.3 and the intermediate list pass.
    const auto scan = test::run_command("timeout 120 sslscan --no-colour 127.0.0.1:" + std::to_string(server.port()) + " 2>&1");
    INFO(scan.output);
    for (const std::string off : {"SSLv2     disabled", "SSLv3     disabled", "TLSv1.0   disabled", "TLSv1.1   disabled",
                                  "TLSv1.2   enabled", "TLSv1.3   enabled", "Session renegotiation not supported"})
        CHECK(contains(scan.output, off));
    const std::vector<std::string> allowed{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                           "TLS_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256",
                                           "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"};
    std::istringstream lines(scan.output);
    int ciphers = 0;
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("Accepted") && !line.starts_with("Preferred")) continue;
        ++ciphers;
        std::istringstream words(line);
        std::string status, protocol, bits, unit, cipher;
        words >> status >> protocol >> bits >> unit >> cipher;
        INFO(line);
        CHECK((protocol == "TLSv1.2" || protocol == "TLSv1.3"));
        CHECK(std::find(allowed.begin(), allowed.end(), cipher) != allowed.end());
    }
    CHECK(ciphers >= 4);
}

TEST_CASE("HTTPS session resumption: a ticket from one worker resumes on the others", "[http][app][tls][pool]") {
    Content content;
    Server server(content.dir.path(), "thread/w2", tls_options());
    const auto workers = test::started_workers(server.process());
    test::TempDir sessions;
    const std::string ca = "-CAfile " + shell_quote(certificates().ca()) + " ";
    const std::string request = "GET /hello.txt HTTP/1.0\r\n\r\n";
    for (const std::string version : {"-tls1_2", "-tls1_3"}) {
        const std::string saved = (sessions / ("session" + version)).string();
        // -ign_eof: s_client reads on until the server closes, so it has TLS 1.3's ticket,
        // which comes after the handshake.
        const std::string first = s_client(server, ca + version + " -ign_eof -sess_out " + shell_quote(saved), request);
        INFO(first);
        CHECK(contains(first, "New, TLSv1."));
        CHECK(contains(first, "hello world"));
        for (int i = 0; i < 6; ++i) {  // the listener hands these to either worker
            const std::string again = s_client(server, ca + version + " -ign_eof -sess_in " + shell_quote(saved), request);
            INFO(again);
            CHECK(contains(again, "Reused, TLSv1."));
            CHECK(contains(again, "hello world"));
        }
        // A resumed TLS 1.3 connection gets a fresh ticket, which resumes in turn: a client that
        // keeps one session (wrk, or RFC 8446's one use per ticket) resumes every time, not every
        // other. (s_client saves no renewed TLS 1.2 session, so 1.3 only.)
        if (version == "-tls1_3") {
            const std::string renewed = (sessions / ("renewed" + version)).string();
            const std::string chained = s_client(server, ca + version + " -ign_eof -sess_in " + shell_quote(saved) +
                                                             " -sess_out " + shell_quote(renewed), request);
            CHECK(contains(chained, "Reused, TLSv1."));
            const std::string from_renewed = s_client(server, ca + version + " -ign_eof -sess_in " + shell_quote(renewed), request);
            INFO(from_renewed);
            CHECK(contains(from_renewed, "Reused, TLSv1."));
        }
        // New worker processes (a reload) resume it too: the key is the pool's, not a process's.
        server.process().signal(SIGHUP);
        server.process().wait_for_line("reload: new workers");
        const std::string reloaded = s_client(server, ca + version + " -ign_eof -sess_in " + shell_quote(saved), request);
        INFO(reloaded);
        CHECK(contains(reloaded, "Reused, TLSv1."));
    }
    for (const pid_t old : workers) CHECK(test::eventually([&] { return !test::process_running(old); }, 20s));
}

TEST_CASE("HTTPS reload: SIGHUP reads a new certificate - a bad one keeps the workers serving and says why",
          "[http][app][tls][pool]") {
    Content content;
    test::TempDir dir;
    const std::string cert = (dir / "cert.pem").string();
    const std::string key = (dir / "key.pem").string();
    std::filesystem::copy_file(certificates().server_cert(), cert);
    std::filesystem::copy_file(certificates().server_key(), key);
    Server server(content.dir.path(), "event-1/w2", {"--tls-cert", cert, "--tls-key", key});
    const std::string url = shell_quote(server.url("/hello.txt"));
    CHECK(curl(cacert() + url).output == "hello world\n");

    // A key that does not match: refused, said, and the old workers go on serving.
    std::filesystem::copy_file(certificates().other_key(), key, std::filesystem::copy_options::overwrite_existing);
    server.process().signal(SIGHUP);
    CHECK_NOTHROW(server.process().wait_for_line(
        "reload refused: --tls-key .*key\\.pem: does not match the certificate .*; the workers serve on"));
    CHECK(curl(cacert() + url).output == "hello world\n");

    // A certificate from another CA (with its key): after the reload curl trusts only that CA.
    test::Certificates other;
    std::filesystem::copy_file(other.server_cert(), cert, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(other.server_key(), key, std::filesystem::copy_options::overwrite_existing);
    server.process().signal(SIGHUP);
    CHECK_NOTHROW(server.process().wait_for_line("reload: TLS certificate and key read again"));
    CHECK_NOTHROW(server.process().wait_for_line("reload: new workers"));
    CHECK(test::eventually([&] {
        return curl("--cacert " + shell_quote(other.ca()) + " " + url).output == "hello world\n";
    }, 20s));
    CHECK(test::eventually([&] { return curl(cacert() + url).status != 0; }, 20s));
}

TEST_CASE("mutual TLS: no client certificate, no service - with one, served", "[http][app][tls][thread]") {
    Content content;
    Server server(content.dir.path(), "thread", tls_options({"--tls-client-ca", certificates().ca()}));
    const std::string url = shell_quote(server.url("/hello.txt"));
    auto r = curl(cacert() + url);
    CHECK(r.status != 0);
    CHECK_NOTHROW(server.process().wait_for_line(R"(TLS handshake with 127\.0\.0\.1:\d+: peer did not return a certificate; closed)"));
    r = curl(cacert() + "--cert " + shell_quote(certificates().client_cert()) + " --key " +
             shell_quote(certificates().client_key()) + " " + url);
    CHECK(r.status == 0);
    CHECK(r.output == "hello world\n");
    // A certificate from a CA the server does not trust is refused too.
    test::Certificates stranger;
    r = curl(cacert() + "--cert " + shell_quote(stranger.client_cert()) + " --key " +
             shell_quote(stranger.client_key()) + " " + url);
    CHECK(r.status != 0);
    CHECK_NOTHROW(server.process().wait_for_line(R"(TLS handshake with 127\.0\.0\.1:\d+: certificate verify failed; closed)"));
}

TEST_CASE("a certificate or key that cannot serve stops http_server at start: one line, exit 2", "[http][app][tls]") {
    Content content;
    const test::Certificates& made = certificates();
    struct Case {
        std::vector<std::string> options;
        std::string says;
    };
    const std::vector<Case> cases{
        {{"--tls-cert", made.path("missing.pem")}, "--tls-cert " + made.path("missing.pem") + ": No such file or directory"},
        {{"--tls-cert", made.server_cert()}, "--tls-cert " + made.server_cert() + ": "},
        {{"--tls-cert", made.server_cert(), "--tls-key", made.other_key()}, "does not match the certificate"},
        {{"--tls-cert", made.server_cert(), "--tls-key", made.server_key_encrypted()}, "the key is encrypted"},
        {{"--tls-cert", made.server_cert(), "--tls-key", made.server_key_encrypted(), "--tls-password-file",
          made.wrong_password_file()},
         "cannot decrypt the key"},
        {{"--tls-key", made.server_key()}, "--tls-key needs --tls-cert"},
        {{"--tls-handshake-timeout", "3"}, "--tls-handshake-timeout needs --tls-cert"},
        {{"--tls-cert", made.server_cert(), "--tls-key", made.server_key(), "--tls-handshake-timeout", "0"},
         "invalid --tls-handshake-timeout '0'"},
    };
    for (const Case& c : cases) {
        std::vector<std::string> argv{test::binary("http_server"), "0", "-b", "127.0.0.1", "-d", content.dir.path().string()};
        argv.insert(argv.end(), c.options.begin(), c.options.end());
        test::Process process(argv);
        CHECK(WEXITSTATUS(process.wait()) == 2);
        const std::string said = process.stderr_text();
        INFO(said);
        CHECK(std::count(said.begin(), said.end(), '\n') == 1);
        CHECK(said.starts_with("http_server: error: "));
        CHECK(contains(said, c.says));
    }
    // With the password, the encrypted key serves.
    Server server(content.dir.path(), "thread",
                  {"--tls-cert", made.server_cert(), "--tls-key", made.server_key_encrypted(), "--tls-password-file",
                   made.password_file()});
    CHECK(curl(cacert() + shell_quote(server.url("/hello.txt"))).output == "hello world\n");
}

TEST_EVERY_APP_MODE("hostile TLS clients are each logged once, serving goes on and no fd leaks",
                    "[http][app][tls]") {
    Content content;
    content.make_file("big.bin", 8u << 20);
    Server server(content.dir.path(), mode, tls_options({"--tls-handshake-timeout", "0.5"}));
    const std::string url = shell_quote(server.url("/hello.txt"));
    REQUIRE(curl(cacert() + url).output == "hello world\n");
    // The files the test fetches are asked for once first: the open-file cache holds the big one
    // open (and its inotify fd), which is not a leak.
    REQUIRE(curl(cacert() + "-I " + shell_quote(server.url("/big.bin"))).output.starts_with("HTTP/1.1 200"));
    const int fds_at_start = test::open_fd_count(server.process().pid());
    const std::string hello = real_client_hello();
    const std::string peer = R"(TLS handshake with 127\.0\.0\.1:\d+: )";

    // Garbage where the ClientHello belongs.
    CHECK(exchange(server.address(), std::string(300, '\x7f')).empty());
    CHECK_NOTHROW(server.process().wait_for_line(peer + "(wrong version number|packet length too long|unknown protocol|"
                                                 "record layer failure); closed"));
    // Plain HTTP to the HTTPS port: a clean close (no reply), logged.
    CHECK(exchange(server.address(), "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n").empty());
    CHECK_NOTHROW(server.process().wait_for_line(peer + "plain HTTP, not TLS; closed"));
    {
        // Half a ClientHello, then silence: the handshake time-out closes it.
        auto client = test::connect_stream(server.address());
        client.send_all(std::string_view(hello).substr(0, hello.size() / 2));
        CHECK(test::recv_all(client).empty());
        CHECK_NOTHROW(server.process().wait_for_line(peer + "no handshake within 500 ms; closed"));
    }
    {
        // A whole ClientHello, the server's answer read, then a reset.
        auto client = test::connect_stream(server.address());
        client.send_all(hello);
        char some[64];
        CHECK(client.recv(some, sizeof some) > 0);
        reset(client);
        CHECK_NOTHROW(server.process().wait_for_line(peer + "Connection reset by peer; closed"));
    }
    {
        // A reset in the middle of a response body: the access log has the bytes that went.
        test::TlsClient client(server.address(), *certificates().client_context(), "localhost");
        client.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(client.receive_exactly(100'000).size() == 100'000);
        reset(client.socket());
        const auto line = server.process().wait_for_line(R"("GET /big\.bin HTTP/1\.1" 200 (\d+)$)");
        CHECK(std::stoull(line[1]) < (8u << 20));
    }
    // Each was said once: four failed handshakes in all.
    CHECK(curl(cacert() + url).output == "hello world\n");
    const std::string log = server.process().stderr_text();
    std::size_t said = 0;
    for (std::size_t at = 0; (at = log.find("TLS handshake with", at)) != std::string::npos; ++at) ++said;
    CHECK(said == 4);
    // Every connection's fd closed again (fork mode: the parent's).
    CHECK(test::eventually([&] { return test::open_fd_count(server.process().pid()) <= fds_at_start; }));
}

TEST_CASE("event mode: 2,000 silent and 200 trickling handshakes starve no fresh HTTPS client",
          "[http][app][tls][event]") {
    // Each side needs an fd per connection.
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = std::max<rlim_t>(files.rlim_cur, std::min<rlim_t>(files.rlim_max, 16384));
    ::setrlimit(RLIMIT_NOFILE, &files);
    REQUIRE(files.rlim_cur >= 8192);

    Content content;
    Server server(content.dir.path(), "event-2", tls_options({"--tls-handshake-timeout", "60"}));
    const std::string hello = real_client_hello();
    std::vector<sockserv::Socket> silent;
    for (int i = 0; i < 2000; ++i) silent.push_back(test::connect_stream(server.address()));
    std::vector<sockserv::Socket> trickling;
    for (int i = 0; i < 200; ++i) trickling.push_back(test::connect_stream(server.address()));
    // The server holds them all (accepted, each waiting for its hello) before anything is timed.
    const pid_t pid = server.process().pid();
    REQUIRE(test::eventually([&] { return test::open_fd_count(pid) >= 2200; }, 60s));

    std::atomic<bool> done{false};
    std::size_t trickled = 0;
    std::thread trickle([&] {
        // One byte of the ClientHello each second on each of the 200.
        for (std::size_t byte = 0; !done && byte < hello.size(); ++byte) {
            for (auto& socket : trickling) socket.send_all(std::string_view(hello).substr(byte, 1));
            trickled = byte + 1;
            for (int i = 0; i < 10 && !done; ++i) std::this_thread::sleep_for(100ms);
        }
    });
    auto client_context = certificates().client_context();
    std::vector<double> times;
    const auto limit = 200ms * test::sanitizer_slowdown;
    int slow = 0;
    for (int i = 0; i < 50; ++i) {
        const auto start = std::chrono::steady_clock::now();
        test::TlsClient client(server.address(), *client_context, "localhost");
        client.send("GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        const std::string answer = client.receive_all();
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(answer.starts_with("HTTP/1.1 200"));
        CHECK(answer.ends_with("hello world\n"));
        if (took > limit) ++slow;
        times.push_back(std::chrono::duration<double, std::milli>(took).count());
        if (i % 10 == 9) std::this_thread::sleep_for(500ms);  // across several trickle rounds
    }
    done = true;
    trickle.join();
    INFO("each request's time, ms: " << [&] {
        std::string list;
        for (double t : times) list += std::to_string(static_cast<int>(t)) + " ";
        return list;
    }());
    CHECK(slow == 0);
    CHECK(trickled >= 2);
    // The held connections were still open (not shed to make room): each still waits for its hello.
    int open = 0;
    for (auto& socket : silent) {
        char byte;
        if (::recv(socket.fd(), &byte, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN) ++open;
    }
    CHECK(open == 2000);
}
