#include <sockserv/program/serve.hpp>
#include <sockserv/base/log.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>

namespace sockserv::detail {

void announce(const BaseServer& server, const cli::Options& options) {
    std::string tls;
    if (options.tls) tls = "; " + options.tls->describe();
    log(options.program, ": serving on ", server.server_address().to_string(), " (mode: ", to_string(options.mode),
        tls, ")");
}

PoolConfig ReloadableTls::pool_config(const cli::Options& options) {
    PoolConfig config = options.pool_config();
    if (context_) config.before_reload = [this] { return reload(); };
    return config;
}

bool ReloadableTls::reload() {
    try {
        context_ = context_->reloaded();
        log(program_, ": reload: TLS certificate and key read again");
        return true;
    } catch (const tls::ConfigError& error) {
        log(program_, ": reload refused: ", error.what(), "; the workers serve on with the certificate they have");
        return false;
    }
}

ServerConfig worker_config(const cli::Options& options, const WorkerPool::Worker& worker, int socket_fd) {
    ServerConfig config = options.server_config();
    config.inherited_socket = socket_fd;
    config.request_numbers = worker.request_numbers;
    config.request_tally = worker.request_tally;
    config.max_requests = worker.max_requests;
    // Long enough for a kept-alive client's next request to arrive and be answered with the
    // connection closed after it; short next to any graceful timeout.
    config.close_grace = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), options.graceful_timeout);
    return config;
}

ServerConfig metrics_config(const cli::Options& options, int inherited_socket) {
    ServerConfig config;
    config.inherited_socket = inherited_socket;
    config.verbose = options.verbose;
    config.stop_timeout = std::chrono::seconds(1);
    config.dual_stack = options.dual_stack;
    // A scrape is one short request: a handful at once is plenty, and a flood of connections to
    // the listener waits in its backlog instead of taking threads, children or fibers from the
    // program's clients.
    config.thread.max_threads = 8;
    config.fork.max_children = 8;
    config.event = options.mode_settings.event;
    config.request_queue_size = 64;
    return config;
}

void announce_metrics(const BaseServer& server, const cli::Options& options) {
    const Address& at = server.server_address();
    if (at.is_unix())
        log(options.program, ": metrics on unix socket ", at.path(), " (GET /metrics, GET /status)");
    else
        log(options.program, ": metrics on http://", at.to_string(), "/metrics (and /status)");
}

std::unique_ptr<BaseServer> bind_metrics(const cli::Options& options) {
    if (!options.observability) return nullptr;
    const Address& at = options.observability->listen_address();
    ServerConfig config = metrics_config(options, -1);
    std::unique_ptr<BaseServer> server;
    if (at.is_unix()) server = std::make_unique<UnixStreamServer<BaseRequestHandler>>(at, config);
    else server = std::make_unique<TCPServer<BaseRequestHandler>>(at, config);
    announce_metrics(*server, options);
    return server;
}

Endpoint endpoint(const cli::Options& options, bool want_unix, bool datagram, ServerConfig config) {
    const PassedSocket* passed = choose_passed_socket(options.passed_sockets, datagram, want_unix);
    if (passed == nullptr) return {options.address(want_unix), std::move(config)};
    config.inherited_socket = passed->fd;
    // The server checks the socket's kind again and reads its address back (server_bind).
    return {Socket::local_address_of(passed->fd), std::move(config)};
}

void report_setup_failure(const cli::Options& options, const std::exception& error) {
    log(options.program, ": ", error.what());
}

}  // namespace sockserv::detail
