#include <sockserv/server/base_server.hpp>
#include <sockserv/base/error.hpp>
#include <sockserv/base/log.hpp>
#include <sockserv/server/signals.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <new>
#include <stdexcept>
#include <string>

namespace sockserv {

namespace {

// Requests handled per wake-up before polling again (and running service_actions): amortises poll()
// under a burst, and lets a burst's work be batched in service_actions (the chat flushes its
// outboxes there: 16 measured 25,000 chat messages/s without loss, 64 measured 40,000). A shutdown
// is still seen between any two requests.
constexpr int max_requests_per_wakeup = 64;

std::string describe(const std::exception_ptr& error) {
    try {
        if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
    return "no exception";
}

// A duplicate of a socket someone else made (config.inherited_socket), checked against what the
// transport expects: serving a UDP socket as TCP would fail later, and less clearly.
Socket adopt(int fd, const Address& address, int socket_type) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) throw_errno("inherited socket " + std::to_string(fd));
    Socket socket{UniqueFd(copy)};
    int type = 0;
    int family = 0;
    socklen_t length = sizeof type;
    if (::getsockopt(copy, SOL_SOCKET, SO_TYPE, &type, &length) != 0)
        throw_errno("inherited fd " + std::to_string(fd) + " is not a socket");
    length = sizeof family;
    if (::getsockopt(copy, SOL_SOCKET, SO_DOMAIN, &family, &length) != 0) throw_errno("getsockopt SO_DOMAIN");
    const bool family_fits = address.is_unix() ? family == AF_UNIX : (family == AF_INET || family == AF_INET6);
    if (type != socket_type || !family_fits)
        throw std::invalid_argument("inherited socket " + std::to_string(fd) + " is a " +
                                    (family == AF_UNIX ? "Unix" : "inet") + (type == SOCK_STREAM ? " stream" : " datagram") +
                                    " socket; this server needs a" + (address.is_unix() ? " Unix" : "n inet") +
                                    (socket_type == SOCK_STREAM ? " stream" : " datagram") + " socket");
    return socket;
}

int to_poll_timeout(std::optional<std::chrono::milliseconds> timeout) {
    if (!timeout) return -1;
    return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(timeout->count(), 0, 1 << 30));
}

}  // namespace

BaseServer::BaseServer(Address server_address, ServerConfig config, int socket_type)
    : server_address_(std::move(server_address)),
      config_(std::move(config)),
      socket_type_(socket_type),
      socket_(config_.inherited_socket >= 0 ? adopt(config_.inherited_socket, server_address_, socket_type)
                                            : Socket(server_address_.family(), socket_type)),
      owner_pid_(::getpid()) {
    signals::ignore_sigpipe();
    void* page = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) throw_errno("mmap");
    static_assert(std::atomic<int>::is_always_lock_free, "the shared shutdown flag needs lock-free atomics");
    shared_ = new (page) Shared{};
}

BaseServer::~BaseServer() {
    BaseServer::server_close();
    ::munmap(shared_, sizeof(Shared));
}

bool BaseServer::in_owner_process() const noexcept { return ::getpid() == owner_pid_; }

void BaseServer::server_bind() {
    if (config_.inherited_socket >= 0) {
        // Bound already (by a pool's master, or systemd): only read back where.
        server_address_ = socket_.local_address();
        socket_.set_nonblocking(true);
        return;
    }
    const bool inet = server_address_.is_inet();
    const int on = 1;
    if (inet && socket_type_ == SOCK_STREAM && config_.allow_reuse_address)
        socket_.set_option(SOL_SOCKET, SO_REUSEADDR, on);
    if (inet && config_.allow_reuse_port) socket_.set_option(SOL_SOCKET, SO_REUSEPORT, on);
    if (server_address_.family() == AF_INET6) {
        const int v6only = config_.dual_stack ? 0 : 1;
        socket_.set_option(IPPROTO_IPV6, IPV6_V6ONLY, v6only);
    }
    socket_.bind(server_address_);
    if (server_address_.is_unix()) {
        const std::string path = server_address_.path();
        if (!path.empty() && path[0] != '\0') bound_path_ = path;
    } else {
        server_address_ = socket_.local_address();  // port 0 -> the port the kernel chose
    }
    // The loop only reads after poll() says so; non-blocking makes a request that vanished in
    // between (a reset connection, a datagram taken by a sibling) cost nothing instead of a hang.
    socket_.set_nonblocking(true);
}

void BaseServer::server_close() {
    if (closed_) return;
    closed_ = true;
    shared_->stopping.store(1);
    socket_.close();
    // Only the process that bound the path removes it: a forked child closing its copy must not.
    if (!bound_path_.empty() && in_owner_process()) ::unlink(bound_path_.c_str());
}

namespace detail {
void require_family(const Address& address, bool want_unix, const char* kind) {
    if (want_unix ? !address.is_unix() : !address.is_inet())
        throw std::invalid_argument(std::string(kind) + " needs " +
                                    (want_unix ? "a Unix socket path" : "an IPv4 or IPv6 address") + ", not " +
                                    address.to_string());
}
}  // namespace detail

// ---- The lifecycle ----

void BaseServer::serve_forever() {
    {
        std::lock_guard lock(serving_mutex_);
        serving_ = true;
        serving_thread_ = std::this_thread::get_id();
    }
    if (!shutdown_requested()) shared_->stopping.store(0);
    struct Done {
        BaseServer& server;
        ~Done() {
            server.shared_->shutdown.store(0);
            {
                std::lock_guard lock(server.serving_mutex_);
                server.serving_ = false;
            }
            server.serving_done_.notify_all();
        }
    } done{*this};

    if (replaces_serving_loop()) return run_serving_loop();

    // Fork point alignment: the loop's frames, down to fork() and back, are written by the parent
    // (and by a child) right after every fork, and each stack page they touch is then a
    // copy-on-write fault, per request. Where the stack happened to start (ASLR, the size of the
    // environment) decided whether they straddled one page or two; starting the loop just below a
    // page boundary makes it one, always.
    constexpr std::uintptr_t page = 4096;
    constexpr std::uintptr_t headroom = 256;  // this frame's own locals below the frame address
    const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    void* gap = __builtin_alloca((here % page + headroom) % page);
    asm volatile("" : : "r"(gap) : "memory");  // keep the gap: nothing else uses it
    serve_until_shutdown();
}

void BaseServer::serve_until_shutdown() {
    while (!shutdown_requested()) {
        std::optional<std::chrono::milliseconds> timeout = config_.service_interval;
        for (const auto due : {accept_pause(), service_due()})
            if (due && (!timeout || *due < *timeout)) timeout = due;
        if (wait_for_request(timeout)) {
            for (int i = 0; i < max_requests_per_wakeup && !shutdown_requested() && accepting(); ++i)
                if (!handle_request_noblock() || !request_waiting()) break;
        }
        service_actions();
    }
}

bool BaseServer::handle_request() {
    using Clock = std::chrono::steady_clock;
    const auto deadline = config_.timeout ? std::optional(Clock::now() + *config_.timeout) : std::nullopt;
    for (;;) {
        std::optional<std::chrono::milliseconds> remaining;
        if (deadline) {
            remaining = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
            if (remaining->count() <= 0) {
                handle_timeout();
                return false;
            }
        }
        if (wait_for_request(remaining) && handle_request_noblock()) {
            service_actions();
            return true;
        }
        service_actions();  // woken by the waker (a child exited, say): keep waiting
    }
}

bool BaseServer::handle_request_noblock() {
    std::optional<Request> request = get_request();
    if (!request) return false;
    try {
        if (verify_request(*request)) {
            const std::uint64_t served = ++shared_->next_sequence;
            request->sequence = config_.request_numbers ? config_.request_numbers->fetch_add(1) : served - 1;
            if (config_.request_tally) config_.request_tally->fetch_add(1, std::memory_order_relaxed);
            if (config_.max_requests != 0 && served == config_.max_requests) request_shutdown();
            process_request(*request);
            return true;
        }
    } catch (...) {
        handle_error(*request, std::current_exception());
    }
    shutdown_request(*request);
    return true;
}

bool BaseServer::verify_request(Request&) { return true; }

bool BaseServer::request_waiting() {
    pollfd entry{socket_.fd(), POLLIN, 0};
    return ::poll(&entry, 1, 0) > 0;
}

void BaseServer::process_request(Request& request) {
    // With a stop_timeout, shutdown() from another thread may cut this handler's client off; the
    // record is cleared before the connection is closed, so a cut never hits a reused fd number.
    {
        struct Serving {
            BaseServer* server;
            ~Serving() {
                if (server) server->record_inline_connection(-1);
            }
        } serving{config_.stop_timeout && request.connection ? this : nullptr};
        if (serving.server) record_inline_connection(request.connection.fd());
        finish_request(request);
    }
    shutdown_request(request);
}

void BaseServer::record_inline_connection(int fd) {
    std::lock_guard lock(serving_mutex_);
    inline_connection_ = fd;
}

[[gnu::hot]] bool BaseServer::finish_request_guarded(Request& request) noexcept {
    try {
        finish_request(request);
        return true;
    } catch (...) {
        const std::exception_ptr error = std::current_exception();
        handle_error(request, error);
        return is_peer_gone(error);
    }
}

void BaseServer::handle_error(const Request& request, std::exception_ptr error) noexcept {
    if (!config_.verbose && is_peer_gone(error)) return;
    try {
        log("Exception occurred during processing of request from ", request.client_address.to_string(), ": ",
            describe(error));
    } catch (...) {
    }
}

void BaseServer::shutdown_request(Request& request) { close_request(request); }

void BaseServer::close_request(Request& request) { request.connection.close(); }

// ---- Stopping ----

void BaseServer::request_shutdown() noexcept {
    shared_->stopping.store(1);
    shared_->shutdown.store(1);
    waker_.notify();
}

void BaseServer::shutdown() {
    request_shutdown();
    std::unique_lock lock(serving_mutex_);
    // From the serving thread (a sync handler, or a forked child) waiting would deadlock.
    if (!serving_ || serving_thread_ == std::this_thread::get_id()) return;
    if (config_.stop_timeout && !serving_done_.wait_for(lock, *config_.stop_timeout, [this] { return !serving_; }) &&
        inline_connection_ >= 0)
        ::shutdown(inline_connection_, SHUT_RDWR);  // a sync handler blocked on its client
    serving_done_.wait(lock, [this] { return !serving_; });
}

bool BaseServer::shutdown_requested() const noexcept { return shared_->shutdown.load() != 0; }

bool BaseServer::stopping() const noexcept { return shared_->stopping.load(std::memory_order_relaxed) != 0; }

bool BaseServer::wait_for_request(std::optional<std::chrono::milliseconds> timeout) {
    // [0] the waker, [1] the socket (left out while not accepting: fd -1 is ignored by poll), then
    // the readers. On the stack while they fit, which is always but for a program with more than
    // 14 readers. Why not a member vector: after each fork() the parent's heap pages are
    // copy-on-write, and one written on every wake-up cost the fork-mode parent one page fault
    // per request more than a hand-written fork server takes; the stack page is faulted in after
    // a fork anyway.
    constexpr std::size_t inline_fds = 16;
    const std::size_t count = 2 + readers_.size();
    std::array<pollfd, inline_fds> inline_poll_fds;
    pollfd* fds = inline_poll_fds.data();
    if (count > inline_fds) {
        poll_fds_.resize(count);
        fds = poll_fds_.data();
    }
    fds[0] = {waker_.fd(), POLLIN, 0};
    fds[1] = {socket_ && accepting() ? socket_.fd() : -1, POLLIN, 0};
    for (std::size_t i = 0; i < readers_.size(); ++i) fds[2 + i] = {readers_[i].fd, POLLIN, 0};
    const int rc = ::poll(fds, count, to_poll_timeout(timeout));
    if (rc < 0) {
        if (errno == EINTR) return false;  // a signal; its handler used the waker if it mattered
        throw_errno("poll");
    }
    if (fds[0].revents & POLLIN) waker_.drain();
    constexpr short readable = POLLIN | POLLERR | POLLHUP;
    const bool socket_readable = fds[1].fd >= 0 && (fds[1].revents & readable) != 0;
    if (rc > 0 && !readers_.empty()) {
        // A callback may add or remove readers, so collect the ready fds before calling any.
        std::array<int, inline_fds> inline_ready;
        int* ready = inline_ready.data();
        if (count > inline_fds) {
            ready_readers_.resize(count);
            ready = ready_readers_.data();
        }
        std::size_t n = 0;
        for (std::size_t i = 2; i < count; ++i)
            if (fds[i].revents & readable) ready[n++] = fds[i].fd;
        for (std::size_t i = 0; i < n; ++i) run_reader(ready[i]);
    }
    return socket_readable;
}

void BaseServer::add_reader(int fd, std::function<void()> on_readable) {
    remove_reader(fd);
    readers_.push_back({fd, std::move(on_readable)});
    ++readers_version_;
}

void BaseServer::remove_reader(int fd) noexcept {
    if (std::erase_if(readers_, [fd](const Reader& reader) { return reader.fd == fd; }) > 0) ++readers_version_;
}

std::vector<int> BaseServer::reader_fds() const {
    std::vector<int> fds;
    for (const Reader& reader : readers_) fds.push_back(reader.fd);
    return fds;
}

void BaseServer::run_reader(int fd) noexcept {
    const auto reader = std::find_if(readers_.begin(), readers_.end(), [fd](const Reader& r) { return r.fd == fd; });
    if (reader == readers_.end()) return;  // removed by an earlier callback of this round
    try {
        // A copy: the callback may remove itself, destroying the stored function mid-call.
        const std::function<void()> callback = reader->on_readable;
        callback();
    } catch (...) {
        try {
            log("Exception in the reader of fd ", std::to_string(fd), ": ", describe(std::current_exception()));
        } catch (...) {
        }
    }
}

}  // namespace sockserv
