// echo_server: the smallest complete sockserv program. TCP or UDP (or Unix), any mode.
//   echo_server --port 9999 --mode fork
//   echo_server --udp --unix /tmp/echo.sock

#include "echo_handlers.hpp"

#include <sockserv/sockserv.hpp>

using echo::DatagramEcho;
using echo::StreamEcho;

int main(int argc, char** argv) {
    sockserv::cli::Spec spec;
    spec.default_port = 9999;
    spec.summary = "Echoes every line (TCP, Unix stream) or datagram (--udp) back to its sender.";
    spec.default_mode = sockserv::Mode::event;
    // An echo costs the server less than it costs its clients: one loop keeps up with a core's worth
    // of them without ever sleeping, where two loops in one process spread the connections over
    // two threads that each sleep and wake per batch (scripts/bench/echo.sh: 0.75-0.94x of the
    // hand-written epoll server on ping-pong here, one loop 0.95-0.98x; both level on new
    // connections). More loops pay once the clients outrun a core.
    spec.mode_defaults.event.loops = 1;
    spec.default_mode_reason =
        "one event loop: here within 5% of a hand-written 2-process epoll server on ping-pong and level on new "
        "connections (two loops measured 0.75-0.94x: an echo is too cheap to be worth a second thread waking up; raise --loops "
        "when clients outrun a core), and thousands of connections cost a page each";
    spec.flag("udp", "serve datagrams instead of a stream");
    auto options = sockserv::cli::parse(argc, argv, "echo_server", std::move(spec));
    // The client speaks first: in event mode a connection holds no stack until its first line.
    options.mode_settings.event.start_on_first_bytes = true;

    const bool udp = options.values.has("udp");
    const bool local = options.unix_socket();
    if (udp) {
        return local ? sockserv::serve<sockserv::UnixDatagramServer, DatagramEcho>(options)
                    : sockserv::serve<sockserv::UDPServer, DatagramEcho>(options);
    }
    return local ? sockserv::serve<sockserv::UnixStreamServer, StreamEcho>(options)
                : sockserv::serve<sockserv::TCPServer, StreamEcho>(options);
}
