#include "tls_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>

namespace test {

namespace {
void openssl(const TempDir& dir, const std::string& arguments) {
    run("cd " + shell_quote(dir.path().string()) + " && openssl " + arguments + " 2>&1");
}
}  // namespace

Certificates::Certificates() {
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    const std::string ca_ext = "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign";
    openssl(dir_, "req -x509 " + ec + " -days 2 -subj '/CN=sockserv test CA' -keyout ca.key -out ca.pem " + ca_ext);
    openssl(dir_, "req -x509 " + ec + " -days 2 -subj '/CN=sockserv other CA' -keyout other-ca.key -out other-ca.pem " + ca_ext);
    std::ofstream(dir_ / "server.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
                                          "extendedKeyUsage=serverAuth\n";
    std::ofstream(dir_ / "client.ext") << "extendedKeyUsage=clientAuth\n";
    openssl(dir_, "req " + ec + " -subj /CN=localhost -keyout server.key -out server.csr");
    openssl(dir_, "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext "
                  "-out server.pem");
    openssl(dir_, "req " + ec + " -subj /CN=sockserv-test-client -keyout client.key -out client.csr");
    openssl(dir_, "x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext "
                  "-out client.pem");
    openssl(dir_, "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key");
    std::ofstream(dir_ / "password.txt") << "correct horse battery staple\n";
    std::ofstream(dir_ / "wrong-password.txt") << "not the password\n";
    openssl(dir_, "pkey -in server.key -aes256 -passout file:password.txt -out server-encrypted.key");
    run("cat " + shell_quote(server_cert()) + " " + shell_quote(server_key()) + " > " + shell_quote(server_combined()));
}

std::shared_ptr<const sockserv::tls::ServerContext> Certificates::server_context(std::vector<std::string> alpn) const {
    sockserv::tls::ServerSettings settings;
    settings.certificate = server_cert();
    settings.key = server_key();
    settings.alpn = std::move(alpn);
    return std::make_shared<const sockserv::tls::ServerContext>(settings);
}

std::shared_ptr<const sockserv::tls::ClientContext> Certificates::client_context(bool with_client_cert) const {
    sockserv::tls::ClientSettings settings;
    settings.ca_file = ca();
    if (with_client_cert) {
        settings.certificate = client_cert();
        settings.key = client_key();
    }
    return std::make_shared<const sockserv::tls::ClientContext>(settings);
}

TlsClient::TlsClient(const sockserv::Address& address, const sockserv::tls::ClientContext& context,
                     const std::string& server_name, std::chrono::milliseconds timeout)
    : socket_(connect_stream(address, timeout)),
      stream_(sockserv::tls::TlsStream::connect(context, socket_, server_name, sockserv::WaitClock::now() + timeout)) {}

void TlsClient::send(std::string_view data) {
    std::uint64_t sent = 0;
    stream_->send_all(data, false, sent);
}

std::string TlsClient::receive_exactly(std::size_t count) {
    std::string data(count, '\0');
    std::size_t got = 0;
    while (got < count) {
        const std::size_t n = stream_->receive(data.data() + got, count - got);
        if (n == 0) break;
        got += n;
    }
    data.resize(got);
    return data;
}

std::string TlsClient::receive_all() {
    std::string data;
    char buffer[16384];
    while (const std::size_t n = stream_->receive(buffer, sizeof buffer)) data.append(buffer, n);
    return data;
}

}  // namespace test
