#pragma once
// serve<Transport, Handler>(options, state...): the run-time --mode mapped onto the compile-time
// compositions of modes.hpp's table, written once for every app. SIGINT/SIGTERM stop the server gracefully (exit 0);
// a setup failure is one line on stderr (exit 1).
//
//   int main(int argc, char** argv) {
//       auto options = sockserv::cli::parse(argc, argv, "echo_server");
//       return sockserv::serve<sockserv::TCPServer, Echo>(options);
//   }

#include <sockserv/cli.hpp>
#include <sockserv/modes.hpp>
#include <sockserv/signals.hpp>
#include <sockserv/tcp_server.hpp>
#include <sockserv/udp_server.hpp>

#include <exception>
#include <iostream>
#include <memory>
#include <thread>

namespace sockserv {

namespace detail {

template <template <class> class Transport>
constexpr bool is_unix_transport =
    std::is_same_v<Transport<BaseRequestHandler>, UnixStreamServer<BaseRequestHandler>> ||
    std::is_same_v<Transport<BaseRequestHandler>, UnixDatagramServer<BaseRequestHandler>>;

void announce(const BaseServer& server, const cli::Options& options);
void report_setup_failure(const cli::Options& options, const std::exception& error);

template <class Server, class... State>
int run(const cli::Options& options, bool want_unix, State&... state) {
    try {
        Server server(options.address(want_unix), state..., options.server_config());
        signals::StopOnSignals stop(server);
        if (options.on_ready) options.on_ready(server, options);
        else announce(server, options);
        server.serve_forever();
        server.server_close();
        return 0;
    } catch (const std::exception& error) {
        report_setup_failure(options, error);
        return 1;
    }
}

// Two servers on one port number (say a protocol over UDP and over TCP): the first binds the
// command line's address; the second the same host and the first's real port. With port 0 the
// kernel's choice for the first may be taken for the second: then both are made again.
template <class First, class Second, class... State>
int run_pair(const cli::Options& options, State&... state) {
    try {
        std::unique_ptr<First> first;
        std::unique_ptr<Second> second;
        for (int attempt = 0; !second; ++attempt) {
            first = std::make_unique<First>(options.address(false), state..., options.server_config());
            const Address& bound = first->server_address();
            try {
                second = std::make_unique<Second>(Address(bound.host(), bound.port()), state..., options.server_config());
            } catch (const std::system_error& error) {
                if (error.code() != std::errc::address_in_use || options.port != 0 || attempt >= 20) throw;
                first.reset();
            }
        }
        signals::StopOnSignals stop(*first);
        if (options.on_ready) options.on_ready(*first, options);
        else announce(*first, options);
        if constexpr (requires { second->share_loops_with(*first); }) {
            // Event mode: both servers on the first's loops, no thread of their own.
            second->share_loops_with(*first);
            first->serve_forever();
            second->server_close();
            first->server_close();
            return 0;
        }
        std::thread second_loop([&] { second->serve_forever(); });
        first->serve_forever();
        second->shutdown();  // from another thread: returns once the second loop has
        second_loop.join();
        second->server_close();
        first->server_close();
        return 0;
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
        return detail::run_pair<Policy<TransportA<HandlerA>>, Policy<TransportB<HandlerB>>>(options, state...);
    });
}

template <template <class> class Transport, class Handler, class... State>
int serve(const cli::Options& options, State&... state) {
    constexpr bool want_unix = detail::is_unix_transport<Transport>;
    return with_mode(options.mode, [&]<template <class> class Policy>() {
        return detail::run<Policy<Transport<Handler>>>(options, want_unix, state...);
    });
}

}  // namespace sockserv
