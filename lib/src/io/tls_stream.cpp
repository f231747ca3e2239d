#include <sockserv/base/error.hpp>
#include <sockserv/io/tls_stream.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace sockserv::tls {

namespace {

// Files go out through SSL_write in chunks this large when the kernel cannot encrypt them: four
// full records per call. The buffer is the call's own, no larger than the file, and freed after
// it (not on a fiber's stack, and not kept by the connection: 9,000 idle connections would hold
// 64 KiB each).
constexpr std::size_t file_chunk = 64 * 1024;

// The call just said WANT_READ/WANT_WRITE (EAGAIN): on a fiber, straight to the engine's
// edge-triggered wait; elsewhere poll.
bool wait_for(int fd, int want, std::optional<WaitClock::time_point> deadline) {
    const bool reading = want == SSL_ERROR_WANT_READ;
    if (detail::Suspender* suspender = detail::fiber_suspender())
        return suspender->wait_fd(fd, reading ? detail::Readiness::readable : detail::Readiness::writable, deadline);
    return reading ? wait_readable(fd, deadline) : wait_writable(fd, deadline);
}

// Why a handshake failed, in a few words a log reader understands.
std::string handshake_failure(int error, int saved_errno) {
    if (error == SSL_ERROR_SYSCALL && saved_errno != 0) {
        ERR_clear_error();
        return std::generic_category().message(saved_errno);
    }
    const unsigned long code = ERR_peek_error();
    if (code != 0 && ERR_GET_LIB(code) == ERR_LIB_SSL) {
        const int reason = ERR_GET_REASON(code);
        if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST) {
            ERR_clear_error();
            return "plain HTTP, not TLS";
        }
    }
    if (code == 0 || error == SSL_ERROR_ZERO_RETURN || error == SSL_ERROR_SYSCALL) {
        ERR_clear_error();
        return "the peer closed the connection";
    }
    return take_error("handshake failed");
}

// The socket made non-blocking for the handshake (its deadline must hold in every mode, and a
// blocking read could outlast it), and put back as it was after.
class NonBlockingWhile {
public:
    explicit NonBlockingWhile(int fd) : fd_(fd), flags_(::fcntl(fd, F_GETFL)) {
        if (flags_ >= 0 && !(flags_ & O_NONBLOCK)) ::fcntl(fd_, F_SETFL, flags_ | O_NONBLOCK);
    }
    ~NonBlockingWhile() {
        if (flags_ >= 0 && !(flags_ & O_NONBLOCK)) ::fcntl(fd_, F_SETFL, flags_);
    }
    NonBlockingWhile(const NonBlockingWhile&) = delete;
    NonBlockingWhile& operator=(const NonBlockingWhile&) = delete;
    bool was_nonblocking() const noexcept { return flags_ >= 0 && (flags_ & O_NONBLOCK); }

private:
    int fd_;
    int flags_;
};

}  // namespace

TlsStream::TlsStream(ssl_st* ssl, Socket& socket) : ssl_(ssl), socket_(&socket) {}

TlsStream::~TlsStream() { SSL_free(ssl_); }

namespace {

void handshake(SSL* ssl, int fd, bool server, WaitClock::time_point deadline, std::chrono::milliseconds timeout) {
    for (;;) {
        ERR_clear_error();
        errno = 0;
        const int rc = server ? SSL_accept(ssl) : SSL_connect(ssl);
        const int saved_errno = errno;
        if (rc == 1) return;
        const int error = SSL_get_error(ssl, rc);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            if (wait_for(fd, error, deadline)) continue;
            ERR_clear_error();
            throw HandshakeError("no handshake within " + std::to_string(timeout.count()) + " ms", false);
        }
        if (error == SSL_ERROR_SYSCALL && saved_errno == EINTR) continue;
        // A peer that connects and goes without a byte — closing, or resetting as HAProxy's and
        // other balancers' connect checks do — was probing the port: normal life.
        const bool probe = BIO_number_read(SSL_get_rbio(ssl)) == 0 &&
                           (error == SSL_ERROR_ZERO_RETURN || error == SSL_ERROR_SYSCALL) &&
                           (saved_errno == 0 || saved_errno == ECONNRESET);
        if (probe) {
            ERR_clear_error();
            throw HandshakeError("closed before sending anything", true);
        }
        throw HandshakeError(handshake_failure(error, saved_errno), false);
    }
}

}  // namespace

std::unique_ptr<TlsStream> TlsStream::accept(const ServerContext& context, Socket& socket,
                                             WaitClock::time_point deadline) {
    ERR_clear_error();
    SSL* ssl = SSL_new(context.native());
    if (!ssl) throw HandshakeError(take_error("cannot make a TLS connection"), false);
    std::unique_ptr<TlsStream> stream(new TlsStream(ssl, socket));
    if (SSL_set_fd(ssl, socket.fd()) != 1) throw HandshakeError(take_error("SSL_set_fd failed"), false);
    NonBlockingWhile nonblocking(socket.fd());
    stream->nonblocking_ = nonblocking.was_nonblocking();
    handshake(ssl, socket.fd(), true, deadline, context.settings().handshake_timeout);
    stream->kernel_sends_ = BIO_get_ktls_send(SSL_get_wbio(ssl));
    return stream;
}

std::unique_ptr<TlsStream> TlsStream::connect(const ClientContext& context, Socket& socket,
                                              std::string_view server_name, WaitClock::time_point deadline) {
    ERR_clear_error();
    SSL* ssl = SSL_new(context.native());
    if (!ssl) throw HandshakeError(take_error("cannot make a TLS connection"), false);
    std::unique_ptr<TlsStream> stream(new TlsStream(ssl, socket));
    if (SSL_set_fd(ssl, socket.fd()) != 1) throw HandshakeError(take_error("SSL_set_fd failed"), false);
    const std::string name(server_name);
    unsigned char address[16];
    const bool is_ip = ::inet_pton(AF_INET, name.c_str(), address) == 1 || ::inet_pton(AF_INET6, name.c_str(), address) == 1;
    if (!name.empty()) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        const int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                             : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
        if (ok != 1) throw HandshakeError("bad server name \"" + name + "\"", false);
    }
    if (!is_ip && !name.empty()) SSL_set_tlsext_host_name(ssl, name.c_str());
    NonBlockingWhile nonblocking(socket.fd());
    stream->nonblocking_ = nonblocking.was_nonblocking();
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - WaitClock::now());
    handshake(ssl, socket.fd(), false, deadline, std::max(left, std::chrono::milliseconds{0}));
    return stream;
}

bool TlsStream::wait(int want, std::optional<WaitClock::time_point>& deadline, bool& deadline_known) {
    // A blocking socket has already waited inside OpenSSL's read or write, for the socket's own
    // time-out: EAGAIN from it means that time-out passed.
    if (!nonblocking_) return false;
    if (!deadline_known) {
        deadline = detail::socket_deadline(socket_->fd(), want == SSL_ERROR_WANT_READ ? SO_RCVTIMEO : SO_SNDTIMEO);
        deadline_known = true;
    }
    return wait_for(socket_->fd(), want, deadline);
}

std::size_t TlsStream::receive(void* buffer, std::size_t size) {
    std::optional<WaitClock::time_point> deadline;
    bool deadline_known = false;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        std::size_t n = 0;
        const int rc = SSL_read_ex(ssl_, buffer, size, &n);
        const int saved_errno = errno;
        if (rc == 1) return n;
        switch (const int error = SSL_get_error(ssl_, rc)) {
        case SSL_ERROR_ZERO_RETURN:
            return 0;
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            if (!nonblocking_ && saved_errno == EINTR) continue;
            if (wait(error, deadline, deadline_known)) continue;
            throw TimeoutError("recv timed out");
        case SSL_ERROR_SYSCALL:
            if (saved_errno == EINTR) continue;
            ERR_clear_error();
            if (saved_errno == 0) return 0;  // EOF without close_notify (the option says: as EOF)
            throw_errno(saved_errno, "recv");
        default:
            throw std::system_error(EPROTO, std::generic_category(), "TLS from the peer: " + take_error("bad record"));
        }
    }
}

void TlsStream::write(const char* data, std::size_t size, std::uint64_t& sent) {
    std::optional<WaitClock::time_point> deadline;
    bool deadline_known = false;
    while (size > 0) {
        ERR_clear_error();
        errno = 0;
        std::size_t n = 0;
        const int rc = SSL_write_ex(ssl_, data, size, &n);
        const int saved_errno = errno;
        if (rc == 1) {
            sent += n;
            data += n;
            size -= n;
            continue;
        }
        switch (const int error = SSL_get_error(ssl_, rc)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            if (!nonblocking_ && saved_errno == EINTR) continue;
            if (wait(error, deadline, deadline_known)) continue;
            throw TimeoutError("send to " + socket_->peer_address().to_string() + " timed out");
        case SSL_ERROR_SYSCALL:
            if (saved_errno == EINTR) continue;
            ERR_clear_error();
            throw_errno(saved_errno ? saved_errno : EPIPE, "send");
        case SSL_ERROR_ZERO_RETURN:
            throw_errno(EPIPE, "send");
        default:
            throw std::system_error(EPIPE, std::generic_category(), "TLS send: " + take_error("failed"));
        }
    }
}

void TlsStream::flush_held() {
    if (held_.empty()) return;
    std::uint64_t ignored = 0;  // counted when they were taken
    std::string held = std::move(held_);
    held_.clear();
    write(held.data(), held.size(), ignored);
}

void TlsStream::send_all(std::string_view data, bool more, std::uint64_t& sent) {
    if (more) {
        held_.append(data);
        sent += data.size();
        return;
    }
    // A head and a small body go out in one record (one write, one packet); a large body after
    // the head goes as it is, so the held bytes never grow to a body's size and stay so.
    constexpr std::size_t coalesce_below = 16 * 1024;
    if (!held_.empty() && data.size() < coalesce_below) {
        held_.append(data);
        const std::uint64_t before = held_.size() - data.size();
        std::uint64_t progress = 0;
        std::string held = std::move(held_);
        held_.clear();
        try {
            write(held.data(), held.size(), progress);
        } catch (...) {
            if (progress > before) sent += progress - before;
            throw;
        }
        sent += data.size();
        return;
    }
    flush_held();
    write(data.data(), data.size(), sent);
}

std::size_t TlsStream::send_file(int file_fd, std::uint64_t offset, std::size_t count, std::uint64_t& sent) {
    if (kernel_sends_) {
        flush_held();
        std::size_t done = 0;
        std::optional<WaitClock::time_point> deadline;
        bool deadline_known = false;
        while (done < count) {
            ERR_clear_error();
            errno = 0;
            const ossl_ssize_t n = SSL_sendfile(ssl_, file_fd, static_cast<off_t>(offset + done), count - done, 0);
            const int saved_errno = errno;
            if (n > 0) {
                done += static_cast<std::size_t>(n);
                sent += static_cast<std::uint64_t>(n);
                continue;
            }
            const int error = SSL_get_error(ssl_, static_cast<int>(n));
            if ((error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) && wait(error, deadline, deadline_known))
                continue;
            if (saved_errno == EINTR) continue;
            ERR_clear_error();
            if (n == 0) break;
            throw_errno(saved_errno ? saved_errno : EPIPE, "sendfile");
        }
        return done;
    }
    const std::size_t buffer_size = std::min(file_chunk, count);
    const std::unique_ptr<char[]> buffer(new char[buffer_size]);
    std::size_t done = 0;
    while (done < count) {
        const std::size_t want = std::min(buffer_size, count - done);
        const ssize_t got = ::pread(file_fd, buffer.get(), want, static_cast<off_t>(offset + done));
        if (got < 0) {
            if (errno == EINTR) continue;
            throw_errno("read");
        }
        if (got == 0) break;  // the file is shorter than it was: nothing more to send
        const std::string_view chunk(buffer.get(), static_cast<std::size_t>(got));
        send_all(chunk, false, sent);
        done += static_cast<std::size_t>(got);
    }
    flush_held();  // an empty file after a head sent with `more`
    return done;
}

bool TlsStream::wait_receivable(std::optional<WaitClock::time_point> deadline) {
    if (SSL_has_pending(ssl_)) return true;
    return wait_readable(socket_->fd(), deadline);
}

void TlsStream::finish() noexcept {
    if (finished_) return;
    finished_ = true;
    try {
        flush_held();
    } catch (...) {
        return;
    }
    // One try, without waiting: close_notify is a courtesy, and a peer that reads nothing must
    // not hold the connection open.
    ERR_clear_error();
    if (!nonblocking_) {
        const int flags = ::fcntl(socket_->fd(), F_GETFL);
        if (flags >= 0) ::fcntl(socket_->fd(), F_SETFL, flags | O_NONBLOCK);
        SSL_shutdown(ssl_);
        if (flags >= 0) ::fcntl(socket_->fd(), F_SETFL, flags);
    } else {
        SSL_shutdown(ssl_);
    }
    ERR_clear_error();
}

std::string TlsStream::alpn() const {
    const unsigned char* data = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_, &data, &length);
    return data ? std::string(reinterpret_cast<const char*>(data), length) : std::string();
}

std::string TlsStream::version() const { return SSL_get_version(ssl_); }

}  // namespace sockserv::tls
