#pragma once
// serve<Transport, Handler>(options, state...): the run-time --mode mapped onto the compile-time
// compositions, written once for every app. SIGINT/SIGTERM stop the server gracefully (exit 0);
// a setup failure is one line on stderr (exit 1).
//
//   int main(int argc, char** argv) {
//       auto options = sockserv::cli::parse(argc, argv, "echo_server");
//       return sockserv::serve<sockserv::TCPServer, Echo>(options);
//   }

#include <sockserv/cli.hpp>
#include <sockserv/forking.hpp>
#include <sockserv/signals.hpp>
#include <sockserv/tcp_server.hpp>
#include <sockserv/threading.hpp>
#include <sockserv/udp_server.hpp>

#include <exception>
#include <iostream>

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

}  // namespace detail

template <template <class> class Transport, class Handler, class... State>
int serve(const cli::Options& options, State&... state) {
    constexpr bool want_unix = detail::is_unix_transport<Transport>;
    switch (options.mode) {
    case Mode::sync:
        return detail::run<Transport<Handler>>(options, want_unix, state...);
    case Mode::thread:
        return detail::run<ThreadingMixIn<Transport<Handler>>>(options, want_unix, state...);
    case Mode::fork:
        return detail::run<ForkingMixIn<Transport<Handler>>>(options, want_unix, state...);
    }
    return 2;
}

}  // namespace sockserv
