#pragma once
// TLS for the tests: certificates made by the openssl command for each test (a throwaway CA, a
// server certificate for localhost, 127.0.0.1 and ::1, a client certificate; nothing committed
// that could expire), and a client connection through the library's own TLS client.

#include "test_support.hpp"

#include <sockserv/io/tls_stream.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace test {

/// Every file lives in a temporary directory that goes with the object.
class Certificates {
public:
    /// Makes them (ECDSA P-256, valid two days): about 50 ms of openssl commands.
    Certificates();
    std::string ca() const { return path("ca.pem"); }
    std::string server_cert() const { return path("server.pem"); }
    std::string server_key() const { return path("server.key"); }
    /// The server's certificate and key in one file (--tls-cert alone).
    std::string server_combined() const { return path("combined.pem"); }
    /// The server key encrypted with AES-256 under the password in password_file().
    std::string server_key_encrypted() const { return path("server-encrypted.key"); }
    std::string password_file() const { return path("password.txt"); }
    std::string wrong_password_file() const { return path("wrong-password.txt"); }
    /// A key that is not the server certificate's.
    std::string other_key() const { return path("other.key"); }
    /// A client certificate signed by ca(), for mutual TLS.
    std::string client_cert() const { return path("client.pem"); }
    std::string client_key() const { return path("client.key"); }
    /// A second CA, which signed nothing of the above.
    std::string other_ca() const { return path("other-ca.pem"); }
    /// The server options: --tls-cert server.pem --tls-key server.key.
    std::vector<std::string> server_options() const { return {"--tls-cert", server_cert(), "--tls-key", server_key()}; }
    /// The server's context as a ServerConfig takes it (ALPN as given).
    std::shared_ptr<const sockserv::tls::ServerContext> server_context(std::vector<std::string> alpn = {}) const;
    /// A client context that trusts ca() (and presents client.pem when with_client_cert).
    std::shared_ptr<const sockserv::tls::ClientContext> client_context(bool with_client_cert = false) const;
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

private:
    TempDir dir_;
};

/// A TLS connection made with the library's client: the handshake done, the name checked.
class TlsClient {
public:
    TlsClient(const sockserv::Address& address, const sockserv::tls::ClientContext& context,
              const std::string& server_name = "127.0.0.1", std::chrono::milliseconds timeout = 20s);
    void send(std::string_view data);
    /// Up to `count` bytes, fewer only at EOF.
    std::string receive_exactly(std::size_t count);
    /// Everything until the server closes.
    std::string receive_all();
    sockserv::tls::TlsStream& stream() { return *stream_; }
    sockserv::Socket& socket() { return socket_; }

private:
    sockserv::Socket socket_;
    std::unique_ptr<sockserv::tls::TlsStream> stream_;
};

}  // namespace test
