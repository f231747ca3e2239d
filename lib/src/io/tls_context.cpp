#include <sockserv/io/tls_context.hpp>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <system_error>

namespace sockserv::tls {

namespace {

// Mozilla's "intermediate" configuration (version 5.7) for TLS 1.2; TLS 1.3's suites are
// OpenSSL's defaults, which are the same list.
constexpr const char* intermediate_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

constexpr long ticket_lifetime_seconds = 7200;
constexpr std::time_t ticket_key_period_seconds = 3600;
// A ticket lives two hours; a key made it at most one period before that. Every resumption renews
// the ticket, under the current key.
constexpr std::time_t ticket_key_periods_accepted = 3;

std::string error_reason(unsigned long code) {
    const char* reason = ERR_reason_error_string(code);
    if (reason) return reason;
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

// A file we cannot open says so as the system does ("No such file or directory"), before
// OpenSSL's less helpful "system lib".
void require_readable(const std::string& option, const std::string& path) {
    if (path.empty()) throw ConfigError(option + ": no file given");
    if (::access(path.c_str(), R_OK) != 0)
        throw ConfigError(option + " " + path + ": " + std::generic_category().message(errno));
}

std::string read_password(const std::string& path) {
    require_readable("--tls-password-file", path);
    std::ifstream in(path);
    std::string password;
    std::getline(in, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    return password;
}

int give_password(char* buffer, int size, int, void* user) {
    const std::string& password = *static_cast<const std::string*>(user);
    if (password.size() > static_cast<std::size_t>(size)) return -1;
    std::memcpy(buffer, password.data(), password.size());
    return static_cast<int>(password.size());
}

int no_password(char*, int, int, void*) { return -1; }

// ALPN's wire form: each protocol preceded by its length.
std::string alpn_wire(const std::vector<std::string>& protocols) {
    std::string wire;
    for (const std::string& protocol : protocols) {
        if (protocol.empty() || protocol.size() > 255) throw ConfigError("ALPN protocol \"" + protocol + "\": bad length");
        wire.push_back(static_cast<char>(protocol.size()));
        wire.append(protocol);
    }
    return wire;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                unsigned int in_length, void* user) {
    const auto& ours = *static_cast<const std::string*>(user);
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, reinterpret_cast<const unsigned char*>(ours.data()),
                              static_cast<unsigned>(ours.size()), in, in_length) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;  // none in common: go on without ALPN, as nginx does
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

// Whether the kernel can take over sending: its tls module is loaded, or installed (the first
// connection that asks loads it). Asked once per context.
std::string kernel_tls_status() {
    if (::access("/sys/module/tls", F_OK) == 0) return "on";
    utsname system{};
    if (::uname(&system) == 0) {
        const std::string modules = std::string("/lib/modules/") + system.release + "/kernel/net/tls";
        if (::access(modules.c_str(), F_OK) == 0) return "on";
    }
    return "off (no tls module in this kernel)";
}

int context_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

}  // namespace

std::string take_error(const std::string& fallback) {
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        if (!text.empty()) continue;  // the first says what went wrong; the rest is the call stack
        text = error_reason(code);
    }
    return text.empty() ? fallback : text;
}

class TicketSecret {
public:
    TicketSecret() {
        if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1)
            throw ConfigError("session tickets: " + take_error("no random bytes"));
    }

    struct Keys {
        std::array<unsigned char, 16> name;
        std::array<unsigned char, 32> aes;
        std::array<unsigned char, 32> hmac;
    };

    Keys keys(std::time_t period) const {
        Keys keys;
        derive('n', period, keys.name.data(), keys.name.size());
        derive('a', period, keys.aes.data(), keys.aes.size());
        derive('h', period, keys.hmac.data(), keys.hmac.size());
        return keys;
    }

private:
    void derive(char label, std::time_t period, unsigned char* out, std::size_t size) const {
        unsigned char input[9];
        input[0] = static_cast<unsigned char>(label);
        auto value = static_cast<std::uint64_t>(period);
        for (int i = 8; i >= 1; --i, value >>= 8) input[i] = static_cast<unsigned char>(value & 0xff);
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), input, sizeof input, digest, &length);
        std::memcpy(out, digest, std::min<std::size_t>(size, length));
    }

    std::array<unsigned char, 32> secret_{};
};

namespace {

// This hour's keys, kept per thread: every full handshake makes two tickets, and deriving their
// keys each time (three HMACs) was a tenth of a handshake's cost.
const TicketSecret::Keys& current_keys(const TicketSecret& secret, std::time_t period) {
    struct Cached {
        const TicketSecret* secret = nullptr;
        std::time_t period = -1;
        TicketSecret::Keys keys;
    };
    thread_local Cached cached;
    if (cached.secret != &secret || cached.period != period) {
        cached.keys = secret.keys(period);
        cached.secret = &secret;
        cached.period = period;
    }
    return cached.keys;
}

// Fetched once: an implicit fetch by name on every ticket costs a lookup under a lock.
const EVP_CIPHER* ticket_cipher() {
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
    return cipher;
}

int ticket_key(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
               int encrypt) {
    SSL_CTX* context = SSL_get_SSL_CTX(ssl);
    const auto* secret = static_cast<const TicketSecret*>(SSL_CTX_get_ex_data(context, context_index()));
    if (!secret || !ticket_cipher()) return -1;
    const std::time_t period = std::time(nullptr) / ticket_key_period_seconds;
    auto set_mac = [&](const TicketSecret::Keys& keys) {
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
        return EVP_MAC_init(mac, keys.hmac.data(), keys.hmac.size(), params) == 1;
    };
    if (encrypt) {
        const TicketSecret::Keys& keys = current_keys(*secret, period);
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(ticket_cipher())) != 1) return -1;
        std::memcpy(name, keys.name.data(), keys.name.size());
        if (EVP_EncryptInit_ex(cipher, ticket_cipher(), nullptr, keys.aes.data(), iv) != 1) return -1;
        return set_mac(keys) ? 1 : -1;
    }
    for (std::time_t age = 0; age < ticket_key_periods_accepted; ++age) {
        const TicketSecret::Keys keys = age == 0 ? current_keys(*secret, period) : secret->keys(period - age);
        if (std::memcmp(name, keys.name.data(), keys.name.size()) != 0) continue;
        if (EVP_DecryptInit_ex(cipher, ticket_cipher(), nullptr, keys.aes.data(), iv) != 1) return -1;
        if (!set_mac(keys)) return -1;
        // 2: accepted, and renewed — the resumed connection gets a fresh ticket. Without it OpenSSL
        // sends none after a TLS 1.3 resumption, and a client that keeps one session (wrk, or
        // any client honouring RFC 8446's one use per ticket) makes a full handshake every
        // other connection.
        return 2;
    }
    return 0;  // an unknown or expired key: a full handshake
}

}  // namespace

ServerContext::ServerContext(ServerSettings settings, std::shared_ptr<const TicketSecret> tickets)
    : settings_(std::move(settings)),
      tickets_(tickets ? std::move(tickets) : std::make_shared<const TicketSecret>()),
      ktls_(kernel_tls_status()) {
    ERR_clear_error();
    context_ = SSL_CTX_new(TLS_server_method());
    if (!context_) throw ConfigError("TLS: " + take_error("cannot make a context"));
    try {
        const std::string& certificate = settings_.certificate;
        const std::string& key = settings_.key.empty() ? certificate : settings_.key;
        const std::string key_option = settings_.key.empty() ? "--tls-cert" : "--tls-key";
        require_readable("--tls-cert", certificate);
        if (!settings_.key.empty()) require_readable("--tls-key", key);

        SSL_CTX_set_min_proto_version(context_, TLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(context_, TLS1_3_VERSION);
        SSL_CTX_set_options(context_, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                          SSL_OP_IGNORE_UNEXPECTED_EOF);
        if (ktls_ == "on") SSL_CTX_set_options(context_, SSL_OP_ENABLE_KTLS);
        if (SSL_CTX_set_cipher_list(context_, intermediate_ciphers) != 1)
            throw ConfigError("TLS ciphers: " + take_error("none usable"));
        SSL_CTX_set_dh_auto(context_, 1);
        // Partial writes count every byte sent (sent grows as the records go), and a retried write
        // may come from a buffer that moved (a string that grew meanwhile).
        SSL_CTX_set_mode(context_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                       SSL_MODE_RELEASE_BUFFERS);
        // Read what the socket has, not a record header and then its body in two calls.
        SSL_CTX_set_read_ahead(context_, 1);

        // Resumption by stateless tickets only: a per-process session cache would resume only on
        // the worker that made the session.
        SSL_CTX_set_session_cache_mode(context_, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_timeout(context_, ticket_lifetime_seconds);
        SSL_CTX_set_ex_data(context_, context_index(), const_cast<TicketSecret*>(tickets_.get()));
        SSL_CTX_set_tlsext_ticket_key_evp_cb(context_, ticket_key);
        // Needed for resumption when client certificates are verified; any fixed value does.
        static const unsigned char session_context[] = "sockserv";
        SSL_CTX_set_session_id_context(context_, session_context, sizeof session_context - 1);

        std::string password;
        if (!settings_.password_file.empty()) {
            password = read_password(settings_.password_file);
            SSL_CTX_set_default_passwd_cb(context_, give_password);
            SSL_CTX_set_default_passwd_cb_userdata(context_, &password);
        } else {
            // Never prompt on the terminal: an encrypted key without a password file is an error.
            SSL_CTX_set_default_passwd_cb(context_, no_password);
        }
        if (SSL_CTX_use_certificate_chain_file(context_, certificate.c_str()) != 1)
            throw ConfigError("--tls-cert " + certificate + ": " + take_error("not a PEM certificate"));
        const bool key_loaded = SSL_CTX_use_PrivateKey_file(context_, key.c_str(), SSL_FILETYPE_PEM) == 1;
        SSL_CTX_set_default_passwd_cb(context_, nullptr);
        SSL_CTX_set_default_passwd_cb_userdata(context_, nullptr);
        if (!key_loaded) {
            const std::string why = take_error("no private key");
            std::string said = why;
            if (why.find("mismatch") != std::string::npos)
                said = "does not match the certificate in --tls-cert " + certificate;
            else if (why.find("interrupted or cancelled") != std::string::npos)
                said = "the key is encrypted: give its password with --tls-password-file";
            else if (why.find("decrypt") != std::string::npos)
                said = "cannot decrypt the key (wrong --tls-password-file)";
            throw ConfigError(key_option + " " + key + ": " + said);
        }
        if (SSL_CTX_check_private_key(context_) != 1)
            throw ConfigError(key_option + " " + key + ": does not match the certificate in --tls-cert " +
                              certificate + " (" + take_error("mismatch") + ")");

        if (!settings_.client_ca.empty()) {
            require_readable("--tls-client-ca", settings_.client_ca);
            if (SSL_CTX_load_verify_locations(context_, settings_.client_ca.c_str(), nullptr) != 1)
                throw ConfigError("--tls-client-ca " + settings_.client_ca + ": " + take_error("not PEM certificates"));
            STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings_.client_ca.c_str());
            if (!names) throw ConfigError("--tls-client-ca " + settings_.client_ca + ": no CA certificate in it");
            SSL_CTX_set_client_CA_list(context_, names);
            SSL_CTX_set_verify(context_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        }
        if (!settings_.alpn.empty()) {
            alpn_wire_ = alpn_wire(settings_.alpn);
            SSL_CTX_set_alpn_select_cb(context_, select_alpn, &alpn_wire_);
        }
    } catch (...) {
        SSL_CTX_free(context_);
        ERR_clear_error();
        throw;
    }
}

ServerContext::~ServerContext() { SSL_CTX_free(context_); }

std::shared_ptr<const ServerContext> ServerContext::reloaded() const {
    return std::make_shared<const ServerContext>(settings_, tickets_);
}

std::string ServerContext::describe() const {
    std::string text = "TLS 1.2-1.3";
    if (!settings_.client_ca.empty()) text.append(", client certificates required");
    text.append(", kTLS: ").append(ktls_);
    return text;
}

ClientContext::ClientContext(ClientSettings settings) : settings_(std::move(settings)) {
    ERR_clear_error();
    context_ = SSL_CTX_new(TLS_client_method());
    if (!context_) throw ConfigError("TLS: " + take_error("cannot make a context"));
    try {
        SSL_CTX_set_min_proto_version(context_, TLS1_2_VERSION);
        SSL_CTX_set_options(context_, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
        SSL_CTX_set_mode(context_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (settings_.ca_file.empty()) {
            if (SSL_CTX_set_default_verify_paths(context_) != 1)
                throw ConfigError("TLS: " + take_error("no system CA certificates"));
        } else {
            require_readable("--cacert", settings_.ca_file);
            if (SSL_CTX_load_verify_locations(context_, settings_.ca_file.c_str(), nullptr) != 1)
                throw ConfigError("--cacert " + settings_.ca_file + ": " + take_error("not PEM certificates"));
        }
        SSL_CTX_set_verify(context_, SSL_VERIFY_PEER, nullptr);
        if (!settings_.certificate.empty()) {
            const std::string& key = settings_.key.empty() ? settings_.certificate : settings_.key;
            SSL_CTX_set_default_passwd_cb(context_, no_password);
            if (SSL_CTX_use_certificate_chain_file(context_, settings_.certificate.c_str()) != 1 ||
                SSL_CTX_use_PrivateKey_file(context_, key.c_str(), SSL_FILETYPE_PEM) != 1 ||
                SSL_CTX_check_private_key(context_) != 1)
                throw ConfigError("client certificate " + settings_.certificate + ": " + take_error("unusable"));
        }
        if (!settings_.alpn.empty()) {
            const std::string wire = alpn_wire(settings_.alpn);
            SSL_CTX_set_alpn_protos(context_, reinterpret_cast<const unsigned char*>(wire.data()),
                                    static_cast<unsigned>(wire.size()));
        }
    } catch (...) {
        SSL_CTX_free(context_);
        ERR_clear_error();
        throw;
    }
}

ClientContext::~ClientContext() { SSL_CTX_free(context_); }

}  // namespace sockserv::tls
