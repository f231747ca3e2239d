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
    spec.default_mode_reason =
        "one event loop per CPU: here level with a hand-written epoll server on new connections and within 20% on "
        "ping-pong, and thousands of connections cost a page each";
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
