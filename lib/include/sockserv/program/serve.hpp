#pragma once
// serve<Transport, Handler>(options, state...): the run-time --mode mapped onto the compile-time
// compositions of modes.hpp's table, written once for every app. SIGINT/SIGTERM stop the server gracefully (exit 0);
// a setup failure is one line on stderr (exit 1). With --workers N (N > 1) the process becomes a
// master that binds and supervises N workers, each serving in --mode (worker_pool.hpp). Sockets
// passed by systemd (passed_sockets.hpp) are served instead of binding --host/--port/--unix.
//
//   int main(int argc, char** argv) {
//       auto options = sockserv::cli::parse(argc, argv, "echo_server");
//       return sockserv::serve<sockserv::TCPServer, Echo>(options);
//   }

#include <sockserv/process/child_processes.hpp>
#include <sockserv/program/cli.hpp>
#include <sockserv/modes/modes.hpp>
#include <sockserv/server/signals.hpp>
#include <sockserv/server/tcp_server.hpp>
#include <sockserv/server/udp_server.hpp>
#include <sockserv/process/worker_pool.hpp>
#include <sockserv/program/observability.hpp>

#include <exception>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

namespace sockserv {

namespace detail {

template <template <class> class Transport>
constexpr bool is_unix_transport =
    std::is_same_v<Transport<BaseRequestHandler>, UnixStreamServer<BaseRequestHandler>> ||
    std::is_same_v<Transport<BaseRequestHandler>, UnixDatagramServer<BaseRequestHandler>>;

void announce(const BaseServer& server, const cli::Options& options);
// The app's banner (options.on_ready), or announce()'s line.
inline void say_ready(const BaseServer& server, const cli::Options& options) {
    if (options.on_ready) options.on_ready(server, options);
    else announce(server, options);
}
void report_setup_failure(const cli::Options& options, const std::exception& error);

// Where a server of this kind serves: the socket systemd passed for it (its address read back
// from it), or the command line's address to bind.
struct Endpoint {
    Address address;
    ServerConfig config;
};
Endpoint endpoint(const cli::Options& options, bool want_unix, bool datagram, ServerConfig config);

// ---- --metrics: the listener, one more server in the program's mode (observability.hpp) ----

// Its config: nothing of what concerns the program's clients (no PROXY header, no TLS), its own
// requests not counted among the program's, and few at once (it must never compete with them).
ServerConfig metrics_config(const cli::Options& options, int inherited_socket);
// Says where it serves, once bound.
void announce_metrics(const BaseServer& server, const cli::Options& options);

// The listener in mode Policy: TCP or Unix, as --metrics says; empty without it. Binds, or serves
// a socket a pool's master bound (inherited). In event mode it runs in thread mode, on a thread of
// its own, not on the program's loops: it must answer exactly when they are at their connection
// limit or blocked by a handler (what sockserv_event_loop_longest_round_seconds is there to show).
template <template <class> class Policy>
class MetricsServers {
    template <class Transport>
    using In = std::conditional_t<requires(Policy<Transport>& a) { a.share_loops_with(a); }, ThreadingMixIn<Transport>,
                                  Policy<Transport>>;

public:
    std::unique_ptr<BaseServer> server;
    BaseServer* get() const noexcept { return server.get(); }

    explicit MetricsServers(const cli::Options& options, int inherited = -1) {
        if (!options.observability) return;
        const Address at = inherited >= 0 ? Socket::local_address_of(inherited) : options.observability->listen_address();
        const ServerConfig config = metrics_config(options, inherited);
        if (at.is_unix())
            server = std::make_unique<In<UnixStreamServer<MetricsHandler>>>(at, *options.observability, config);
        else
            server = std::make_unique<In<TCPServer<MetricsHandler>>>(at, *options.observability, config);
        if (inherited < 0) announce_metrics(*server, options);
    }
};

// A pool's master binds the listener before forking (plain transport: it serves nothing).
std::unique_ptr<BaseServer> bind_metrics(const cli::Options& options);

// Serves first and the others (null ones skipped) until first is asked to stop, then closes them.
// In event mode a server of the same mode shares the first's loops (no thread of its own); any
// other serves on a thread of its own, which closes it: in fork mode its children die with the
// thread that forked them (PR_SET_PDEATHSIG), so it stays until they are done.
template <class First, class... Others>
void serve_all(First& first, Others*... others) {
    const auto share = [&first](auto* other) {
        if constexpr (requires { other->share_loops_with(first); }) {
            if (other) other->share_loops_with(first);
            return true;
        } else {
            return false;
        }
    };
    const bool shared[] = {false, share(others)...};
    std::vector<std::thread> threads;
    std::size_t index = 0;
    const auto start = [&](auto* server) {
        if (shared[++index] || !server) return;
        threads.emplace_back([server] {
            detail::children_die_with_this_thread(true);
            server->serve_forever();
            server->server_close();
        });
    };
    (start(others), ...);
    first.serve_forever();
    index = 0;
    const auto stop = [&](auto* server) {
        if (!server) return ++index, void();
        if (shared[++index]) server->server_close();
        else server->shutdown();  // from another thread: returns once its loop has
    };
    (stop(others), ...);
    for (std::thread& thread : threads) thread.join();
    first.server_close();
}

template <template <class> class Policy, class Server, class... State>
int run(const cli::Options& options, bool want_unix, State&... state) {
    try {
        Endpoint at = endpoint(options, want_unix, Server::is_datagram, options.server_config());
        Server server(at.address, state..., at.config);
        MetricsServers<Policy> metrics(options);
        signals::StopOnSignals stop(server);
        say_ready(server, options);
        serve_all(server, metrics.get());
        return 0;
    } catch (const std::exception& error) {
        report_setup_failure(options, error);
        return 1;
    }
}

// Two servers on one port number (say a protocol over UDP and over TCP): the first binds the
// command line's address; the second the same host and the first's real port. With port 0 the
// kernel's choice for the first may be taken for the second: then both are made again. Extra
// servers of the first kind (`more_first`) join the first's port with SO_REUSEPORT.
template <class First, class Second, class... State>
std::pair<std::vector<std::unique_ptr<First>>, std::unique_ptr<Second>> bind_pair(const cli::Options& options,
                                                                                 ServerConfig config,
                                                                                 std::size_t more_first,
                                                                                 State&... state) {
    std::vector<std::unique_ptr<First>> firsts;
    std::unique_ptr<Second> second;
    if (!options.passed_sockets.empty()) {
        // systemd bound both (and chose the port): one of each, no retry, no extra sockets.
        Endpoint first_at = endpoint(options, false, First::is_datagram, config);
        Endpoint second_at = endpoint(options, false, Second::is_datagram, config);
        firsts.push_back(std::make_unique<First>(first_at.address, state..., first_at.config));
        second = std::make_unique<Second>(second_at.address, state..., second_at.config);
        return {std::move(firsts), std::move(second)};
    }
    ServerConfig first_config = config;
    if (more_first > 0) first_config.allow_reuse_port = true;
    for (int attempt = 0; !second; ++attempt) {
        firsts.clear();
        firsts.push_back(std::make_unique<First>(options.address(false), state..., first_config));
        const Address& bound = firsts.front()->server_address();
        try {
            second = std::make_unique<Second>(Address(bound.host(), bound.port()), state..., config);
        } catch (const std::system_error& error) {
            if (error.code() != std::errc::address_in_use || options.port != 0 || attempt >= 20) throw;
        }
    }
    const Address bound = firsts.front()->server_address();
    for (std::size_t i = 0; i < more_first; ++i)
        firsts.push_back(std::make_unique<First>(Address(bound.host(), bound.port()), state..., first_config));
    return {std::move(firsts), std::move(second)};
}

template <template <class> class Policy, class First, class Second, class... State>
int run_pair(const cli::Options& options, State&... state) {
    try {
        auto servers = bind_pair<First, Second>(options, options.server_config(), 0, state...);
        First& first = *servers.first.front();
        Second& second = *servers.second;
        MetricsServers<Policy> metrics(options);
        signals::StopOnSignals stop(first);
        say_ready(first, options);
        serve_all(first, &second, metrics.get());
        return 0;
    } catch (const std::exception& error) {
        report_setup_failure(options, error);
        return 1;
    }
}

// ---- --workers N: a master that binds, and N workers that serve (worker_pool.hpp) ----

// A worker's server: the master's socket, the pool's numbering and tally, its --max-requests.
// The grace lets a reload drain kept-alive connections without cutting a request in flight.
ServerConfig worker_config(const cli::Options& options, const WorkerPool::Worker& worker, int socket_fd);

// Datagram servers on an IP address get one socket per worker, all on the port (SO_REUSEPORT):
// the kernel keeps each client's datagrams on one of them, so one worker sees a client's
// datagrams in order (chat's order, TFTP's repeat filter need it), and a replacement worker takes
// the socket of its slot with what queued there. Streams share one listener: a worker that is
// busy (sync mode) leaves the next client to an idle one, where a socket of its own would hold
// the client in its backlog.
// Sockets systemd passed are shared by every worker, as a stream listener is.
template <class Server>
bool socket_per_worker(const cli::Options& options, bool want_unix) {
    return Server::is_datagram && !want_unix && options.passed_sockets.empty();
}

template <class Bound>
const Bound& socket_of(const std::vector<std::unique_ptr<Bound>>& bound, const WorkerPool::Worker& worker) {
    return bound.size() == 1 ? *bound.front() : *bound[worker.slot];
}

// The master's TLS context, read again on SIGHUP (a reload's new workers serve with the new one);
// a file that no longer loads keeps the old workers serving and says why.
class ReloadableTls {
public:
    explicit ReloadableTls(const cli::Options& options) : program_(options.program), context_(options.tls) {}
    const std::shared_ptr<const tls::ServerContext>& context() const noexcept { return context_; }
    /// Installs reload() as the pool's before_reload.
    PoolConfig pool_config(const cli::Options& options);
    bool reload();

private:
    std::string program_;
    std::shared_ptr<const tls::ServerContext> context_;
};

template <template <class> class Policy, class Bound, class Server, class... State>
int run_workers(const cli::Options& options, bool want_unix, State&... state) {
    try {
        // The master binds with the bare transport (no mode: it serves nothing).
        std::vector<std::unique_ptr<Bound>> bound;
        Endpoint first = endpoint(options, want_unix, Bound::is_datagram, options.server_config());
        ServerConfig& config = first.config;
        const bool per_worker = socket_per_worker<Bound>(options, want_unix);
        if (per_worker) config.allow_reuse_port = true;
        bound.push_back(std::make_unique<Bound>(first.address, state..., config));
        const Address at = bound.front()->server_address();
        for (std::size_t i = 1; per_worker && i < options.workers; ++i)
            bound.push_back(std::make_unique<Bound>(Address(at.host(), at.port()), state..., config));
        ReloadableTls tls(options);
        const std::unique_ptr<BaseServer> metrics_socket = bind_metrics(options);
        WorkerPool pool(tls.pool_config(options));
        say_ready(*bound.front(), options);
        return pool.run([&](const WorkerPool::Worker& worker) {
            const Bound& socket = socket_of(bound, worker);
            ServerConfig config = worker_config(options, worker, socket.fileno());
            config.tls = tls.context();
            Server server(socket.server_address(), state..., config);
            MetricsServers<Policy> metrics(options, metrics_socket ? metrics_socket->fileno() : -1);
            signals::StopOnSignals stop(server, {SIGTERM});
            worker.ready();
            serve_all(server, metrics.get());
            return 0;
        });
    } catch (const std::exception& error) {
        report_setup_failure(options, error);
        return 1;
    }
}

template <template <class> class Policy, class BoundFirst, class BoundSecond, class First, class Second, class... State>
int run_pair_workers(const cli::Options& options, State&... state) {
    try {
        const std::size_t more = socket_per_worker<BoundFirst>(options, false) ? options.workers - 1 : 0;
        auto bound = bind_pair<BoundFirst, BoundSecond>(options, options.server_config(), more, state...);
        const std::vector<std::unique_ptr<BoundFirst>>& firsts = bound.first;
        const BoundSecond& shared_listener = *bound.second;
        ReloadableTls tls(options);
        const std::unique_ptr<BaseServer> metrics_socket = bind_metrics(options);
        WorkerPool pool(tls.pool_config(options));
        say_ready(*firsts.front(), options);
        return pool.run([&](const WorkerPool::Worker& worker) {
            const BoundFirst& own = socket_of(firsts, worker);
            ServerConfig first_config = worker_config(options, worker, own.fileno());
            ServerConfig other_config = worker_config(options, worker, shared_listener.fileno());
            first_config.tls = other_config.tls = tls.context();
            First first(own.server_address(), state..., first_config);
            Second other(shared_listener.server_address(), state..., other_config);
            MetricsServers<Policy> metrics(options, metrics_socket ? metrics_socket->fileno() : -1);
            signals::StopOnSignals stop(first, {SIGTERM});
            worker.ready();
            serve_all(first, &other, metrics.get());
            return 0;
        });
    } catch (const std::exception& error) {
        report_setup_failure(options, error);
        return 1;
    }
}

}  // namespace detail

/// Two servers in one program, on the same port number, in the same --mode: `TransportA<HandlerA>`
/// and `TransportB<HandlerB>` (e.g. UDPServer and TCPServer), sharing the state. The second serves
/// on a thread of its own; SIGINT/SIGTERM stop both. The port printed is the one both use.
template <template <class> class TransportA, class HandlerA, template <class> class TransportB, class HandlerB,
          class... State>
int serve_pair(const cli::Options& options, State&... state) {
    return with_mode(options.mode, [&]<template <class> class Policy>() {
        if (options.workers > 1)
            return detail::run_pair_workers<Policy, TransportA<HandlerA>, TransportB<HandlerB>, Policy<TransportA<HandlerA>>,
                                            Policy<TransportB<HandlerB>>>(options, state...);
        return detail::run_pair<Policy, Policy<TransportA<HandlerA>>, Policy<TransportB<HandlerB>>>(options, state...);
    });
}

template <template <class> class Transport, class Handler, class... State>
int serve(const cli::Options& options, State&... state) {
    constexpr bool want_unix = detail::is_unix_transport<Transport>;
    return with_mode(options.mode, [&]<template <class> class Policy>() {
        if (options.workers > 1)
            return detail::run_workers<Policy, Transport<Handler>, Policy<Transport<Handler>>>(options, want_unix, state...);
        return detail::run<Policy, Policy<Transport<Handler>>>(options, want_unix, state...);
    });
}

}  // namespace sockserv
