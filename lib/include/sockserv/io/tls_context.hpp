#pragma once
// TLS settings made once and shared by every connection: a server's certificate, key and policy
// (ServerContext), a client's trust (ClientContext). Made before a --workers master forks, so
// every worker holds the same context and the same session-ticket keys: a client resumes on any
// worker.
//
// The policy is fixed, not tuned: TLS 1.2 and 1.3 only, Mozilla's "intermediate" ciphers for 1.2,
// no compression, no renegotiation, stateless session tickets whose keys rotate every hour.
// OpenSSL types stay out of this header (a user's compile does not parse <openssl/ssl.h>).

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct ssl_ctx_st;

namespace sockserv::tls {

/// A certificate, key or CA file that cannot be used; what() is one line naming the file.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// What a TLS server is given (the shared options --tls-cert, --tls-key, --tls-password-file,
/// --tls-client-ca, Python 3.14's names).
struct ServerSettings {
    /// PEM: the certificate, then its chain; it may hold the key too.
    std::string certificate;
    /// PEM private key; empty: it is in `certificate`.
    std::string key;
    /// A file whose first line is the key's password; empty: the key is not encrypted.
    std::string password_file;
    /// PEM CAs: when set, every client must present a certificate they signed (mutual TLS).
    std::string client_ca;
    /// ALPN protocols the server speaks, preferred first ({"http/1.1"}); empty: no ALPN.
    std::vector<std::string> alpn;
    /// A connection's whole handshake, from accept: a client that dawdles is closed after it.
    std::chrono::milliseconds handshake_timeout{10000};
};

/// The session-ticket secret. Each hour's keys (name, AES-256 key, HMAC key) are derived from it
/// and the hour's number, so every process holding it agrees on them without talking: a ticket
/// is made with the current hour's key and accepted under the two hours before it too (OpenSSL's
/// default ticket lifetime is two hours), then renewed.
class TicketSecret;

class ServerContext {
public:
    /// Loads and checks the files: the certificate chain, the key (decrypted with the password),
    /// that they match, the client CAs. Throws ConfigError. tickets: share another context's
    /// secret (a reload keeps clients' tickets valid); empty: a new random one.
    explicit ServerContext(ServerSettings settings, std::shared_ptr<const TicketSecret> tickets = {});
    ~ServerContext();
    ServerContext(const ServerContext&) = delete;
    ServerContext& operator=(const ServerContext&) = delete;

    const ServerSettings& settings() const noexcept { return settings_; }
    /// The files read again, into a new context with the same ticket secret. Throws ConfigError.
    std::shared_ptr<const ServerContext> reloaded() const;

    /// Whether connections try kernel TLS for sending files, and why not: "on", or "off (no tls
    /// module in this kernel)". Whether one connection got it, OpenSSL says after its handshake.
    const std::string& ktls() const noexcept { return ktls_; }
    /// One line for a start banner: "TLS 1.2-1.3, mutual (client certificates), kTLS: off (...)".
    std::string describe() const;

    ssl_ctx_st* native() const noexcept { return context_; }

private:
    ServerSettings settings_;
    std::shared_ptr<const TicketSecret> tickets_;
    std::string ktls_;
    std::string alpn_wire_;
    ssl_ctx_st* context_ = nullptr;
};

/// What a TLS client trusts and shows.
struct ClientSettings {
    /// PEM CAs that sign the servers it accepts; empty: the system's (/etc/ssl/certs).
    std::string ca_file;
    /// A certificate (and key) to present, for servers that ask (mutual TLS); empty: none.
    std::string certificate;
    std::string key;
    std::vector<std::string> alpn;
};

class ClientContext {
public:
    /// Throws ConfigError.
    explicit ClientContext(ClientSettings settings);
    ~ClientContext();
    ClientContext(const ClientContext&) = delete;
    ClientContext& operator=(const ClientContext&) = delete;

    const ClientSettings& settings() const noexcept { return settings_; }
    ssl_ctx_st* native() const noexcept { return context_; }

private:
    ClientSettings settings_;
    ssl_ctx_st* context_ = nullptr;
};

/// OpenSSL's error queue for this thread as one line ("error:0A00010B:SSL routines::wrong version
/// number" → "wrong version number"), emptied; fallback when it holds nothing.
std::string take_error(const std::string& fallback);

}  // namespace sockserv::tls
