// TLS in the framework: the echo handler of the transport matrix, unchanged, over TLS in every
// mode and on TCP and Unix stream sockets; the library's TLS client checking names and CAs; a
// certificate, key or password that cannot serve refused when the context is made.

#include "../../../apps/echo/echo_handlers.hpp"
#include "../../support/every_mode.hpp"
#include "../../support/tls_support.hpp"

#include <catch2/catch.hpp>

using namespace sockserv;
using echo::StreamEcho;
using namespace std::chrono_literals;

namespace {

const test::Certificates& certificates() {
    static const test::Certificates made;
    return made;
}

// The matrix's check, over TLS: two clients at once where the mode is concurrent, echo both ways,
// and the client's close (close_notify, then a half-close) ends the handler, whose last bytes
// still arrive.
template <class Server>
void check_tls_echo(const Address& address, bool concurrent) {
    ServerConfig config;
    config.tls = certificates().server_context();
    Server server{address, config};
    test::Running running(server);
    const Address bound = server.server_address();
    const auto client_context = certificates().client_context();
    const std::string name = bound.is_unix() ? "localhost" : "127.0.0.1";

    test::TlsClient first(bound, *client_context, name);
    first.send("hello\n");
    CHECK(first.receive_exactly(6) == "hello\n");
    if (concurrent) {
        test::TlsClient second(bound, *client_context, name);
        second.send("second client\nmore\n");
        CHECK(second.receive_exactly(19) == "second client\nmore\n");
    }
    const std::string big(200'000, 'z');  // many records each way
    first.send(big + "\n");
    CHECK(first.receive_exactly(big.size() + 1) == big + "\n");
    first.send("world\n");
    first.stream().finish();
    first.socket().shutdown(SHUT_WR);
    CHECK(first.receive_all() == "world\n");
}

// Fork mode here forks a process whose other thread (the client) is allocating. glibc's malloc
// is safe across that fork; ASan's allocator is not: its lock, held by the client's thread at
// the fork, stays held in the child, whose first malloc (OpenSSL's) waits forever. The programs
// fork from a single thread, and fork mode over TLS is tested with them under ASan
// (tests/apps/http/https_test.cpp, tests/apps/echo).
bool fork_unsafe_here(const ModeInfo& mode) {
#if defined(__SANITIZE_ADDRESS__)
    return mode.mode == Mode::fork;
#else
    (void)mode;
    return false;
#endif
}

}  // namespace

TEST_EVERY_MODE("TCP echo over TLS, with the matrix's own handler", "[tcp][tls]") {
    if (fork_unsafe_here(mode)) return;
    check_tls_echo<Policy<TCPServer<StreamEcho>>>(Address("127.0.0.1", 0), mode.concurrent);
}

TEST_EVERY_MODE("Unix stream echo over TLS, with the matrix's own handler", "[unix][tls]") {
    if (fork_unsafe_here(mode)) return;
    test::TempDir dir;
    check_tls_echo<Policy<UnixStreamServer<StreamEcho>>>(Address::unix_path((dir / "s.sock").string()), mode.concurrent);
}

TEST_CASE("the TLS client checks the server's name and CA", "[tls][sync]") {
    ServerConfig config;
    config.tls = certificates().server_context({"http/1.1"});
    ThreadingTCPServer<StreamEcho> server{Address("127.0.0.1", 0), config};
    test::Running running(server);
    const Address bound = server.server_address();

    for (const std::string name : {"127.0.0.1", "localhost"}) {
        test::TlsClient client(bound, *certificates().client_context(), name);
        CHECK(client.stream().version() == "TLSv1.3");
        client.send("x\n");
        CHECK(client.receive_exactly(2) == "x\n");
    }
    try {
        test::TlsClient client(bound, *certificates().client_context(), "wrong.example");
        FAIL("a certificate for another name was accepted");
    } catch (const tls::HandshakeError& error) {
        CHECK(std::string(error.what()).find("certificate verify failed") != std::string::npos);
    }
    tls::ClientSettings other;
    other.ca_file = certificates().other_ca();
    tls::ClientContext other_context(other);
    CHECK_THROWS_AS(test::TlsClient(bound, other_context, "127.0.0.1"), tls::HandshakeError);

    // ALPN: the server's choice from what the client offers.
    tls::ClientSettings with_alpn;
    with_alpn.ca_file = certificates().ca();
    with_alpn.alpn = {"h2", "http/1.1"};
    tls::ClientContext alpn_context(with_alpn);
    test::TlsClient alpn_client(bound, alpn_context, "localhost");
    CHECK(alpn_client.stream().alpn() == "http/1.1");
}

TEST_CASE("a certificate, key or password that cannot serve is refused when the context is made", "[tls][sync]") {
    const test::Certificates& made = certificates();
    auto refused = [](tls::ServerSettings settings) -> std::string {
        try {
            tls::ServerContext context(std::move(settings));
        } catch (const tls::ConfigError& error) {
            return error.what();
        }
        return "accepted";
    };
    tls::ServerSettings good;
    good.certificate = made.server_cert();
    good.key = made.server_key();
    CHECK(refused(good) == "accepted");

    tls::ServerSettings combined;
    combined.certificate = made.server_combined();
    CHECK(refused(combined) == "accepted");

    auto missing = good;
    missing.certificate = made.path("nothing.pem");
    CHECK(refused(missing) == "--tls-cert " + made.path("nothing.pem") + ": No such file or directory");

    auto not_pem = good;
    not_pem.certificate = made.path("server.ext");
    CHECK(refused(not_pem).starts_with("--tls-cert " + made.path("server.ext") + ": "));

    auto mismatched = good;
    mismatched.key = made.other_key();
    CHECK(refused(mismatched).find("does not match the certificate") != std::string::npos);

    auto no_key = good;
    no_key.key.clear();  // the certificate file holds none
    CHECK(refused(no_key).starts_with("--tls-cert " + made.server_cert() + ": "));

    auto encrypted = good;
    encrypted.key = made.server_key_encrypted();
    CHECK(refused(encrypted).find("the key is encrypted: give its password with --tls-password-file") != std::string::npos);
    encrypted.password_file = made.wrong_password_file();
    CHECK(refused(encrypted).find("cannot decrypt the key") != std::string::npos);
    encrypted.password_file = made.password_file();
    CHECK(refused(encrypted) == "accepted");

    auto client_ca = good;
    client_ca.client_ca = made.path("missing-ca.pem");
    CHECK(refused(client_ca) == "--tls-client-ca " + made.path("missing-ca.pem") + ": No such file or directory");
}
