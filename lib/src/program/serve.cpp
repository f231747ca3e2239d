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
